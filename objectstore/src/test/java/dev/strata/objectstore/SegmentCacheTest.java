package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SegmentCacheOptions;
import dev.strata.engine.segment.SegmentCacheStats;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The local segment cache over the bucket ({@code storage.cache_bytes}): a lazily restored data
 * directory reads a dataset larger than its cache exactly, fetching segments on demand and evicting
 * the least recently used, within the budget after every read; concurrent readers of one remote
 * segment share one download; a failed download is UNAVAILABLE for that read only; a segment not
 * yet uploaded is never evicted.
 */
class SegmentCacheTest extends BucketTest {
  private static final int BATCHES = 6;
  private static final int PER_BATCH = 300;

  /** What the source answered at its head: Get of every id, the scan, and the searches. */
  private record Expected(Manifest head, Map<String, DocumentVersion> gets, List<SegmentEntry> scan, Map<String, List<SearchHit>> searches) {}

  /** Loads {@link #BATCHES} flushed batches (overwrites and deletes included) and uploads them. */
  private Expected loadSource(String prefix) throws Exception {
    try (StrataEngine engine = TierHarness.openEngine(tmp.resolve("src-" + prefix));
        ObjectStorageTier tier = ObjectStorageTier.start(engine, s3.config(prefix))) {
      Fork main = engine.fork("main");
      Manifest head = null;
      for (int b = 0; b < BATCHES; b++) {
        TierHarness.writeBatch(main, b * PER_BATCH, PER_BATCH);
        if (b == 3) {
          TierHarness.writeBatch(main, 100, 50); // overwrites ids of batch 0
        }
        if (b == 4) {
          List<Mutation> deletes = new ArrayList<>();
          for (int i = 0; i < 4 * PER_BATCH; i += 11) {
            deletes.add(new Mutation.Delete(id(i)));
          }
          main.write("docs", deletes, Durability.SYNC);
        }
        head = TierHarness.flush(main);
      }
      tier.awaitUploaded(main.id(), head.getSeq()).get(60, TimeUnit.SECONDS);
      Map<String, DocumentVersion> gets = new HashMap<>();
      for (int i = 0; i < BATCHES * PER_BATCH + 10; i++) {
        gets.put(id(i), main.get("docs", id(i)));
      }
      PublishedSnapshot at = main.acquireHead();
      try {
        Map<String, List<SearchHit>> searches = new HashMap<>();
        for (String q : RestoreTest.QUERIES) {
          searches.put(q, main.search("docs", SearchQuery.of(q, 50), at).hits());
        }
        return new Expected(head, gets, main.scan("docs", "", 100_000, at), searches);
      } finally {
        at.release();
      }
    }
  }

  private static String id(int i) {
    return String.format("doc-%06d", i);
  }

  private static long totalBytes(Manifest m) {
    return m.getSegmentsList().stream().mapToLong(SegmentRef::getSizeBytes).sum();
  }

  /** A lazily restored copy of the source's head, opened with the cache over {@code source}. */
  private StrataEngine openLazy(String prefix, Path dir, long cacheBytes, ObjectStore source) throws Exception {
    SnapshotRestore.Report r = SnapshotRestore.restore(raw, prefix, dir, "main", null, LocalVfs.INSTANCE, true);
    assertThat(r.bytesDownloaded()).isZero();
    assertThat(dir.resolve("segments")).doesNotExist();
    return StrataEngine.open(dir, LocalVfs.INSTANCE, TierHarness.options()
        .segmentCache(SegmentCacheOptions.of(cacheBytes, new BucketSegmentSource(source, prefix, LocalVfs.INSTANCE)))
        .build());
  }

  /** The cache is within its budget once its evictions ran, by its stats and by the files on disk. */
  private static void assertWithinBudget(StrataEngine engine, long budget) throws Exception {
    SegmentStore store = engine.segments();
    assertThat(store.awaitCacheIdle(30_000)).isTrue();
    SegmentCacheStats st = store.cacheStats();
    assertThat(st.pinnedBytes()).isZero();
    assertThat(st.residentBytes()).as("resident bytes %s", st).isLessThanOrEqualTo(budget);
    assertThat(luceneBytesOnDisk(engine.dataDir())).as("Lucene files on disk").isLessThanOrEqualTo(budget);
  }

  private static long luceneBytesOnDisk(Path dataDir) throws IOException {
    Path segments = dataDir.resolve("segments");
    if (!Files.exists(segments)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(segments)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  @Test
  void readsADatasetLargerThanTheCacheExactlyWithinTheBudget() throws Exception {
    Expected want = loadSource("lazy");
    long total = totalBytes(want.head());
    long budget = total / 3;
    try (S3ObjectStore source = s3.client();
        StrataEngine engine = openLazy("lazy", tmp.resolve("lazy"), budget, source)) {
      assertWithinBudget(engine, budget);
      Fork main = engine.fork("main");
      assertThat(main.head().orElseThrow()).isEqualTo(want.head());
      for (int i = 0; i < BATCHES * PER_BATCH + 10; i++) {
        DocumentVersion e = want.gets().get(id(i));
        DocumentVersion a = main.get("docs", id(i));
        assertSameVersion(id(i), a, e);
        if (i % 97 == 0) {
          assertWithinBudget(engine, budget);
        }
      }
      // Reads in an order that defeats the LRU: every pass touches every segment again.
      for (int round = 0; round < 2; round++) {
        for (int b = BATCHES - 1; b >= 0; b--) {
          String id = id(b * PER_BATCH + 7 + round);
          assertSameVersion(id, main.get("docs", id), want.gets().get(id));
          assertWithinBudget(engine, budget);
        }
      }
      List<String> batchIds = new ArrayList<>();
      for (int i = 0; i < BATCHES * PER_BATCH; i += 13) {
        batchIds.add(id(i));
      }
      DocumentVersion[] batch = main.reader().get("docs", batchIds, null);
      for (int k = 0; k < batchIds.size(); k++) {
        assertSameVersion(batchIds.get(k), batch[k], want.gets().get(batchIds.get(k)));
      }
      assertWithinBudget(engine, budget);
      PublishedSnapshot at = main.acquireHead();
      try {
        List<SegmentEntry> scan = main.scan("docs", "", 100_000, at);
        assertThat(scan).extracting(SegmentEntry::id).containsExactlyElementsOf(want.scan().stream().map(SegmentEntry::id).toList());
        for (int k = 0; k < scan.size(); k++) {
          assertSameVersion(scan.get(k).id(), scan.get(k).version(), want.scan().get(k).version());
        }
        assertWithinBudget(engine, budget);
        for (int round = 0; round < 2; round++) { // the second round searches after evictions
          for (String q : RestoreTest.QUERIES) {
            List<SearchHit> hits = main.search("docs", SearchQuery.of(q, 50), at).hits();
            List<SearchHit> expected = want.searches().get(q);
            assertThat(hits).extracting(SearchHit::id).as(q).containsExactlyElementsOf(expected.stream().map(SearchHit::id).toList());
            assertThat(hits).extracting(SearchHit::score).as(q).containsExactlyElementsOf(expected.stream().map(SearchHit::score).toList());
            assertWithinBudget(engine, budget);
          }
        }
      } finally {
        at.release();
      }
      SegmentCacheStats st = engine.segments().cacheStats();
      assertThat(st.misses()).as("downloads %s", st).isGreaterThan(BATCHES);
      assertThat(st.evictions()).as("evictions %s", st).isGreaterThan(BATCHES);
      assertThat(st.downloadedBytes()).isGreaterThan(total);
      assertThat(st.downloadFailures()).isZero();
      assertThat(st.remoteSegments()).isPositive();
      assertThat(engine.verify()).isEmpty(); // fetches each segment again for its end-to-end check
      assertWithinBudget(engine, budget);
    }
    // Reopened: segments evicted before the close open as remote and are fetched again.
    try (S3ObjectStore source = s3.client();
        StrataEngine engine = StrataEngine.open(tmp.resolve("lazy"), LocalVfs.INSTANCE, TierHarness.options()
            .segmentCache(SegmentCacheOptions.of(budget, new BucketSegmentSource(source, "lazy", LocalVfs.INSTANCE)))
            .build())) {
      Fork main = engine.fork("main");
      for (int i = 0; i < BATCHES * PER_BATCH; i += 29) {
        assertSameVersion(id(i), main.get("docs", id(i)), want.gets().get(id(i)));
      }
      assertWithinBudget(engine, budget);
    }
  }

  @Test
  void concurrentReadersOfOneRemoteSegmentShareOneDownload() throws Exception {
    Expected want = loadSource("shared");
    List<String> bundleGets = new CopyOnWriteArrayList<>();
    try (FaultInjectingObjectStore source = new FaultInjectingObjectStore(s3.client());
        StrataEngine engine = openLazy("shared", tmp.resolve("shared"), 1, source)) {
      assertWithinBudget(engine, 1); // every segment evicted once its open-time pins were released
      source.failWhen(r -> {
        if (r.op().equals("GET") && r.key().endsWith(".bundle")) {
          bundleGets.add(r.key());
        }
        return false;
      });
      source.stallWhen(r -> r.op().equals("GET") && r.key().endsWith(".bundle"));
      Fork main = engine.fork("main");
      String id = id(5 * PER_BATCH + 42); // only in the newest segment
      ExecutorService readers = Executors.newFixedThreadPool(16);
      try {
        List<Future<DocumentVersion>> got = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
          got.add(readers.submit(() -> main.get("docs", id)));
        }
        assertThat(source.awaitStall(30_000)).isTrue();
        Thread.sleep(200); // let the other readers reach the download's future
        source.release();
        for (Future<DocumentVersion> f : got) {
          assertSameVersion(id, f.get(60, TimeUnit.SECONDS), want.gets().get(id));
        }
      } finally {
        readers.shutdownNow();
      }
      assertThat(bundleGets).hasSize(1);
      assertThat(bundleGets.get(0)).contains("/segments/" + want.head().getSegments(0).getSegmentId() + "-");
      assertWithinBudget(engine, 1);
    }
  }

  @Test
  void aFailedDownloadIsUnavailableForThatReadAndALaterReadSucceeds() throws Exception {
    Expected want = loadSource("failing");
    try (FaultInjectingObjectStore source = new FaultInjectingObjectStore(s3.client());
        StrataEngine engine = openLazy("failing", tmp.resolve("failing"), 1, source)) {
      assertWithinBudget(engine, 1);
      Fork main = engine.fork("main");
      String id = id(2 * PER_BATCH + 3);
      source.failWhen(r -> r.op().equals("GET") && r.key().endsWith(".bundle"));
      assertThatThrownBy(() -> main.get("docs", id))
          .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.UNAVAILABLE))
          .hasMessageContaining("is not on local disk and could not be fetched")
          .hasMessageContaining("injected failure");
      PublishedSnapshot at = main.acquireHead();
      try {
        assertThatThrownBy(() -> main.search("docs", SearchQuery.of("document", 10), at))
            .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.UNAVAILABLE));
        assertThat(engine.segments().cacheStats().downloadFailures()).isPositive();
        assertThat(engine.segments().awaitCacheIdle(30_000)).isTrue();
        assertThat(engine.segments().cacheStats().pinnedBytes()).isZero(); // nothing left pinned
        source.failWhen(r -> false);
        assertSameVersion(id, main.get("docs", id), want.gets().get(id));
        assertThat(main.search("docs", SearchQuery.of("document", 10), at).hits())
            .extracting(SearchHit::id)
            .containsExactlyElementsOf(
                main.search("docs", SearchQuery.of("document", 10), at).hits().stream().map(SearchHit::id).toList());
      } finally {
        at.release();
      }
      assertWithinBudget(engine, 1);
    }
  }

  @Test
  void aSegmentNotYetUploadedIsNeverEvicted() throws Exception {
    ObjectStoreConfig cfg = s3.config("pending");
    FaultInjectingObjectStore tierStore = new FaultInjectingObjectStore(s3.client());
    tierStore.stallWhen(r -> r.op().equals("PUT") && r.key().endsWith(".bundle"));
    Path dir = tmp.resolve("pending");
    try (S3ObjectStore source = s3.client();
        StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, TierHarness.options()
            .segmentCache(SegmentCacheOptions.of(1, new BucketSegmentSource(source, "pending", LocalVfs.INSTANCE)))
            .build());
        ObjectStorageTier tier = ObjectStorageTier.start(engine, tierStore, cfg)) {
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 200);
      Manifest m = TierHarness.flush(main);
      Path lucene = engine.segments().luceneDir(Long.parseUnsignedLong(m.getSegments(0).getSegmentId(), 16));
      assertThat(tierStore.awaitStall(30_000)).isTrue(); // its upload is stuck
      for (int i = 0; i < 200; i += 10) {
        assertThat(main.get("docs", id(i))).isNotNull();
      }
      assertThat(engine.segments().awaitCacheIdle(30_000)).isTrue();
      assertThat(lucene).isDirectory(); // over the budget, but the only copy: kept
      assertThat(engine.segments().cacheStats().evictions()).isZero();
      tierStore.release();
      tier.awaitUploaded(main.id(), m.getSeq()).get(60, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (Files.exists(lucene) && System.nanoTime() < deadline) {
        engine.segments().awaitCacheIdle(1_000);
        Thread.sleep(10);
      }
      assertThat(lucene).doesNotExist(); // uploaded: evicted
      assertThat(engine.segments().awaitCacheIdle(30_000)).isTrue(); // the eviction's last steps
      assertThat(engine.segments().cacheStats().evictions()).isEqualTo(1);
      for (int i = 0; i < 200; i += 10) { // and fetched back on demand
        assertThat(main.get("docs", id(i)).lsn()).isPositive();
      }
      // A new flush on top of an evicted segment publishes with exact liveness.
      main.write("docs", List.of(new Mutation.Delete(id(10))), Durability.SYNC);
      TierHarness.flush(main);
      assertThat(main.get("docs", id(10))).isNull();
      assertThat(main.get("docs", id(20))).isNotNull();
    }
  }

  /**
   * A segment whose bundle was PUT but whose manifest was not (crash between the two) is evicted;
   * after a restart the uploader must export it again: it is fetched back for that, never uploaded
   * as an empty bundle. A lazy restore of the result reads every document.
   */
  @Test
  void anEvictedSegmentIsFetchedBackWhenItsSnapshotIsUploadedAfterACrash() throws Exception {
    ObjectStoreConfig cfg = s3.config("crash");
    Path dir = tmp.resolve("crash");
    FaultInjectingObjectStore tierStore = new FaultInjectingObjectStore(s3.client());
    tierStore.failWhen(r -> r.op().equals("PUT") && r.key().endsWith(".manifest"));
    Manifest m;
    try (S3ObjectStore source = s3.client();
        StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, TierHarness.options()
            .segmentCache(SegmentCacheOptions.of(1, new BucketSegmentSource(source, "crash", LocalVfs.INSTANCE)))
            .build())) {
      ObjectStorageTier tier = ObjectStorageTier.start(engine, tierStore, cfg);
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 300);
      m = TierHarness.flush(main);
      Path lucene = engine.segments().luceneDir(Long.parseUnsignedLong(m.getSegments(0).getSegmentId(), 16));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (Files.exists(lucene) && System.nanoTime() < deadline) { // bundle PUT, then evicted
        Thread.sleep(10);
      }
      assertThat(lucene).doesNotExist();
      tier.haltForTesting(); // the "crash": the manifest was never written
    }
    try (S3ObjectStore source = s3.client();
        StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, TierHarness.options()
            .segmentCache(SegmentCacheOptions.of(1, new BucketSegmentSource(source, "crash", LocalVfs.INSTANCE)))
            .build());
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      tier.awaitUploaded(engine.fork("main").id(), m.getSeq()).get(60, TimeUnit.SECONDS);
    }
    try (S3ObjectStore source = s3.client();
        StrataEngine copy = openLazy("crash", tmp.resolve("crash-copy"), 1, source)) {
      Fork main = copy.fork("main");
      for (int i = 0; i < 300; i++) {
        assertThat(main.get("docs", id(i))).as(id(i)).isNotNull();
      }
    }
  }

  private static void assertSameVersion(String id, DocumentVersion actual, DocumentVersion expected) {
    if (expected == null) {
      assertThat(actual).as(id).isNull();
      return;
    }
    assertThat(actual).as(id).isNotNull();
    assertThat(actual.lsn()).as(id).isEqualTo(expected.lsn());
    assertThat(actual.stored().body()).as(id).isEqualTo(expected.stored().body());
  }
}
