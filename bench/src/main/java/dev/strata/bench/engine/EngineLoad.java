package dev.strata.bench.engine;

import dev.strata.engine.fork.ForkStats;
import static dev.strata.bench.Results.json;
import static dev.strata.bench.Results.median;

import dev.strata.bench.BenchDirs;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * In-process load generator against {@link StrataEngine} (issue #3 closing numbers). Every run
 * opens a fresh engine in a scratch directory ({@link BenchDirs}), writes to fork {@code main},
 * and deletes the directory afterwards.
 *
 * <ol>
 *   <li><b>put</b>: {@code writers} threads put new small documents (TEXT body of ~200 chars,
 *       KEYWORD, LONG) as fast as they can, for SYNC and ASYNC durability and batches of 1 and 100
 *       documents per write, engine defaults otherwise (64 MiB L0, interval flush every second).
 *   <li><b>flush</b>: the same writers (ASYNC, batches of 100) with a small {@code l0MaxBytes} and
 *       no interval flush, while {@link FlushProbe} asks for a flush every {@code flushEveryMs}
 *       and times each ticket; for {@code maxPendingFlushes} = 1, 2, 4. Flushes/s counts published
 *       snapshots (explicit and size-triggered); writer stall is the engine's permit-wait time
 *       minus the probe's own time inside {@code flush()}.
 * </ol>
 *
 * Repetitions are interleaved (rep 1 of every configuration, then rep 2, …, each rep starting the
 * cycle one configuration later) and summarised by their median. {@code --smoke} runs tiny sizes
 * in a few seconds, for CI. {@code --only noisy} runs the noisy-neighbour workload instead ({@link
 * NoisyNeighbour}: fork B alone and beside a fork with slow fsyncs). Usage: {@code EngineLoad
 * [--smoke] [--only put|flush|noisy] [--out results.json]}.
 */
public final class EngineLoad {

  /** Every size and duration of one load run. */
  public record Config(
      String name,
      int writers,
      double warmupSeconds,
      double putSeconds,
      int putReps,
      int[] putBatchDocs,
      double flushSeconds,
      int flushReps,
      int[] maxPendingFlushes,
      long flushL0MaxBytes,
      long flushEveryMs,
      int flushBatchDocs) {

    /** About three to four minutes on two cores. */
    public static Config full() {
      return new Config("full", 8, 4, 6, 2, new int[] {1, 100}, 10, 3, new int[] {1, 2, 4}, 16L << 20, 100, 100);
    }

    /** A few seconds: proves the generator runs, measures nothing. */
    public static Config smoke() {
      return new Config("smoke", 2, 0, 0.5, 1, new int[] {1, 20}, 1, 1, new int[] {1, 2, 4}, 256L << 10, 50, 20);
    }
  }

  /** One put run. Latencies in microseconds. */
  public record PutRun(
      String durability,
      int batchDocs,
      int rep,
      double seconds,
      long docs,
      long writes,
      double docsPerSec,
      double writesPerSec,
      double writeP50Us,
      double writeP99Us,
      double writeMaxUs,
      long flushesPublished,
      long stallMs,
      long gcMs,
      Map<String, Long> errors,
      String firstError) {}

  /** One flush run. Latencies in milliseconds. */
  public record FlushRun(
      int maxPendingFlushes,
      int rep,
      double seconds,
      long docs,
      double docsPerSec,
      long flushesPublished,
      double flushesPerSec,
      int tickets,
      double ticketP50Ms,
      double ticketP99Ms,
      double ticketMaxMs,
      double flushCallP99Ms,
      long engineStallMs,
      long writerStallMs,
      double writerStallPct,
      double writeP99Ms,
      double writeMaxMs,
      int segmentsAtEnd,
      long gcMs,
      Map<String, Long> writeErrors,
      long ticketErrors,
      int ticketsUnresolved,
      String firstError) {}

  /** Everything one invocation measured. */
  public record Report(Config config, String startedAt, List<PutRun> puts, List<FlushRun> flushes) {}

  private final Config config;
  private final Path scratchRoot;
  private boolean runPuts = true;
  private boolean runFlushes = true;
  private final DocumentSource docs = new DocumentSource(20261123L);

  /**
   * @param scratchRoot where each run's engine directory is made (see {@link BenchDirs#root()})
   */
  public EngineLoad(Config config, Path scratchRoot) {
    this.config = config;
    this.scratchRoot = scratchRoot;
  }

  public static void main(String[] args) throws Exception {
    Config config = Config.full();
    Path out = null;
    String only = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--smoke" -> config = Config.smoke();
        case "--out" -> out = Paths.get(args[++i]);
        case "--only" -> only = args[++i];
        default -> {
          System.err.println("usage: EngineLoad [--smoke] [--only put|flush|noisy] [--out results.json]");
          System.exit(2);
        }
      }
    }
    if ("noisy".equals(only)) {
      NoisyNeighbour.Config noisy =
          config.name().equals("smoke") ? NoisyNeighbour.Config.smoke() : NoisyNeighbour.Config.full();
      NoisyNeighbour.Report report = new NoisyNeighbour(noisy, BenchDirs.root(), new DocumentSource(20261123L)).run();
      System.out.println(NoisyNeighbour.markdown(report));
      writeJson(out, json(report));
      return;
    }
    EngineLoad load = new EngineLoad(config, BenchDirs.root());
    if (only != null) {
      load.runPuts = only.equals("put");
      load.runFlushes = only.equals("flush");
    }
    Report report = load.run();
    System.out.println(markdown(report));
    writeJson(out, json(report));
  }

  private static void writeJson(Path out, String json) throws IOException {
    if (out == null) {
      return;
    }
    if (out.getParent() != null) {
      Files.createDirectories(out.getParent());
    }
    Files.writeString(out, json, StandardCharsets.UTF_8);
    System.out.println("JSON: " + out.toAbsolutePath());
  }

  /** Runs only the flush-pipeline phase (and the warm-up); progress goes to stderr. */
  public Report runFlushPipeline() throws Exception {
    runPuts = false;
    runFlushes = true;
    return run();
  }

  /** Runs every phase; progress goes to stderr. */
  public Report run() throws Exception {
    String started = Instant.now().toString();
    log("config " + config.name() + ": " + config.writers() + " writers, scratch under " + scratchRoot);
    if (config.warmupSeconds() > 0 && (runPuts || runFlushes)) {
      log("warm-up (JIT) " + config.warmupSeconds() + " s, discarded");
      putRun(Durability.ASYNC, 100, 0, config.warmupSeconds());
    }
    List<PutRun> puts = new ArrayList<>();
    List<String[]> putCases = new ArrayList<>();
    for (Durability d : List.of(Durability.SYNC, Durability.ASYNC)) {
      for (int b : config.putBatchDocs()) {
        putCases.add(new String[] {d.name(), Integer.toString(b)});
      }
    }
    for (int rep = 1; runPuts && rep <= config.putReps(); rep++) {
      for (int k = 0; k < putCases.size(); k++) {
        String[] c = putCases.get((k + rep - 1) % putCases.size());
        PutRun r = putRun(Durability.valueOf(c[0]), Integer.parseInt(c[1]), rep, config.putSeconds());
        log(String.format(Locale.ROOT, "put %s batch=%d rep=%d: %.0f docs/s, %.0f writes/s, p99 %.0f us, stall %d ms%s",
            r.durability(), r.batchDocs(), rep, r.docsPerSec(), r.writesPerSec(), r.writeP99Us(), r.stallMs(),
            r.errors().isEmpty() ? "" : ", errors " + r.errors()));
        puts.add(r);
      }
    }
    List<FlushRun> flushes = new ArrayList<>();
    int[] mpfs = config.maxPendingFlushes();
    for (int rep = 1; runFlushes && rep <= config.flushReps(); rep++) {
      for (int k = 0; k < mpfs.length; k++) {
        int mpf = mpfs[(k + rep - 1) % mpfs.length];
        FlushRun r = flushRun(mpf, rep);
        log(String.format(Locale.ROOT,
            "flush maxPendingFlushes=%d rep=%d: %.0f docs/s, %.1f flushes/s, ticket p50 %.0f ms p99 %.0f ms,"
                + " writer stall %.1f%%, segments %d%s",
            mpf, rep, r.docsPerSec(), r.flushesPerSec(), r.ticketP50Ms(), r.ticketP99Ms(), r.writerStallPct(),
            r.segmentsAtEnd(), r.firstError() == null ? "" : ", error " + r.firstError()));
        flushes.add(r);
      }
    }
    return new Report(config, started, puts, flushes);
  }

  private PutRun putRun(Durability durability, int batchDocs, int rep, double seconds) throws Exception {
    EngineOptions options = EngineOptions.builder().build();
    Path dir = BenchDirs.create(scratchRoot, "engine-load-put-");
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options)) {
      Fork fork = engine.fork(StrataEngine.MAIN);
      fork.createOrGetCollection("docs", DocumentSource.SCHEMA);
      ForkStats before = fork.stats();
      long gcBefore = gcMillis();
      Ingest ingest = new Ingest(fork, "docs", docs, config.writers(), batchDocs, durability);
      ingest.start();
      sleepSeconds(seconds);
      Ingest.Result r = ingest.stop();
      ForkStats after = fork.stats();
      return new PutRun(
          durability.name(),
          batchDocs,
          rep,
          r.seconds(),
          r.docs(),
          r.writes(),
          r.docs() / r.seconds(),
          r.writes() / r.seconds(),
          r.writeNanos().percentile(50) / 1e3,
          r.writeNanos().percentile(99) / 1e3,
          r.writeNanos().max() / 1e3,
          after.flushesPublished() - before.flushesPublished(),
          after.stallTimeMs() - before.stallTimeMs(),
          gcMillis() - gcBefore,
          r.errors(),
          r.firstError() != null ? r.firstError() : after.readOnlyReason());
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  private FlushRun flushRun(int maxPendingFlushes, int rep) throws Exception {
    EngineOptions options =
        EngineOptions.builder()
            .maxPendingFlushes(maxPendingFlushes)
            .l0MaxBytes(config.flushL0MaxBytes())
            .flushIntervalMs(0)
            .build();
    Path dir = BenchDirs.create(scratchRoot, "engine-load-flush-");
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options)) {
      Fork fork = engine.fork(StrataEngine.MAIN);
      fork.createOrGetCollection("docs", DocumentSource.SCHEMA);
      ForkStats before = fork.stats();
      Ingest ingest =
          new Ingest(fork, "docs", docs, config.writers(), config.flushBatchDocs(), Durability.ASYNC);
      FlushProbe probe = new FlushProbe(fork, config.flushEveryMs(), options.writeStallTimeoutMs());
      long gcBefore = gcMillis();
      ingest.start();
      probe.start();
      sleepSeconds(config.flushSeconds());
      Ingest.Result w = ingest.stop();
      ForkStats atStop = fork.stats();
      long gcMs = gcMillis() - gcBefore;
      FlushProbe.Result p = probe.stop(60_000);
      ForkStats after = fork.stats();
      long engineStallMs = atStop.stallTimeMs() - before.stallTimeMs();
      long probeWaitMs = p.flushCallNanos().sum() / 1_000_000;
      long writerStallMs = Math.max(0, engineStallMs - probeWaitMs);
      String err = w.firstError() != null ? w.firstError() : p.firstError();
      if (err == null) {
        err = after.readOnlyReason();
      }
      return new FlushRun(
          maxPendingFlushes,
          rep,
          w.seconds(),
          w.docs(),
          w.docs() / w.seconds(),
          atStop.flushesPublished() - before.flushesPublished(),
          (atStop.flushesPublished() - before.flushesPublished()) / w.seconds(),
          p.ticketNanos().size(),
          p.ticketNanos().percentile(50) / 1e6,
          p.ticketNanos().percentile(99) / 1e6,
          p.ticketNanos().max() / 1e6,
          p.flushCallNanos().percentile(99) / 1e6,
          engineStallMs,
          writerStallMs,
          100.0 * writerStallMs / (config.writers() * w.seconds() * 1000),
          w.writeNanos().percentile(99) / 1e6,
          w.writeNanos().max() / 1e6,
          after.segmentCount(),
          gcMs,
          w.errors(),
          p.errors(),
          p.unresolved(),
          err);
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  // ------------------------------------------------------------------ report

  static String markdown(Report r) {
    StringBuilder s = new StringBuilder();
    Config c = r.config();
    s.append(String.format(Locale.ROOT,
        "%nEngineLoad (%s), started %s: %d writers, %d processors, java %s%n%n",
        c.name(), r.startedAt(), c.writers(), Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version")));
    s.append(String.format(Locale.ROOT,
        "Put throughput (median of %d runs of %.1f s; engine defaults):%n%n", c.putReps(), c.putSeconds()));
    s.append("| durability | docs/write | docs/s | writes/s | write p50 µs | write p99 µs | flushes | stall ms | GC ms | errors |\n");
    s.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (String d : List.of("SYNC", "ASYNC")) {
      for (int b : c.putBatchDocs()) {
        List<PutRun> runs = r.puts().stream().filter(p -> p.durability().equals(d) && p.batchDocs() == b).toList();
        if (runs.isEmpty()) {
          continue;
        }
        s.append(String.format(Locale.ROOT, "| %s | %d | %,.0f | %,.0f | %,.0f | %,.0f | %.0f | %.0f | %.0f | %s |%n",
            d, b, median(runs, PutRun::docsPerSec), median(runs, PutRun::writesPerSec),
            median(runs, PutRun::writeP50Us), median(runs, PutRun::writeP99Us),
            median(runs, p -> p.flushesPublished()), median(runs, p -> p.stallMs()), median(runs, p -> p.gcMs()),
            errorsOf(runs.stream().map(PutRun::errors).toList())));
      }
    }
    s.append(String.format(Locale.ROOT,
        "%nFlush pipeline under sustained ingest (ASYNC, %d docs/write, l0MaxBytes %d KiB, flush() every %d ms;"
            + " median of %d runs of %.1f s):%n%n",
        c.flushBatchDocs(), c.flushL0MaxBytes() >> 10, c.flushEveryMs(), c.flushReps(), c.flushSeconds()));
    s.append("| maxPendingFlushes | docs/s | flushes/s | tickets | ticket p50 ms | ticket p99 ms | ticket max ms"
        + " | flush() p99 ms | writer stall % | write p99 ms | segments at end | GC ms | errors |\n");
    s.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int mpf : c.maxPendingFlushes()) {
      List<FlushRun> runs = r.flushes().stream().filter(f -> f.maxPendingFlushes() == mpf).toList();
      if (runs.isEmpty()) {
        continue;
      }
      long ticketErrors = runs.stream().mapToLong(f -> f.ticketErrors() + f.ticketsUnresolved()).sum();
      String errors = errorsOf(runs.stream().map(FlushRun::writeErrors).toList());
      if (ticketErrors > 0) {
        errors = (errors.equals("-") ? "" : errors + ", ") + "tickets failed/unresolved " + ticketErrors;
      }
      s.append(String.format(Locale.ROOT,
          "| %d | %,.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f | %s |%n",
          mpf, median(runs, FlushRun::docsPerSec), median(runs, FlushRun::flushesPerSec),
          median(runs, f -> f.tickets()), median(runs, FlushRun::ticketP50Ms), median(runs, FlushRun::ticketP99Ms),
          median(runs, FlushRun::ticketMaxMs), median(runs, FlushRun::flushCallP99Ms),
          median(runs, FlushRun::writerStallPct), median(runs, FlushRun::writeP99Ms),
          median(runs, f -> f.segmentsAtEnd()), median(runs, f -> f.gcMs()), errors));
    }
    for (FlushRun f : r.flushes()) {
      if (f.firstError() != null) {
        s.append("\nmaxPendingFlushes=").append(f.maxPendingFlushes()).append(" rep ").append(f.rep())
            .append(": ").append(f.firstError());
      }
    }
    for (PutRun p : r.puts()) {
      if (p.firstError() != null) {
        s.append("\nput ").append(p.durability()).append('/').append(p.batchDocs()).append(" rep ")
            .append(p.rep()).append(": ").append(p.firstError());
      }
    }
    return s.toString();
  }

  private static String errorsOf(List<Map<String, Long>> maps) {
    java.util.TreeMap<String, Long> all = new java.util.TreeMap<>();
    maps.forEach(m -> m.forEach((k, v) -> all.merge(k, v, Long::sum)));
    return all.isEmpty() ? "-" : all.toString();
  }

  /** Collection time of every garbage collector of this JVM so far, in milliseconds. */
  private static long gcMillis() {
    long ms = 0;
    for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
      ms += Math.max(0, gc.getCollectionTime());
    }
    return ms;
  }

  private static void sleepSeconds(double s) throws InterruptedException {
    Thread.sleep((long) (s * 1000));
  }

  private static void log(String msg) {
    System.err.println("[EngineLoad " + java.time.LocalTime.now().withNano(0) + "] " + msg);
  }

  /** The report as JSON (what {@code --out} writes). */
  public static String toJson(Report r) {
    return json(r);
  }

  /** The report as Markdown tables (what {@code main} prints). */
  public static String toMarkdown(Report r) {
    return markdown(r);
  }
}
