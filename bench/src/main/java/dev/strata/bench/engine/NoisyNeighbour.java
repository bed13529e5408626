package dev.strata.bench.engine;

import static dev.strata.bench.Results.median;

import dev.strata.bench.BenchDirs;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.vfs.DelayedSyncVfs;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The noisy-neighbour workload of issue 11 (SPEC §5.7): fork B ({@code main}) under steady load,
 * once alone and once beside a fork A whose every fsync (WAL, manifests, directories) takes {@code
 * slowSyncMs} longer, on a disk shared with B. Both configurations run in one invocation,
 * interleaved (alone, slow A, alone, …) on fresh engines in scratch directories, with the same
 * file-system wrapper ({@link DelayedSyncVfs}) so they differ only in A's load and delay.
 *
 * <ul>
 *   <li>B: {@code writers} threads of SYNC writes of {@code batchDocs} documents ({@link Ingest}),
 *       and a {@link FlushProbe} asking for a flush every {@code flushEveryMs}, timing each ticket
 *       from the {@code flush()} call to its publication.
 *   <li>A (slow configuration only): the same kind of load, its fsyncs {@code slowSyncMs} slower:
 *       its writers wait on its slow WAL, its flushes on its slow manifests.
 * </ul>
 *
 * The result is B's write p99 and ticket p99 in each configuration (medians over the reps) and
 * their ratios, slow A over alone; issue 11 asks for at most 1.5. Not thread-safe: one run at a
 * time.
 */
public final class NoisyNeighbour {

  /** Sizes and durations of one noisy-neighbour run. */
  public record Config(
      double warmupSeconds,
      int reps,
      double seconds,
      int writers,
      int batchDocs,
      long flushEveryMs,
      long slowSyncMs,
      int slowForks) {

    /** About 1.5 minutes: a 4 s warm-up, then 3 interleaved reps of 10 s per configuration. */
    public static Config full() {
      return new Config(4, 3, 10, 4, 10, 100, 200, 1);
    }

    /** A few seconds, for CI: proves the workload runs, measures nothing. */
    public static Config smoke() {
      return new Config(0, 1, 1, 2, 5, 100, 50, 1);
    }
  }

  /**
   * One configuration's run: B's figures (latencies in ms) and A's throughput.
   *
   * @param slowNeighbour whether A was loaded with slow fsyncs
   */
  public record Run(
      boolean slowNeighbour,
      int rep,
      double seconds,
      long bWrites,
      double bWriteP50Ms,
      double bWriteP99Ms,
      int bTickets,
      double bTicketP50Ms,
      double bTicketP99Ms,
      long bFlushesPublished,
      long aWrites,
      long aFlushesPublished,
      long slowedSyncs,
      Map<String, Long> bErrors,
      String bReadOnly,
      String firstError) {}

  /** Both configurations' runs and the ratios of their medians. */
  public record Report(
      Config config,
      List<Run> runs,
      double writeP99AloneMs,
      double writeP99SlowMs,
      double ticketP99AloneMs,
      double ticketP99SlowMs,
      double writeP99Ratio,
      double ticketP99Ratio) {}

  private final Config config;
  private final Path scratchRoot;
  private final DocumentSource docs;

  NoisyNeighbour(Config config, Path scratchRoot, DocumentSource docs) {
    this.config = config;
    this.scratchRoot = scratchRoot;
    this.docs = docs;
  }

  /** Runs every rep of both configurations; progress goes to stderr. */
  Report run() throws Exception {
    if (config.warmupSeconds() > 0) {
      log("warm-up (JIT) " + config.warmupSeconds() + " s, B alone, discarded");
      runOnce(false, 0, config.warmupSeconds());
    }
    List<Run> runs = new ArrayList<>();
    for (int rep = 1; rep <= config.reps(); rep++) {
      for (int k = 0; k < 2; k++) {
        boolean slow = (k + rep) % 2 == 0; // alternate which configuration goes first
        Run r = runOnce(slow, rep, config.seconds());
        log(String.format(Locale.ROOT,
            "noisy %s rep=%d: B write p99 %.1f ms, ticket p99 %.0f ms, %d flushes; A %d writes, %d flushes%s",
            slow ? "slow-A" : "alone", rep, r.bWriteP99Ms(), r.bTicketP99Ms(), r.bFlushesPublished(),
            r.aWrites(), r.aFlushesPublished(), r.firstError() == null ? "" : ", error " + r.firstError()));
        runs.add(r);
      }
    }
    List<Run> alone = runs.stream().filter(r -> !r.slowNeighbour()).toList();
    List<Run> slow = runs.stream().filter(Run::slowNeighbour).toList();
    double wA = median(alone, Run::bWriteP99Ms);
    double wS = median(slow, Run::bWriteP99Ms);
    double tA = median(alone, Run::bTicketP99Ms);
    double tS = median(slow, Run::bTicketP99Ms);
    return new Report(config, runs, wA, wS, tA, tS, wS / wA, tS / tA);
  }

  private Run runOnce(boolean slowNeighbour, int rep, double seconds) throws Exception {
    Path dir = BenchDirs.create(scratchRoot, "engine-noisy-");
    DelayedSyncVfs vfs = new DelayedSyncVfs(LocalVfs.INSTANCE, 60_000);
    EngineOptions options = EngineOptions.builder().flushIntervalMs(0).build();
    try (StrataEngine engine = StrataEngine.open(dir, vfs, options)) {
      Fork b = engine.fork(StrataEngine.MAIN);
      b.createOrGetCollection("docs", DocumentSource.SCHEMA);
      // The neighbours fork from B's first snapshot, which gives them the collection too.
      b.write("docs", docs.puts(config.writers(), 0, 1), Durability.SYNC);
      b.awaitTicket(b.flush(options.writeStallTimeoutMs())).get(60, TimeUnit.SECONDS);
      List<Fork> neighbours = new ArrayList<>();
      for (int i = 0; i < config.slowForks(); i++) {
        Fork a = engine.createFork("neighbour-" + i, null, StrataEngine.MAIN, false, 10_000);
        neighbours.add(a);
        if (slowNeighbour) {
          vfs.delay(dir.resolve("forks").resolve(a.id()), config.slowSyncMs());
        }
      }
      long bPublishedBefore = b.stats().flushesPublished();
      List<Ingest> aIngest = new ArrayList<>();
      List<FlushProbe> aProbes = new ArrayList<>();
      if (slowNeighbour) {
        for (Fork a : neighbours) {
          aIngest.add(new Ingest(a, "docs", docs, config.writers(), config.batchDocs(), Durability.SYNC));
          aProbes.add(new FlushProbe(a, config.flushEveryMs() / 2, options.writeStallTimeoutMs()));
        }
      }
      Ingest bIngest = new Ingest(b, "docs", docs, config.writers(), config.batchDocs(), Durability.SYNC);
      FlushProbe bProbe = new FlushProbe(b, config.flushEveryMs(), options.writeStallTimeoutMs());
      aIngest.forEach(Ingest::start);
      aProbes.forEach(FlushProbe::start);
      bIngest.start();
      bProbe.start();
      Thread.sleep((long) (seconds * 1000));
      Ingest.Result bw = bIngest.stop();
      FlushProbe.Result bp = bProbe.stop(60_000);
      long aWrites = 0;
      for (Ingest i : aIngest) {
        aWrites += i.stop().writes();
      }
      for (FlushProbe p : aProbes) {
        p.stop(60_000);
      }
      long aPublished = neighbours.stream().mapToLong(a -> a.stats().flushesPublished()).sum();
      String err = bw.firstError() != null ? bw.firstError() : bp.firstError();
      return new Run(
          slowNeighbour,
          rep,
          bw.seconds(),
          bw.writes(),
          bw.writeNanos().percentile(50) / 1e6,
          bw.writeNanos().percentile(99) / 1e6,
          bp.ticketNanos().size(),
          bp.ticketNanos().percentile(50) / 1e6,
          bp.ticketNanos().percentile(99) / 1e6,
          b.stats().flushesPublished() - bPublishedBefore,
          aWrites,
          aPublished,
          vfs.slowedSyncs(),
          bw.errors(),
          b.readOnlyReason(),
          err);
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /** The report as a Markdown table. */
  static String markdown(Report r) {
    Config c = r.config();
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT,
        "%nNoisy neighbour (B = main: %d SYNC writers × %d docs, flush() every %d ms; %d neighbour fork(s) A with"
            + " the same load and every fsync %d ms slower; median of %d interleaved runs of %.1f s each):%n%n",
        c.writers(), c.batchDocs(), c.flushEveryMs(), c.slowForks(), c.slowSyncMs(), c.reps(), c.seconds()));
    s.append("| configuration | B writes/s | B write p50 ms | B write p99 ms | B tickets | B ticket p50 ms"
        + " | B ticket p99 ms | B flushes | A writes/s | A flushes | slowed fsyncs | B errors |\n");
    s.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (boolean slow : new boolean[] {false, true}) {
      List<Run> runs = r.runs().stream().filter(x -> x.slowNeighbour() == slow).toList();
      if (runs.isEmpty()) {
        continue;
      }
      long errors = runs.stream().mapToLong(x -> x.bErrors().values().stream().mapToLong(Long::longValue).sum()).sum();
      boolean readOnly = runs.stream().anyMatch(x -> x.bReadOnly() != null);
      s.append(String.format(Locale.ROOT, "| %s | %,.0f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f | %,.0f | %.0f | %.0f | %s |%n",
          slow ? "B beside slow A" : "B alone",
          median(runs, x -> x.bWrites() / x.seconds()), median(runs, Run::bWriteP50Ms), median(runs, Run::bWriteP99Ms),
          median(runs, x -> x.bTickets()), median(runs, Run::bTicketP50Ms), median(runs, Run::bTicketP99Ms),
          median(runs, x -> x.bFlushesPublished()), median(runs, x -> x.aWrites() / x.seconds()),
          median(runs, x -> x.aFlushesPublished()), median(runs, x -> x.slowedSyncs()),
          errors == 0 && !readOnly ? "-" : errors + (readOnly ? ", B read-only" : "")));
    }
    s.append(String.format(Locale.ROOT,
        "%nB beside slow A / B alone: write p99 %.2f×, ticket p99 %.2f× (issue 11 asks for ≤ 1.5×)%n",
        r.writeP99Ratio(), r.ticketP99Ratio()));
    for (Run x : r.runs()) {
      if (x.firstError() != null || x.bReadOnly() != null) {
        s.append("\n").append(x.slowNeighbour() ? "slow-A" : "alone").append(" rep ").append(x.rep()).append(": ")
            .append(x.firstError() != null ? x.firstError() : "B read-only: " + x.bReadOnly());
      }
    }
    return s.toString();
  }

  private static void log(String msg) {
    System.err.println("[NoisyNeighbour " + LocalTime.now().withNano(0) + "] " + msg);
  }
}
