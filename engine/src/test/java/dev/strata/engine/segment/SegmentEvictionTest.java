package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.del;
import static dev.strata.engine.segment.TestData.doc;
import static dev.strata.engine.segment.TestData.put;
import static dev.strata.engine.segment.TestData.writeAndIngest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.LocalVfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The segment cache's rules inside the engine, over a remote source that copies from a backup
 * directory: only uploaded, unpinned segments are evicted; a pinned one stays local; a remote
 * segment's row filter keeps tombstones (a Get never resurrects a deleted document by skipping
 * the remote segment that deletes it); a failed fetch leaves the segment remote and the next pin
 * fetches it.
 */
class SegmentEvictionTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  @TempDir Path dataDir;
  @TempDir Path backup;

  /** "Remote storage": each segment's exported SST and Lucene files, copied by {@link #upload}. */
  private final class BackupSource implements RemoteSegmentSource {
    final AtomicInteger fetches = new AtomicInteger();
    final AtomicBoolean failing = new AtomicBoolean();

    @Override
    public Fetched fetch(long segmentId, Path luceneTarget, Path sstTarget) throws IOException {
      fetches.incrementAndGet();
      if (failing.get()) {
        throw new IOException("injected fetch failure");
      }
      Path from = backup.resolve(SegmentFormat.hex(segmentId));
      long bytes = 0;
      try (Stream<Path> files = Files.list(from.resolve("lucene"))) {
        for (Path f : files.toList()) {
          Files.copy(f, luceneTarget.resolve(f.getFileName()));
          bytes += Files.size(f);
        }
      }
      boolean sst = Files.exists(from.resolve("docs.sst"));
      if (sst) {
        Files.copy(from.resolve("docs.sst"), sstTarget);
        bytes += Files.size(sstTarget);
      }
      return new Fetched(sst, bytes, bytes);
    }
  }

  private final BackupSource source = new BackupSource();

  private SegmentStore open(long budget) throws IOException {
    return SegmentStore.open(dataDir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20)
        .withCache(SegmentCacheOptions.of(budget, source)));
  }

  /** Copies a segment to the backup and tells the store it is uploaded. */
  private static void upload(SegmentStore store, long id, Path backup) throws IOException {
    Path to = backup.resolve(SegmentFormat.hex(id));
    Files.createDirectories(to.resolve("lucene"));
    store.exportSst(id, to.resolve("docs.sst"));
    try (Stream<Path> files = Files.list(store.luceneDir(id))) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve("lucene").resolve(f.getFileName()));
      }
    }
    store.markUploaded(id, 1_000); // any size over the 1-byte budget
  }

  @Test
  void onlyUploadedUnpinnedSegmentsAreEvictedAndATombstoneStillEndsAGet() throws Exception {
    try (SegmentStore store = open(1)) {
      writeAndIngest(store, 1, List.of(put("c", 1, doc("a")), put("c", 2, doc("b"))), Map.of("c", EMPTY));
      writeAndIngest(store, 2, List.of(del("c", 3, "a"), put("c", 4, doc("x"))), Map.of("c", EMPTY));
      writeAndIngest(store, 3, List.of(put("c", 5, doc("y"))), Map.of("c", EMPTY));
      List<Segment> newestFirst = new ArrayList<>();
      for (long id = 3; id >= 1; id--) {
        newestFirst.add(store.acquireReference(id));
      }
      PublishedSnapshot snap = new PublishedSnapshot(Manifest.getDefaultInstance(), newestFirst, LivenessMap.empty());
      try {
        upload(store, 1, backup);
        upload(store, 2, backup);
        // 3 is not uploaded: over the budget, but the only copy.
        assertThat(store.awaitCacheIdle(30_000)).isTrue();
        assertThat(store.luceneDir(1)).doesNotExist();
        assertThat(store.luceneDir(2)).doesNotExist();
        assertThat(store.luceneDir(3)).isDirectory();
        assertThat(store.cacheStats().evictions()).isEqualTo(2);
        assertThat(store.segmentIdsInRocksDb()).containsExactly(3L); // rows of evicted segments deleted

        // The tombstone in remote segment 2 is found: its row filter holds tombstones too.
        DocumentVersion a = snap.get(store, "c", "a");
        assertThat(a).isNotNull();
        assertThat(a.isTombstone()).isTrue();
        assertThat(snap.get(store, "c", "b").lsn()).isEqualTo(2);
        assertThat(snap.get(store, "c", "nope")).isNull();
        int fetched = source.fetches.get();
        assertThat(fetched).isBetween(2, 4); // "nope" is ruled out by the filters (1 % false positives)
        assertThat(store.awaitCacheIdle(30_000)).isTrue();

        // A pinned segment stays local while others come and go.
        try (SegmentPin pin = newestFirst.get(2).pin()) {
          assertThat(store.luceneDir(1)).isDirectory();
          try (SegmentPin other = newestFirst.get(1).pin()) {
            assertThat(store.get(2, "c", "x").lsn()).isEqualTo(4);
          }
          assertThat(store.awaitCacheIdle(30_000)).isTrue();
          assertThat(store.luceneDir(2)).doesNotExist();
          assertThat(store.luceneDir(1)).isDirectory();
          assertThat(store.get(1, "c", "b").lsn()).isEqualTo(2);
          assertThat(newestFirst.get(2).leafReader().maxDoc()).isEqualTo(2);
          assertThat(store.cacheStats().pinnedBytes()).isPositive();
        }
        assertThat(store.awaitCacheIdle(30_000)).isTrue();
        assertThat(store.luceneDir(1)).doesNotExist();
        // Reading through a logical reference without a pin is refused, not silently empty.
        assertThatThrownBy(() -> newestFirst.get(2).leafReader()).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("without a pin");

        // A failed fetch: UNAVAILABLE for that read, the segment stays remote, the next read fetches.
        source.failing.set(true);
        assertThatThrownBy(() -> snap.get(store, "c", "b"))
            .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.UNAVAILABLE))
            .hasMessageContaining("injected fetch failure");
        assertThat(store.cacheStats().downloadFailures()).isEqualTo(1);
        source.failing.set(false);
        assertThat(snap.get(store, "c", "b").lsn()).isEqualTo(2);
      } finally {
        snap.release();
      }
    }
  }

  @Test
  void aRestartOpensEvictedSegmentsAsRemoteAndFetchedOnesAsEvictable() throws Exception {
    try (SegmentStore store = open(1)) {
      writeAndIngest(store, 1, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
      writeAndIngest(store, 2, List.of(put("c", 2, doc("b"))), Map.of("c", EMPTY));
      Segment s1 = store.acquireReference(1);
      Segment s2 = store.acquireReference(2);
      upload(store, 1, backup);
      upload(store, 2, backup);
      assertThat(store.awaitCacheIdle(30_000)).isTrue();
      try (SegmentPin p = s2.pin()) { // fetched, and held across the close
        assertThat(store.luceneDir(2)).isDirectory();
      }
      s1.release();
      s2.release();
    }
    // Segment 2 may or may not have been evicted before the close; both must reopen correctly.
    try (SegmentStore store = open(1)) {
      Segment s1 = store.acquireReference(1);
      Segment s2 = store.acquireReference(2);
      assertThat(s1.isLocal()).isFalse();
      assertThat(store.awaitCacheIdle(30_000)).isTrue();
      assertThat(store.luceneDir(2)).doesNotExist(); // fetched before: known uploaded, evicted
      try (SegmentPin p = s1.pin()) {
        assertThat(store.get(1, "c", "a").lsn()).isEqualTo(1);
      }
      try (SegmentPin p = s2.pin()) {
        assertThat(store.get(2, "c", "b").lsn()).isEqualTo(2);
      }
      s1.release();
      s2.release();
    }
  }
}
