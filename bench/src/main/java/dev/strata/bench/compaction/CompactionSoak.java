package dev.strata.bench.compaction;

import dev.strata.engine.fork.ForkStats;
import dev.strata.bench.BenchDirs;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Issue #5's benchmark: sustained ingest of the Debian corpus at {@code flush.interval} 1 s, run
 * twice in one invocation with the same offered load, background compaction on and off, and what
 * that does to segments per fork, write latency, reads and write amplification.
 *
 * <p>Each side opens a fresh {@link StrataEngine} in its own scratch directory ({@link BenchDirs};
 * deleted afterwards), creates collection {@value #COLLECTION} on fork {@code main} (the only fork)
 * with {@link Corpus#SCHEMA}, and runs {@link SoakLoad}: corpus documents replayed under new ids at
 * {@code offeredDocsPerSec}, in batches of {@code batchDocs} from {@code writers} threads.
 * Durability is <b>SYNC</b> by default: it is what the server does unless a client asks for
 * ASYNC, and compaction's disk writes compete with the WAL's fsyncs, which is part of the cost
 * being measured; {@code --durability ASYNC} leaves only the CPU and stall effects. Every {@code
 * sampleMs} (1000 ms) a sample records the head's segment count and bytes, flush and compaction
 * counters, write amplification and the interval's write p99. When the load ends, the fork is
 * flushed and waited for, then {@code getSamples} point reads of random acknowledged ids (after
 * {@code getWarmup} unrecorded ones) and {@code searchSeconds} of searches cycling through {@code
 * queries} (top 10, BM25) run on one thread, with compaction still allowed to run in the ON side.
 *
 * <p>Units: durations in seconds unless named {@code …Ms}; latencies in microseconds ({@code …Us})
 * or milliseconds ({@code …Ms}) as named; bytes as named; rates per second.
 *
 * <p>Usage: {@code CompactionSoak [--seconds S] [--rate DOCS_PER_S] [--writers N] [--batch DOCS]
 * [--durability SYNC|ASYNC] [--warmup S] [--order on,off] [--corpus FILE] [--max-docs N]
 * [--search-seconds S] [--get-samples N] [--out-prefix PATH]}; with {@code --out-prefix P} it
 * writes {@code P.json} (everything), {@code P.csv} (the samples) and {@code P-segments.png} and
 * {@code P-write-p99.png} (plots).
 */
public final class CompactionSoak {
  static final String COLLECTION = "packages";

  /**
   * Every knob of one invocation.
   *
   * @param secondsPerSide ingest time of each side, s
   * @param warmupSeconds an unmeasured ingest run first (compaction off, own engine, ending with a
   *     flush) for the JIT, s
   * @param offeredDocsPerSec documents offered per second, both sides
   * @param writers writer threads (most writes in flight at once)
   * @param batchDocs documents per write
   * @param durability WAL durability of every write
   * @param flushIntervalMs the engine's {@code flush.interval}, ms (issue #5: 1000)
   * @param sampleMs sampling period, ms
   * @param order the sides in running order, true = compaction on
   * @param compaction compaction options of the ON side (the OFF side: the same, disabled)
   * @param maxCorpusDocs corpus lines read (0 = all)
   * @param getWarmup point reads done before recording
   * @param getSamples point reads recorded
   * @param searchSeconds search time at the end, s
   * @param queries search queries (Lucene classic syntax over the TEXT fields)
   */
  public record Config(
      double secondsPerSide,
      double warmupSeconds,
      double offeredDocsPerSec,
      int writers,
      int batchDocs,
      Durability durability,
      long flushIntervalMs,
      long sampleMs,
      List<Boolean> order,
      CompactionOptions compaction,
      int maxCorpusDocs,
      int getWarmup,
      int getSamples,
      double searchSeconds,
      List<String> queries) {

    /** Issue #5's run: 300 s per side. */
    public static Config full() {
      return new Config(300, 15, 2000, 4, 10, Durability.SYNC, 1000, 1000, List.of(true, false),
          CompactionOptions.defaults(), 0, 2000, 20_000, 10,
          List.of("text editor", "python library", "kernel module", "game", "documentation",
              "network monitoring tool"));
    }

    /** A copy with another time per side. */
    public Config withSeconds(double s) {
      return new Config(s, warmupSeconds, offeredDocsPerSec, writers, batchDocs, durability, flushIntervalMs,
          sampleMs, order, compaction, maxCorpusDocs, getWarmup, getSamples, searchSeconds, queries);
    }
  }

  /**
   * One sample of one side.
   *
   * @param t seconds since the side's load started
   * @param docs documents acknowledged so far
   * @param segments segments in the head manifest of fork main
   * @param headBytes bytes of those segments
   * @param flushes flushes published so far
   * @param compactions compactions published so far
   * @param flushBytes bytes written by flushes so far
   * @param compactionBytes bytes written by compactions so far
   * @param writeAmp (flushBytes + compactionBytes) / flushBytes
   * @param l0Bytes bytes in L0 (active and frozen)
   * @param pendingFlushes flushes rotated but not yet published
   * @param lastFlushMs duration of the last published flush, ms
   * @param compactionsRunning compaction jobs merging at the sample (engine-wide)
   * @param intervalWrites writes acknowledged since the previous sample
   * @param intervalP99Us their service-latency p99, µs (NaN if none)
   * @param intervalMaxUs their service-latency max, µs (NaN if none)
   */
  public record Sample(
      double t,
      long docs,
      int segments,
      long headBytes,
      long flushes,
      long compactions,
      long flushBytes,
      long compactionBytes,
      double writeAmp,
      long l0Bytes,
      int pendingFlushes,
      long lastFlushMs,
      int compactionsRunning,
      long intervalWrites,
      double intervalP99Us,
      double intervalMaxUs) {}

  /**
   * Latency percentiles, µs.
   *
   * @param count values recorded
   */
  public record Percentiles(long count, double p50Us, double p99Us, double p999Us, double maxUs) {
    static Percentiles of(Histogram h) {
      if (h.getTotalCount() == 0) {
        return new Percentiles(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
      }
      return new Percentiles(h.getTotalCount(), h.getValueAtPercentile(50) / 1e3,
          h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
    }
  }

  /**
   * Everything one side measured.
   *
   * @param compaction background compaction on
   * @param seconds load time, s
   * @param docs documents acknowledged
   * @param achievedDocsPerSec docs / seconds
   * @param batchesNotSent batches due before the end that were never sent (backlog)
   * @param write service latency of acknowledged writes
   * @param writeFromDue latency from each batch's due time (includes waiting for a writer)
   * @param segmentsAtEnd head segments when the load stopped
   * @param segmentsMax most head segments seen in a sample
   * @param segmentsMeanSecondHalf mean head segments over the samples of the second half
   * @param writeAmp write amplification at the end of the load
   * @param segmentsAtReads head segments when the reads started (after a final flush)
   * @param compactionPendingAtReads a compaction was queued or running when the reads started
   * @param get point-read latency
   * @param getMisses point reads of acknowledged ids that found nothing (should be 0)
   * @param searchQueries searches run
   * @param searchQps searches per second, one thread
   * @param search search latency
   * @param searchesWithoutHits searches that found nothing
   * @param gcMs garbage-collection time during the load, ms
   * @param errors failed write attempts by kind
   * @param firstError the first write failure that stopped or dropped a batch, or the fork's
   *     read-only reason, or null
   */
  public record Side(
      String name,
      boolean compaction,
      double seconds,
      long docs,
      double achievedDocsPerSec,
      long writes,
      long batchesNotSent,
      Percentiles write,
      Percentiles writeFromDue,
      int segmentsAtEnd,
      int segmentsMax,
      double segmentsMeanSecondHalf,
      long flushesPublished,
      long compactionsPublished,
      long compactionsAborted,
      long compactionFailures,
      long flushBytesWritten,
      long compactionBytesWritten,
      double writeAmp,
      long headBytesAtEnd,
      long compactionStalls,
      long compactionStallMs,
      long flushStallMs,
      int segmentsAtReads,
      boolean compactionPendingAtReads,
      Percentiles get,
      long getMisses,
      long searchQueries,
      double searchQps,
      Percentiles search,
      long searchesWithoutHits,
      long gcMs,
      Map<String, Long> errors,
      String firstError,
      List<Sample> samples) {}

  /** The whole invocation. */
  public record Report(
      Config config,
      String startedAt,
      String java,
      int processors,
      String corpus,
      int corpusDocs,
      List<Side> sides) {

    /** The side with compaction {@code on}, or null. */
    public Side side(boolean on) {
      return sides.stream().filter(s -> s.compaction() == on).findFirst().orElse(null);
    }
  }

  private final Config config;
  private final Path scratchRoot;
  private final Path corpusFile;

  /**
   * @param scratchRoot where each side's engine directory is made
   * @param corpusFile the JSONL corpus (gzipped if named {@code .gz})
   */
  public CompactionSoak(Config config, Path scratchRoot, Path corpusFile) {
    this.config = config;
    this.scratchRoot = scratchRoot;
    this.corpusFile = corpusFile;
  }

  public static void main(String[] args) throws Exception {
    Config c = Config.full();
    Path corpus = defaultCorpus();
    String outPrefix = null;
    double seconds = c.secondsPerSide();
    double rate = c.offeredDocsPerSec();
    int writers = c.writers();
    int batch = c.batchDocs();
    Durability durability = c.durability();
    double warmup = c.warmupSeconds();
    List<Boolean> order = c.order();
    int maxDocs = 0;
    double searchSeconds = c.searchSeconds();
    int getSamples = c.getSamples();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        case "--rate" -> rate = Double.parseDouble(args[++i]);
        case "--writers" -> writers = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--durability" -> durability = Durability.valueOf(args[++i].toUpperCase(Locale.ROOT));
        case "--warmup" -> warmup = Double.parseDouble(args[++i]);
        case "--order" -> order = Arrays.stream(args[++i].split(",")).map(s -> s.trim().equals("on")).toList();
        case "--corpus" -> corpus = Paths.get(args[++i]);
        case "--max-docs" -> maxDocs = Integer.parseInt(args[++i]);
        case "--search-seconds" -> searchSeconds = Double.parseDouble(args[++i]);
        case "--get-samples" -> getSamples = Integer.parseInt(args[++i]);
        case "--out-prefix" -> outPrefix = args[++i];
        default -> {
          System.err.println("unknown argument " + a + "\n"
              + "usage: CompactionSoak [--seconds S] [--rate DOCS_PER_S] [--writers N] [--batch DOCS]"
              + " [--durability SYNC|ASYNC] [--warmup S] [--order on,off] [--corpus FILE] [--max-docs N]"
              + " [--search-seconds S] [--get-samples N] [--out-prefix PATH]");
          System.exit(2);
        }
      }
    }
    if (corpus == null) {
      System.err.println("error: corpus not found; pass --corpus path/to/debian-packages.jsonl.gz");
      System.exit(2);
    }
    Config config = new Config(seconds, warmup, rate, writers, batch, durability, c.flushIntervalMs(),
        c.sampleMs(), order, c.compaction(), maxDocs, c.getWarmup(), getSamples, searchSeconds, c.queries());
    Report report = new CompactionSoak(config, BenchDirs.root(), corpus).run();
    System.out.println(markdown(report));
    if (outPrefix != null) {
      writeOutputs(report, Paths.get(outPrefix));
    }
  }

  /** {@code shared/data/debian-packages.jsonl.gz} beside the repository (from its root or a module), or null. */
  public static Path defaultCorpus() {
    for (String p : List.of("../shared/data/debian-packages.jsonl.gz", "../../shared/data/debian-packages.jsonl.gz",
        "/work/shared/data/debian-packages.jsonl.gz")) {
      Path f = Paths.get(p);
      if (Files.isRegularFile(f)) {
        return f.toAbsolutePath().normalize();
      }
    }
    return null;
  }

  /** Writes {@code prefix.json}, {@code prefix.csv}, {@code prefix-segments.png} and {@code prefix-write-p99.png}. */
  public static void writeOutputs(Report report, Path prefix) throws IOException {
    Path dir = prefix.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    String base = prefix.getFileName().toString();
    Files.writeString(dir.resolve(base + ".json"), Json.of(report) + "\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(base + ".csv"), csv(report), StandardCharsets.UTF_8);
    SoakPlot.segments(report, dir.resolve(base + "-segments.png"));
    SoakPlot.writeP99(report, dir.resolve(base + "-write-p99.png"));
    System.out.println("wrote " + dir.resolve(base) + "{.json,.csv,-segments.png,-write-p99.png}");
  }

  /** Loads the corpus, runs the warm-up, then each side in {@code order}. Progress goes to stderr. */
  public Report run() throws Exception {
    String started = Instant.now().toString();
    Corpus corpus = Corpus.load(corpusFile, config.maxCorpusDocs());
    log(String.format(Locale.ROOT, "corpus %s: %,d documents, %.1f MiB of JSON per pass", corpusFile,
        corpus.size(), corpus.jsonBytes() / 1048576.0));
    log(String.format(Locale.ROOT, "offered %.0f docs/s (%.1f MiB/s of JSON) in writes of %d docs from %d writers,"
            + " %s, flush interval %d ms, %.0f s per side, scratch under %s",
        config.offeredDocsPerSec(), config.offeredDocsPerSec() * corpus.jsonBytes() / corpus.size() / 1048576.0,
        config.batchDocs(), config.writers(), config.durability(), config.flushIntervalMs(),
        config.secondsPerSide(), scratchRoot));
    if (config.warmupSeconds() > 0) {
      log("warm-up " + config.warmupSeconds() + " s (compaction off), discarded");
      side(corpus, false, config.warmupSeconds(), false);
    }
    List<Side> sides = new ArrayList<>();
    for (boolean on : config.order()) {
      Side s = side(corpus, on, config.secondsPerSide(), true);
      log(String.format(Locale.ROOT,
          "%s: %,d docs (%.0f/s), write p50/p99/p99.9 %.0f/%.0f/%.0f us, segments end %d max %d,"
              + " compactions %d, write amp %.2f, get p99 %.0f us, search %.1f q/s%s",
          s.name(), s.docs(), s.achievedDocsPerSec(), s.write().p50Us(), s.write().p99Us(), s.write().p999Us(),
          s.segmentsAtEnd(), s.segmentsMax(), s.compactionsPublished(), s.writeAmp(), s.get().p99Us(),
          s.searchQps(), s.firstError() == null ? "" : ", error: " + s.firstError()));
      sides.add(s);
    }
    return new Report(config, started, System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(), corpusFile.getFileName().toString(), corpus.size(), sides);
  }

  private Side side(Corpus corpus, boolean on, double seconds, boolean measureReads) throws Exception {
    String name = on ? "compaction-on" : "compaction-off";
    EngineOptions options =
        EngineOptions.builder()
            .flushIntervalMs(config.flushIntervalMs())
            .compaction(config.compaction().withEnabled(on))
            .build();
    Path dir = BenchDirs.create(scratchRoot, "compaction-soak-" + (on ? "on" : "off") + "-");
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options)) {
      Fork fork = engine.fork(StrataEngine.MAIN);
      fork.createOrGetCollection(COLLECTION, Corpus.SCHEMA);
      SoakLoad load = new SoakLoad(fork, COLLECTION, corpus, config.writers(), config.batchDocs(),
          config.offeredDocsPerSec(), config.durability());
      Histogram write = SoakLoad.newTotal();
      Histogram fromDue = SoakLoad.newTotal();
      List<Sample> samples = new ArrayList<>();
      long gcBefore = gcMillis();
      load.start(seconds);
      long t0 = load.startNanos();
      samples.add(sample(engine, fork, load, t0, write, fromDue));
      long endNanos = t0 + (long) (seconds * 1e9);
      for (long k = 1; ; k++) {
        long at = t0 + k * config.sampleMs() * 1_000_000L;
        if (at > endNanos) {
          break;
        }
        parkUntil(at);
        Sample s = sample(engine, fork, load, t0, write, fromDue);
        samples.add(s);
        if (measureReads && k % 10 == 0) {
          log(String.format(Locale.ROOT, "%s t=%.0fs docs=%,d segments=%d compactions=%d p99(1s)=%.0fus",
              name, s.t(), s.docs(), s.segments(), s.compactions(), s.intervalP99Us()));
        }
      }
      load.stop();
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      long gcMs = gcMillis() - gcBefore;
      write.add(load.service.getIntervalHistogram());
      fromDue.add(load.fromDue.getIntervalHistogram());
      ForkStats atStop = fork.stats();
      long docs = load.docs.sum();
      int segMax = samples.stream().mapToInt(Sample::segments).max().orElse(0);
      segMax = Math.max(segMax, atStop.segmentCount());
      double segMean = samples.stream().filter(s -> s.t() >= seconds / 2).mapToInt(Sample::segments).average()
          .orElse(Double.NaN);
      fork.flushAndWait(60_000);
      if (!measureReads) {
        return null; // the warm-up: it has been through the write, flush and publish paths
      }
      int segmentsAtReads = fork.stats().segmentCount();
      boolean pending = engine.compactions().isPending(fork);
      long[] misses = new long[1];
      Histogram get = gets(fork, corpus, load, misses);
      long[] noHits = new long[1];
      Histogram search = SoakLoad.newTotal();
      double[] qps = new double[1];
      searches(fork, search, qps, noHits);
      ForkStats end = fork.stats();
      String err = load.firstError() != null ? load.firstError() : end.readOnlyReason();
      if (err == null && end.lastCompactionError() != null) {
        err = "compaction: " + end.lastCompactionError();
      }
      return new Side(
          name,
          on,
          loadSeconds,
          docs,
          docs / loadSeconds,
          load.writes.sum(),
          load.batchesNotSent(),
          Percentiles.of(write),
          Percentiles.of(fromDue),
          atStop.segmentCount(),
          segMax,
          segMean,
          atStop.flushesPublished(),
          atStop.compactionsPublished(),
          atStop.compactionsAborted(),
          engine.compactions().failureCount(),
          atStop.flushBytesWritten(),
          atStop.compactionBytesWritten(),
          atStop.writeAmplification(),
          fork.headSegmentSizes().stream().mapToLong(Long::longValue).sum(),
          atStop.compactionStalls(),
          atStop.compactionStallMs(),
          atStop.stallTimeMs(),
          segmentsAtReads,
          pending,
          Percentiles.of(get),
          misses[0],
          search.getTotalCount(),
          qps[0],
          Percentiles.of(search),
          noHits[0],
          gcMs,
          load.errors(),
          err,
          samples);
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  private Sample sample(StrataEngine engine, Fork fork, SoakLoad load, long t0, Histogram write, Histogram fromDue) {
    Histogram interval = load.service.getIntervalHistogram();
    fromDue.add(load.fromDue.getIntervalHistogram());
    write.add(interval);
    ForkStats s = fork.stats();
    long headBytes = fork.headSegmentSizes().stream().mapToLong(Long::longValue).sum();
    boolean any = interval.getTotalCount() > 0;
    return new Sample(
        (System.nanoTime() - t0) / 1e9,
        load.docs.sum(),
        s.segmentCount(),
        headBytes,
        s.flushesPublished(),
        s.compactionsPublished(),
        s.flushBytesWritten(),
        s.compactionBytesWritten(),
        s.writeAmplification(),
        s.l0Bytes(),
        s.pendingFlushes(),
        s.lastFlushDurationMs(),
        engine.compactions().runningJobs(),
        interval.getTotalCount(),
        any ? interval.getValueAtPercentile(99) / 1e3 : Double.NaN,
        any ? interval.getMaxValue() / 1e3 : Double.NaN);
  }

  /** Point reads of random acknowledged ids; latencies in ns. */
  private Histogram gets(Fork fork, Corpus corpus, SoakLoad load, long[] misses) {
    Histogram h = SoakLoad.newTotal();
    BitSet acked = load.ackedBatches();
    if (acked.isEmpty()) {
      return h;
    }
    int span = acked.length();
    SplittableRandom rnd = new SplittableRandom(5);
    for (int i = 0; i < config.getWarmup() + config.getSamples(); i++) {
      int j = acked.nextSetBit(rnd.nextInt(span));
      if (j < 0) {
        j = acked.nextSetBit(0);
      }
      long seq = (long) j * load.batchDocs() + rnd.nextInt(load.batchDocs());
      String id = corpus.id(seq);
      long t = System.nanoTime();
      DocumentVersion v = fork.get(COLLECTION, id);
      long ns = System.nanoTime() - t;
      if (i >= config.getWarmup()) {
        h.recordValue(ns);
        if (v == null) {
          misses[0]++;
        }
      }
    }
    return h;
  }

  /** Searches cycling through the queries for {@code searchSeconds}; latencies in ns. */
  private void searches(Fork fork, Histogram h, double[] qps, long[] noHits) {
    if (config.queries().isEmpty() || config.searchSeconds() <= 0) {
      return;
    }
    List<SearchQuery> qs = config.queries().stream().map(q -> SearchQuery.of(q, 10)).toList();
    for (SearchQuery q : qs) {
      fork.search(COLLECTION, q, null); // one unrecorded pass: opens readers, warms caches
    }
    long start = System.nanoTime();
    long end = start + (long) (config.searchSeconds() * 1e9);
    long n = 0;
    long now = start;
    while (now < end) {
      SearchQuery q = qs.get((int) (n % qs.size()));
      long t = System.nanoTime();
      SearchResult r = fork.search(COLLECTION, q, null);
      now = System.nanoTime();
      h.recordValue(now - t);
      if (r.totalHits() == 0) {
        noHits[0]++;
      }
      n++;
    }
    qps[0] = n / ((now - start) / 1e9);
  }

  // ------------------------------------------------------------------ report

  /** The summary tables (what {@code main} prints and docs/benchmarks.md quotes). */
  public static String markdown(Report r) {
    Config c = r.config();
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT,
        "%nCompactionSoak, started %s: %.0f s per side, offered %,.0f docs/s (%d writers, %d docs/write, %s),"
            + " flush interval %d ms, corpus %s (%,d docs), %d processors, java %s%n%n",
        r.startedAt(), c.secondsPerSide(), c.offeredDocsPerSec(), c.writers(), c.batchDocs(), c.durability(),
        c.flushIntervalMs(), r.corpus(), r.corpusDocs(), r.processors(), r.java()));
    s.append("| side | docs/s | write p50 µs | write p99 µs | write p99.9 µs | write max µs | p99 from due µs"
        + " | segments end / max / mean 2nd half | flushes | compactions | write amp | Get p99 µs | search q/s"
        + " | search p99 ms | errors |\n");
    s.append("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (Side d : r.sides()) {
      s.append(String.format(Locale.ROOT,
          "| %s | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f | %d / %d / %.1f | %d | %d | %.2f | %,.0f | %,.1f"
              + " | %.1f | %s |%n",
          d.name(), d.achievedDocsPerSec(), d.write().p50Us(), d.write().p99Us(), d.write().p999Us(),
          d.write().maxUs(), d.writeFromDue().p99Us(), d.segmentsAtEnd(), d.segmentsMax(),
          d.segmentsMeanSecondHalf(), d.flushesPublished(), d.compactionsPublished(), d.writeAmp(),
          d.get().p99Us(), d.searchQps(), d.search().p99Us() / 1e3,
          d.errors().isEmpty() ? "-" : d.errors().toString()));
    }
    Side on = r.side(true);
    Side off = r.side(false);
    if (on != null && off != null) {
      s.append(String.format(Locale.ROOT,
          "%nwrite p99 on/off = %.2f (goal <= 1.5); p50 %.2f, p99.9 %.2f; Get p99 on/off %.2f; search q/s on/off %.2f%n",
          on.write().p99Us() / off.write().p99Us(), on.write().p50Us() / off.write().p50Us(),
          on.write().p999Us() / off.write().p999Us(), on.get().p99Us() / off.get().p99Us(),
          on.searchQps() / off.searchQps()));
    }
    s.append("\nSegments in fork main's head over time (s: on / off):\n");
    for (double frac : new double[] {0.1, 0.25, 0.5, 0.75, 1.0}) {
      double t = frac * c.secondsPerSide();
      s.append(String.format(Locale.ROOT, "  t=%.0f:", t));
      for (Side d : r.sides()) {
        s.append(' ').append(d.name()).append('=').append(segmentsAt(d, t));
      }
      s.append('\n');
    }
    for (Side d : r.sides()) {
      s.append(String.format(Locale.ROOT,
          "%s: %,d docs written, %d batches not sent, flush bytes %.1f MiB, compaction bytes %.1f MiB,"
              + " head %.1f MiB at end, compaction stalls %d (%d ms), flush-permit stall %d ms, GC %d ms;"
              + " reads at %d segments (compaction pending: %s), Get p50 %.0f us, %d misses, search p50 %.2f ms,"
              + " %d searches without hits%s%n",
          d.name(), d.docs(), d.batchesNotSent(), d.flushBytesWritten() / 1048576.0,
          d.compactionBytesWritten() / 1048576.0, d.headBytesAtEnd() / 1048576.0, d.compactionStalls(),
          d.compactionStallMs(), d.flushStallMs(), d.gcMs(), d.segmentsAtReads(), d.compactionPendingAtReads(),
          d.get().p50Us(), d.getMisses(), d.search().p50Us() / 1e3, d.searchesWithoutHits(),
          d.firstError() == null ? "" : "; first error: " + d.firstError()));
    }
    return s.toString();
  }

  private static int segmentsAt(Side d, double t) {
    int v = 0;
    for (Sample s : d.samples()) {
      if (s.t() <= t + 0.5) {
        v = s.segments();
      }
    }
    return v;
  }

  /** One row per sample of every side. */
  static String csv(Report r) {
    StringBuilder b = new StringBuilder(
        "side,t_s,docs,segments,head_bytes,flushes,compactions,flush_bytes,compaction_bytes,write_amp,l0_bytes,"
            + "pending_flushes,last_flush_ms,compactions_running,interval_writes,interval_p99_us,interval_max_us\n");
    for (Side d : r.sides()) {
      for (Sample s : d.samples()) {
        b.append(String.format(Locale.ROOT, "%s,%.3f,%d,%d,%d,%d,%d,%d,%d,%.4f,%d,%d,%d,%d,%d,%.1f,%.1f%n",
            d.name(), s.t(), s.docs(), s.segments(), s.headBytes(), s.flushes(), s.compactions(), s.flushBytes(),
            s.compactionBytes(), s.writeAmp(), s.l0Bytes(), s.pendingFlushes(), s.lastFlushMs(), s.compactionsRunning(), s.intervalWrites(),
            s.intervalP99Us(), s.intervalMaxUs()));
      }
    }
    return b.toString().replace("NaN", "");
  }

  private static void parkUntil(long nanos) {
    long wait;
    while ((wait = nanos - System.nanoTime()) > 0) {
      LockSupport.parkNanos(wait);
    }
  }

  private static long gcMillis() {
    long ms = 0;
    for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      ms += Math.max(0, gc.getCollectionTime());
    }
    return ms;
  }

  private static void log(String msg) {
    System.err.println("[CompactionSoak " + java.time.LocalTime.now().withNano(0) + "] " + msg);
  }

  /** Records, lists, maps, strings, numbers and enums as JSON (NaN as null). */
  static final class Json {
    private Json() {}

    static String of(Object o) {
      StringBuilder b = new StringBuilder();
      write(b, o);
      return b.toString();
    }

    private static void write(StringBuilder b, Object o) {
      switch (o) {
        case null -> b.append("null");
        case Double d when d.isNaN() || d.isInfinite() -> b.append("null");
        case Double d -> b.append(String.format(Locale.ROOT, "%.3f", d));
        case Number n -> b.append(n);
        case Boolean z -> b.append(z);
        case Record rec -> {
          Map<String, Object> m = new LinkedHashMap<>();
          for (var comp : rec.getClass().getRecordComponents()) {
            try {
              m.put(comp.getName(), comp.getAccessor().invoke(rec));
            } catch (ReflectiveOperationException e) {
              throw new IllegalStateException(e);
            }
          }
          write(b, m);
        }
        case Map<?, ?> m -> {
          b.append('{');
          String sep = "";
          for (var e : m.entrySet()) {
            b.append(sep);
            write(b, e.getKey().toString());
            b.append(": ");
            write(b, e.getValue());
            sep = ", ";
          }
          b.append('}');
        }
        case List<?> l -> {
          b.append('[');
          for (int i = 0; i < l.size(); i++) {
            b.append(i == 0 ? "" : ", ");
            write(b, l.get(i));
          }
          b.append(']');
        }
        default -> {
          String str = o.toString();
          b.append('"');
          for (char ch : str.toCharArray()) {
            if (ch == '"' || ch == '\\') {
              b.append('\\').append(ch);
            } else if (ch < 0x20) {
              b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
            } else {
              b.append(ch);
            }
          }
          b.append('"');
        }
      }
    }
  }
}
