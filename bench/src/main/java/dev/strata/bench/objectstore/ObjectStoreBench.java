package dev.strata.bench.objectstore;

import dev.strata.bench.BenchDirs;
import dev.strata.bench.compaction.CompactionSoak;
import dev.strata.bench.compaction.Corpus;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.manifest.proto.Manifest;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SegmentCacheOptions;
import dev.strata.objectstore.BucketSegmentSource;
import dev.strata.objectstore.ObjectStorageTier;
import dev.strata.objectstore.ObjectStoreConfig;
import dev.strata.objectstore.S3ObjectStore;
import dev.strata.objectstore.SnapshotRestore;
import dev.strata.objectstore.UploadLag;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * The object-storage tier against s3proxy (in this JVM, filesystem backend on the same disk,
 * loopback): (1) upload throughput of an already-flushed corpus, (2) upload lag while the corpus
 * is loaded with the tier on and interval flushes, (3) restore time of the corpus into a new data
 * directory, and opening it, (4) Get and Search latency over a lazily restored copy with a cold
 * segment cache (every segment evicted after each read: each read downloads what it touches)
 * against a warm one (everything local), and with a cache of a quarter of the data under random
 * Gets. Prints one line per measure; numbers go to docs/benchmarks.md.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.strata.bench.objectstore.ObjectStoreBench [--docs N] [--l0-mib M]</pre>
 */
public final class ObjectStoreBench {
  private static final String BUCKET = "bench";

  private ObjectStoreBench() {}

  public static void main(String[] args) throws Exception {
    int docs = 0;
    int l0Mib = 4;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--docs" -> docs = Integer.parseInt(args[++i]);
        case "--l0-mib" -> l0Mib = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (--docs N, --l0-mib M)");
      }
    }
    Path corpusFile = CompactionSoak.defaultCorpus();
    if (corpusFile == null) {
      throw new IllegalStateException("corpus not found (shared/data/debian-packages.jsonl.gz)");
    }
    Corpus corpus = Corpus.load(corpusFile, docs);
    Path root = BenchDirs.create("objectstore-bench");
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", root.resolve("blobs").toString());
    try (BlobStoreContext ctx = ContextBuilder.newBuilder("filesystem").credentials("i", "c").overrides(props)
        .build(BlobStoreContext.class)) {
      ctx.getBlobStore().createContainerInLocation(null, BUCKET);
      S3Proxy proxy = S3Proxy.builder().blobStore(ctx.getBlobStore()).endpoint(URI.create("http://127.0.0.1:0"))
          .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "bench", "bench-secret").build();
      proxy.start();
      while (!AbstractLifeCycle.STARTED.equals(proxy.getState())) {
        Thread.sleep(5);
      }
      try {
        ObjectStoreConfig cfg = new ObjectStoreConfig(URI.create("http://127.0.0.1:" + proxy.getPort()), "us-east-1",
            BUCKET, "upload", "bench", "bench-secret", true, 30_000, 2, 100, 3_600_000);
        System.out.printf("corpus: %,d documents, %.1f MiB of JSON; l0.max_bytes %d MiB; %s%n",
            corpus.size(), corpus.jsonBytes() / 1048576.0, l0Mib, uptime());
        uploadThroughput(corpus, root.resolve("upload-src"), cfg, l0Mib);
        lagUnderLoad(corpus, root.resolve("lag-src"), cfg.withLocation(BUCKET, "lag"), l0Mib);
        restore(root, cfg);
        cacheLatency(corpus, root, cfg);
      } finally {
        proxy.stop();
      }
    } finally {
      BenchDirs.deleteRecursively(root);
    }
  }

  private static EngineOptions options(int l0Mib, long flushIntervalMs) {
    return EngineOptions.builder()
        .compaction(CompactionOptions.defaults().withEnabled(false))
        .l0MaxBytes((long) l0Mib << 20)
        .flushIntervalMs(flushIntervalMs)
        .streamThreads(2)
        .blockCacheBytes(64L << 20)
        .build();
  }

  private static void load(Corpus corpus, Fork fork) {
    fork.createOrGetCollection("packages", Corpus.SCHEMA);
    List<Mutation> batch = new ArrayList<>();
    for (int i = 0; i < corpus.size(); i++) {
      batch.add(new Mutation.Put(corpus.document(i)));
      if (batch.size() == 500 || i == corpus.size() - 1) {
        fork.write("packages", batch, Durability.ASYNC);
        batch = new ArrayList<>();
      }
    }
  }

  private static Manifest flush(Fork fork) throws Exception {
    return fork.awaitTicket(fork.flush(60_000)).get(5, TimeUnit.MINUTES);
  }

  /** (1) Everything flushed first, then the tier starts: time until the head is in the bucket. */
  private static void uploadThroughput(Corpus corpus, Path dir, ObjectStoreConfig cfg, int l0Mib) throws Exception {
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options(l0Mib, 0))) {
      Fork main = engine.fork("main");
      load(corpus, main);
      Manifest head = flush(main);
      // The same snapshots uploaded to a fresh prefix per storage.upload_threads: 1 is the serial
      // pipeline (a drain uploads each bundle itself), more lets the fork's bundles go up in parallel.
      // The first round warms the JIT, the page cache and s3proxy; the last run writes cfg's own
      // prefix, which the restore below reads.
      int[] rounds = {1, 2, 4, 1, 2, 4, 1, 2, 4, 2};
      for (int r = 0; r < rounds.length; r++) {
        int threads = rounds[r];
        String prefix = r == rounds.length - 1 ? cfg.prefix() : cfg.prefix() + "-run" + r;
        ObjectStoreConfig c = new ObjectStoreConfig(cfg.endpoint(), cfg.region(), cfg.bucket(), prefix,
            cfg.accessKey(), cfg.secretKey(), cfg.pathStyle(), cfg.leaseMs(), threads, cfg.retryBackoffMs(),
            cfg.deleteGraceMs());
        long t0 = System.nanoTime();
        try (ObjectStorageTier tier = ObjectStorageTier.start(engine, c)) {
          tier.awaitUploaded(main.id(), head.getSeq()).get(30, TimeUnit.MINUTES);
          double s = (System.nanoTime() - t0) / 1e9;
          System.out.printf(
              "upload (upload_threads %d): %d snapshots, %d segments, %.1f MiB of bundles in %.2f s = %.1f MiB/s (%s)%n",
              threads, main.listSnapshots().size(), tier.segmentsUploaded(), tier.bytesUploaded() / 1048576.0, s,
              tier.bytesUploaded() / 1048576.0 / s, uptime());
        }
      }
    }
  }

  /** (2) The tier on while the corpus loads with 1 s interval flushes: lag sampled every 100 ms. */
  private static void lagUnderLoad(Corpus corpus, Path dir, ObjectStoreConfig cfg, int l0Mib) throws Exception {
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options(l0Mib, 1_000));
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      Fork main = engine.fork("main");
      int[] maxSnapshots = {0};
      long[] maxBytes = {0};
      Thread sampler = Thread.ofPlatform().daemon().start(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          UploadLag lag = tier.lagOf(main);
          maxSnapshots[0] = Math.max(maxSnapshots[0], lag.snapshotsPending());
          maxBytes[0] = Math.max(maxBytes[0], lag.bytesPending());
          try {
            Thread.sleep(100);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      long t0 = System.nanoTime();
      load(corpus, main);
      Manifest head = flush(main);
      double loaded = (System.nanoTime() - t0) / 1e9;
      long t1 = System.nanoTime();
      tier.awaitUploaded(main.id(), head.getSeq()).get(30, TimeUnit.MINUTES);
      double drained = (System.nanoTime() - t1) / 1e9;
      sampler.interrupt();
      sampler.join();
      System.out.printf("lag under load: loaded and flushed in %.2f s (%d snapshots); upload lag at most %d snapshots,"
              + " %.1f MiB; head uploaded %.2f s after its publication (%s)%n",
          loaded, main.listSnapshots().size(), maxSnapshots[0], maxBytes[0] / 1048576.0, drained, uptime());
    }
  }

  /** (3) Restore the head of (1) into a new data directory, then open it. */
  private static void restore(Path root, ObjectStoreConfig cfg) throws Exception {
    Path target = root.resolve("restored");
    try (S3ObjectStore store = S3ObjectStore.open(cfg)) {
      SnapshotRestore.Report r = SnapshotRestore.restore(store, cfg.prefix(), target, "main", null, LocalVfs.INSTANCE);
      long t0 = System.nanoTime();
      try (StrataEngine engine = StrataEngine.open(target, LocalVfs.INSTANCE, options(4, 0))) {
        double open = (System.nanoTime() - t0) / 1e9;
        System.out.printf("restore: %d segments, %.1f MiB in %.2f s = %.1f MiB/s; the server opens it in %.2f s;"
                + " head %s (%s)%n",
            r.segments(), r.bytesDownloaded() / 1048576.0, r.elapsedMs() / 1000.0,
            r.bytesDownloaded() / 1048576.0 / (r.elapsedMs() / 1000.0), open,
            engine.fork("main").head().map(Manifest::getId).orElse("-"), uptime());
      }
    }
  }

  /** Search queries of (4): a rare term, a common one, a keyword filter and a range. */
  private static final List<String> QUERIES =
      List.of("description:postgresql", "summary:library", "section:python AND summary:module", "installed_size_kib:[10000 TO 20000]");

  /**
   * (4) A lazy restore of (1)'s head (no segment downloaded), opened three times with the segment
   * cache over the bucket: budget 1 byte (cold: every read fetches the segments it touches, since
   * each is evicted as soon as its read releases it), a quarter of the bundle bytes (random Gets),
   * and 0 (no eviction) after a warm-up pass (warm).
   */
  private static void cacheLatency(Corpus corpus, Path root, ObjectStoreConfig cfg) throws Exception {
    Path target = root.resolve("lazy");
    long total;
    try (S3ObjectStore store = S3ObjectStore.open(cfg)) {
      SnapshotRestore.Report r = SnapshotRestore.restore(store, cfg.prefix(), target, "main", null, LocalVfs.INSTANCE, true);
      System.out.printf("lazy restore: %d segments named, nothing downloaded, %.2f s (%s)%n", r.segments(), r.elapsedMs() / 1000.0, uptime());
      total = 0;
      for (S3ObjectStore.ObjectInfo o : store.list(cfg.prefix() + "/segments/")) {
        total += o.sizeBytes();
      }
    }
    java.util.Random rnd = new java.util.Random(42);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      ids.add(corpus.document(rnd.nextInt(corpus.size())).id());
    }
    String[] names = {"cold (budget 1 B)", "quarter (budget " + (total / 4 >> 20) + " MiB)", "warm (budget 0, all local)"};
    long[] budgets = {1, total / 4, 0};
    for (int c = 0; c < budgets.length; c++) {
      try (S3ObjectStore bucket = S3ObjectStore.open(cfg);
          StrataEngine engine = StrataEngine.open(target, LocalVfs.INSTANCE, options(4, 0).toBuilder()
              .segmentCache(SegmentCacheOptions.of(budgets[c], new BucketSegmentSource(bucket, cfg.prefix(), LocalVfs.INSTANCE)))
              .build())) {
        Fork main = engine.fork("main");
        engine.segments().awaitCacheIdle(60_000);
        if (budgets[c] == 0) {
          ids.forEach(id -> main.get("packages", id)); // warm-up: every segment fetched once, kept
          searchAll(engine, main, 3);
        }
        long fetches0 = engine.segments().cacheStats().misses();
        long[] gets = new long[ids.size()];
        for (int i = 0; i < ids.size(); i++) {
          long t0 = System.nanoTime();
          if (main.get("packages", ids.get(i)) == null) {
            throw new IllegalStateException("document " + ids.get(i) + " missing");
          }
          gets[i] = System.nanoTime() - t0;
          engine.segments().awaitCacheIdle(60_000); // evictions run off the read; not timed
        }
        long getFetches = engine.segments().cacheStats().misses() - fetches0;
        long[] searches = c == 1 ? null : searchAll(engine, main, c == 0 ? 3 : 30);
        System.out.printf("cache %s: Get p50 %.3f ms p99 %.3f ms (%d Gets, %d segment fetches)%s (%s)%n", names[c],
            pct(gets, 50), pct(gets, 99), gets.length, getFetches,
            searches == null ? "" : String.format("; Search p50 %.1f ms p99 %.1f ms (%d searches)", pct(searches, 50), pct(searches, 99), searches.length),
            uptime());
      }
    }
  }

  /** Runs every query {@code rounds} times, timing each, waiting for evictions between (not timed). */
  private static long[] searchAll(StrataEngine engine, Fork main, int rounds) throws InterruptedException {
    long[] out = new long[rounds * QUERIES.size()];
    int k = 0;
    for (int r = 0; r < rounds; r++) {
      for (String q : QUERIES) {
        long t0 = System.nanoTime();
        main.search("packages", SearchQuery.of(q, 10), null);
        out[k++] = System.nanoTime() - t0;
        engine.segments().awaitCacheIdle(60_000);
      }
    }
    return out;
  }

  /** The {@code p}th percentile of nanosecond samples, in ms. */
  private static double pct(long[] nanos, int p) {
    long[] sorted = nanos.clone();
    java.util.Arrays.sort(sorted);
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)] / 1e6;
  }

  private static String uptime() {
    try {
      return "load average " + String.join(" ", java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ", 4)).substring(0, 14);
    } catch (Exception e) {
      return "load average unknown";
    }
  }
}
