package dev.strata.bench.peers;

import static dev.strata.bench.Results.median;

import dev.strata.bench.Results;
import dev.strata.bench.engine.EngineLoad;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * Everything one {@link PeerBenchmark} run measured, and its renderings: Markdown tables (medians
 * over repetitions and ratios of medians), CSV and JSON of every single run, PNG plots.
 *
 * @param info machine, versions, load times: key to value, in order
 * @param measurements every closed-loop run
 * @param timings every single timed operation (fork create and drop)
 * @param notes what was skipped and why
 * @param flush the flush-pipeline report (workload 4), or null if it did not run
 * @param recoveries every kill -9 and restart of workload 6
 */
public record PeerReport(
    PeerConfig config,
    Map<String, String> info,
    List<Measurement> measurements,
    List<Timing> timings,
    List<String> notes,
    EngineLoad.Report flush,
    List<Recovery> recoveries) {

  /**
   * One closed-loop run of one side.
   *
   * @param workload {@code ping}, {@code get}, {@code batchget}, {@code search}, {@code search-inprocess}, {@code ingest}
   * @param batchDocs documents per write (ingest), else 0
   * @param opsPerSec calls per second; {@code unitsPerSec}: documents (ingest) or hits (search) per second
   * @param p50Us median call latency, microseconds; {@code p99Us} the 99th percentile
   */
  public record Measurement(
      String workload,
      String side,
      int clients,
      int batchDocs,
      int rep,
      double seconds,
      long ops,
      long units,
      double opsPerSec,
      double unitsPerSec,
      double p50Us,
      double p99Us,
      long errors,
      String firstError,
      double clientCpuUsPerOp) {

    /** A measurement from a closed-loop result. */
    public static Measurement of(String workload, String side, int batchDocs, int rep, ClosedLoop.Result r) {
      return new Measurement(workload, side, r.clients(), batchDocs, rep, r.seconds(), r.ops(), r.units(),
          r.opsPerSec(), r.unitsPerSec(), r.p50Us(), r.p99Us(), r.errorCount(), r.firstError(), r.clientCpuUsPerOp());
    }
  }

  /** One timed operation, in milliseconds; {@code docs} is the size of the data it applied to. */
  public record Timing(String workload, String side, String operation, long docs, int rep, double millis) {}

  /**
   * One kill -9 and restart of workload 6.
   *
   * @param walBytes bytes of the unflushed WAL on disk at the kill (Strata: every file of the forks'
   *     {@code wal} directories; RocksDB: its {@code *.log} files)
   * @param docs documents written before the kill
   * @param loadSeconds time to write them (not part of the comparison)
   * @param restartMs from starting the process until it serves (Strata: health check SERVING;
   *     RocksDB: {@code RocksDB.open} returned in the child), JVM start included
   * @param recoveryMs the store's own recovery (Strata: "recovered in N ms" of the server's log, the
   *     engine's open; RocksDB: {@code RocksDB.open} timed inside the child)
   * @param replayMibPerSec {@code walBytes} in MiB divided by {@code recoveryMs} in seconds
   * @param idsChecked acknowledged ids read back after the restart; {@code idsFound} of them found
   */
  public record Recovery(String side, int rep, long walBytes, long docs, double loadSeconds, double restartMs,
      double recoveryMs, double replayMibPerSec, int idsChecked, int idsFound) {}

  /** The median of {@code metric} over the recoveries of {@code side}; NaN if none. */
  public double medianRecovery(String side, ToDoubleFunction<Recovery> metric) {
    return Results.median(recoveries.stream().filter(r -> r.side().equals(side)).toList(), metric);
  }

  /** Measurements of one workload, side, client count and batch size. */
  public List<Measurement> runs(String workload, String side, int clients, int batchDocs) {
    return measurements.stream()
        .filter(m -> m.workload().equals(workload) && m.side().equals(side) && m.clients() == clients
            && m.batchDocs() == batchDocs)
        .toList();
  }

  /** The median of {@code metric} over the runs of one workload, side, client count and batch size; NaN if none. */
  public double median(String workload, String side, int clients, int batchDocs, ToDoubleFunction<Measurement> metric) {
    return Results.median(runs(workload, side, clients, batchDocs), metric);
  }

  /** The median time of a timed operation, in ms; NaN if none. */
  public double medianMillis(String workload, String side, String operation, long docs) {
    return Results.median(timings.stream()
        .filter(t -> t.workload().equals(workload) && t.side().equals(side) && t.operation().equals(operation)
            && t.docs() == docs)
        .toList(), Timing::millis);
  }

  /** Sides of a workload, in first-run order. */
  public List<String> sides(String workload) {
    Set<String> s = new LinkedHashSet<>();
    measurements.stream().filter(m -> m.workload().equals(workload)).forEach(m -> s.add(m.side()));
    timings.stream().filter(t -> t.workload().equals(workload)).forEach(t -> s.add(t.side()));
    if (workload.equals("recovery")) {
      recoveries.forEach(r -> s.add(r.side()));
    }
    return new ArrayList<>(s);
  }

  /** {@code a / b}, NaN if either is missing or {@code b} is 0. */
  static double ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? Double.NaN : a / b;
  }

  // ------------------------------------------------------------------ Markdown

  /** Every table, in workload order, with the run's conditions on top. */
  public String markdown() {
    StringBuilder s = new StringBuilder();
    s.append("Run ").append(config.name()).append(": ").append(config).append("\n\n");
    s.append("| | |\n|---|---|\n");
    info.forEach((k, v) -> s.append("| ").append(k).append(" | ").append(v.replace("|", "/")).append(" |\n"));
    for (String n : notes) {
      s.append("\nNote: ").append(n).append('\n');
    }
    throughputTable(s, "ingest", "Workload 1: durable ingest (SYNC; PostgreSQL: one transaction per batch)", "docs/s",
        Measurement::unitsPerSec, 1e3, "ms");
    throughputTable(s, "get", "Workload 2: point Get, ids uniformly at random", "gets/s", Measurement::opsPerSec, 1, "µs");
    throughputTable(s, "batchget", "Workload 8: BatchGet of " + PeerConfig.BATCH_GET_IDS
        + " ids uniformly at random (PostgreSQL: `WHERE id = ANY($1)`)", "docs/s", Measurement::unitsPerSec, 1, "µs");
    throughputTable(s, "search", "Workload 3: full-text search over the network, top 10 by score", "queries/s",
        Measurement::opsPerSec, 1, "µs");
    throughputTable(s, "search-inprocess", "Workload 3: full-text search in-process (Strata engine vs raw Lucene, same segment count)",
        "queries/s", Measurement::opsPerSec, 1, "µs");
    cpuTable(s, "search-inprocess", "Workload 3 in-process: CPU time of the querying threads per query "
        + "(robust to other load on the machine; ratios are the other side's µs over the first side's)");
    forkTable(s);
    flushTable(s);
    recoveryTable(s);
    throughputTable(s, "ping", "Workload 7: the gRPC ceiling: Strata's health check vs a bare grpc-java echo server "
        + "(same version and transport, direct executor, same client) and PostgreSQL's `SELECT 1`", "calls/s",
        Measurement::opsPerSec, 1, "µs");
    goals13(s);
    goals(s);
    errors(s);
    return s.toString();
  }

  /** Per client count: each side's median CPU µs per call of its calling threads, and the first side's speed-up. */
  private void cpuTable(StringBuilder s, String workload, String title) {
    List<String> sides = sides(workload);
    if (sides.isEmpty()) {
      return;
    }
    s.append("\n### ").append(title).append("\n\n| clients |");
    StringBuilder align = new StringBuilder("|---:|");
    for (String side : sides) {
      s.append(' ').append(side).append(" CPU µs/query |");
      align.append("---:|");
    }
    String first = sides.get(0);
    for (String side : sides.subList(1, sides.size())) {
      s.append(' ').append(side).append(" / ").append(first).append(" (CPU) |");
      align.append("---:|");
    }
    s.append('\n').append(align).append('\n');
    measurements.stream().filter(m -> m.workload().equals(workload)).map(Measurement::clients).distinct().forEach(c -> {
      s.append("| ").append(c).append(" |");
      for (String side : sides) {
        s.append(' ').append(num(median(workload, side, c, 0, Measurement::clientCpuUsPerOp))).append(" |");
      }
      double base = median(workload, first, c, 0, Measurement::clientCpuUsPerOp);
      for (String side : sides.subList(1, sides.size())) {
        s.append(' ').append(times(ratio(median(workload, side, c, 0, Measurement::clientCpuUsPerOp), base))).append(" |");
      }
      s.append('\n');
    });
  }

  private void throughputTable(StringBuilder s, String workload, String title, String unit,
      ToDoubleFunction<Measurement> metric, double latencyDivisor, String latencyUnit) {
    List<String> sides = sides(workload);
    if (sides.isEmpty()) {
      return;
    }
    s.append("\n### ").append(title).append("\n\n");
    boolean batched = workload.equals("ingest");
    boolean hits = workload.startsWith("search");
    String first = sides.get(0);
    StringBuilder head = new StringBuilder(batched ? "| docs/batch | clients |" : "| clients |");
    StringBuilder align = new StringBuilder(batched ? "|---:|---:|" : "|---:|");
    for (String side : sides) {
      head.append(' ').append(side).append(' ').append(unit).append(" |");
      align.append("---:|");
    }
    for (String side : sides.subList(1, sides.size())) {
      head.append(' ').append(first).append(" / ").append(side).append(" |");
      align.append("---:|");
    }
    for (String side : sides) {
      head.append(' ').append(side).append(" p50 / p99 ").append(latencyUnit).append(" |");
      align.append("---:|");
    }
    if (hits) {
      for (String side : sides) {
        head.append(' ').append(side).append(" hits/query |");
        align.append("---:|");
      }
    }
    s.append(head).append('\n').append(align).append('\n');
    List<int[]> rows = new ArrayList<>();
    measurements.stream().filter(m -> m.workload().equals(workload)).forEach(m -> {
      int[] key = {m.batchDocs(), m.clients()};
      if (rows.stream().noneMatch(r -> r[0] == key[0] && r[1] == key[1])) {
        rows.add(key);
      }
    });
    for (int[] row : rows) {
      s.append(batched ? "| " + row[0] + " | " + row[1] + " |" : "| " + row[1] + " |");
      double base = median(workload, first, row[1], row[0], metric);
      for (String side : sides) {
        s.append(' ').append(num(median(workload, side, row[1], row[0], metric))).append(" |");
      }
      for (String side : sides.subList(1, sides.size())) {
        s.append(' ').append(times(ratio(base, median(workload, side, row[1], row[0], metric)))).append(" |");
      }
      for (String side : sides) {
        s.append(' ').append(num(median(workload, side, row[1], row[0], Measurement::p50Us) / latencyDivisor))
            .append(" / ").append(num(median(workload, side, row[1], row[0], Measurement::p99Us) / latencyDivisor))
            .append(" |");
      }
      if (hits) {
        for (String side : sides) {
          s.append(' ').append(String.format(Locale.ROOT, "%.1f",
              median(workload, side, row[1], row[0], m -> m.ops() == 0 ? Double.NaN : (double) m.units() / m.ops())))
              .append(" |");
        }
      }
      s.append('\n');
    }
    s.append(String.format(Locale.ROOT, "%nMedians of %d interleaved runs of %.1f s each; ratios are ratios of the medians.%n",
        config.reps(), config.runSeconds()));
  }

  private void forkTable(StringBuilder s) {
    List<String> sides = sides("forks");
    if (sides.isEmpty()) {
      return;
    }
    s.append("\n### Workload 5: fork create and drop vs CREATE DATABASE … TEMPLATE (ms, medians of ")
        .append(config.forkReps()).append(")\n\n");
    StringBuilder head = new StringBuilder("| documents |");
    StringBuilder align = new StringBuilder("|---:|");
    for (String side : sides) {
      head.append(' ').append(side).append(" create | ").append(side).append(" drop |");
      align.append("---:|---:|");
    }
    for (String side : sides.subList(1, sides.size())) {
      head.append(" create: ").append(side).append(" / Strata |");
      align.append("---:|");
    }
    s.append(head).append('\n').append(align).append('\n');
    timings.stream().filter(t -> t.workload().equals("forks")).map(Timing::docs).distinct().forEach(docs -> {
      s.append("| ").append(String.format(Locale.ROOT, "%,d", docs)).append(" |");
      for (String side : sides) {
        s.append(' ').append(ms(medianMillis("forks", side, "create", docs))).append(" | ")
            .append(ms(medianMillis("forks", side, "drop", docs))).append(" |");
      }
      double strata = medianMillis("forks", sides.get(0), "create", docs);
      for (String side : sides.subList(1, sides.size())) {
        s.append(' ').append(times(ratio(medianMillis("forks", side, "create", docs), strata))).append(" |");
      }
      s.append('\n');
    });
    s.append("\nStrata: CreateFork from fork `main`'s head and DropFork, over gRPC (the RPC's wall time as the "
        + "client sees it). PostgreSQL: `CREATE DATABASE … TEMPLATE bench STRATEGY …` and `DROP DATABASE`.\n");
  }

  private void flushTable(StringBuilder s) {
    if (flush == null) {
      return;
    }
    String md = EngineLoad.toMarkdown(flush);
    int i = md.indexOf("Flush pipeline");
    s.append("\n### Workload 4: the flush pipeline (in-process engine, EngineLoad)\n\n")
        .append(i >= 0 ? md.substring(i) : md).append('\n');
    double one = flushDocsPerSec(1);
    s.append(String.format(Locale.ROOT, "%nIngest with 2 permits / 1 permit: %s; 4 permits / 1 permit: %s.%n",
        times(ratio(flushDocsPerSec(2), one)), times(ratio(flushDocsPerSec(4), one))));
  }

  private void recoveryTable(StringBuilder s) {
    List<String> sides = sides("recovery");
    if (sides.isEmpty()) {
      return;
    }
    s.append("\n### Workload 6: recovery after kill -9 with unflushed WAL (medians of ").append(config.recoveryReps())
        .append(")\n\n| side | WAL MiB | documents | restart ms | recovery ms | replay MiB/s | Strata / side (MiB/s) | ids found |\n")
        .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    double strata = medianRecovery("Strata", Recovery::replayMibPerSec);
    for (String side : sides) {
      double mibs = medianRecovery(side, Recovery::replayMibPerSec);
      int checked = recoveries.stream().filter(r -> r.side().equals(side)).mapToInt(Recovery::idsChecked).sum();
      int found = recoveries.stream().filter(r -> r.side().equals(side)).mapToInt(Recovery::idsFound).sum();
      s.append("| ").append(side).append(" | ").append(num(medianRecovery(side, r -> r.walBytes() / 1048576.0)))
          .append(" | ").append(String.format(Locale.ROOT, "%,.0f", medianRecovery(side, r -> r.docs())))
          .append(" | ").append(ms(medianRecovery(side, Recovery::restartMs)))
          .append(" | ").append(ms(medianRecovery(side, Recovery::recoveryMs)))
          .append(" | ").append(num(mibs))
          .append(" | ").append(side.equals("Strata") ? "" : times(ratio(strata, mibs)))
          .append(" | ").append(found).append(" / ").append(checked).append(" |\n");
    }
    s.append("\nEach side writes corpus replicas (Strata: gRPC `Write`s of 500, ASYNC, then one SYNC write; RocksDB: "
        + "`WriteBatch`es of 500, WAL on, unsynced, then one `sync=true` write) until its WAL holds the target, nothing "
        + "flushed (Strata: `l0.max_bytes` above the WAL, `flush.interval=off`; RocksDB: `write_buffer_size` above it, "
        + "`max_write_buffer_number=2`), is killed with SIGKILL and restarted in a new process on the warm page cache. "
        + "Restart: process start to serving (Strata: health check `SERVING`; RocksDB: `RocksDB.open` returned), JVM start "
        + "included. Recovery: the server's \"recovered in N ms\" (engine open: WAL replay into L0) / `RocksDB.open` timed "
        + "inside the child. RocksDB reopens the same crashed copy twice: default options (it writes the replayed "
        + "memtable to an L0 SST before `open` returns) and `avoid_flush_during_recovery=true` (replay only, like Strata).\n");
  }

  /** Median docs/s of the flush runs with {@code permits} pending flushes; NaN if none. */
  public double flushDocsPerSec(int permits) {
    if (flush == null) {
      return Double.NaN;
    }
    return Results.median(flush.flushes().stream().filter(f -> f.maxPendingFlushes() == permits).toList(),
        EngineLoad.FlushRun::docsPerSec);
  }

  private void goals(StringBuilder s) {
    s.append("\n### Goals of issue #6\n\n| goal | measured | met |\n|---|---|---|\n");
    int maxIngest = max(config.ingestClients());
    for (int b : config.batchDocs()) {
      goal(s, "ingest ≥ 3× PostgreSQL at " + maxIngest + " clients, batch " + b,
          ratio(median("ingest", "Strata", maxIngest, b, Measurement::unitsPerSec),
              median("ingest", "PostgreSQL", maxIngest, b, Measurement::unitsPerSec)), 3);
    }
    for (int c : config.getClients()) {
      goal(s, "Get QPS ≥ 2× PostgreSQL, " + c + " clients",
          ratio(median("get", "Strata", c, 0, Measurement::opsPerSec), median("get", "PostgreSQL", c, 0, Measurement::opsPerSec)), 2);
    }
    for (int c : config.searchClients()) {
      goal(s, "search QPS ≥ 3× PostgreSQL, " + c + " clients",
          ratio(median("search", "Strata", c, 0, Measurement::opsPerSec), median("search", "PostgreSQL", c, 0, Measurement::opsPerSec)), 3);
    }
    for (int c : config.embeddedSearchThreads()) {
      goal(s, "in-process search ≥ 0.9× raw Lucene, " + c + " threads",
          ratio(median("search-inprocess", "Strata engine", c, 0, Measurement::opsPerSec),
              median("search-inprocess", "Lucene", c, 0, Measurement::opsPerSec)), 0.9);
    }
    timings.stream().filter(t -> t.workload().equals("forks") && t.side().equals("Strata")).map(Timing::docs).distinct()
        .forEach(docs -> {
          double ms = medianMillis("forks", "Strata", "create", docs);
          s.append(String.format(Locale.ROOT, "| fork create ≤ 5 ms at %,d documents | %s ms | %s |%n", docs, ms(ms),
              Double.isNaN(ms) ? "-" : ms <= 5 ? "yes" : "no"));
        });
    if (flush != null) {
      goal(s, "flush pipeline with 4 permits ≥ 2× one permit (docs/s)", ratio(flushDocsPerSec(4), flushDocsPerSec(1)), 2);
    }
    if (!recoveries.isEmpty()) {
      double strata = medianRecovery("Strata", Recovery::replayMibPerSec);
      for (String side : sides("recovery")) {
        if (!side.equals("Strata")) {
          goal(s, "WAL replay ≥ " + side + "'s (MiB/s)", ratio(strata, medianRecovery(side, Recovery::replayMibPerSec)), 1);
        }
      }
    }
    goal(s, "SYNC ingest vs raw RocksDB sync=true at " + maxIngest + " clients, batch 1 (gRPC vs in-process; "
            + "the WAL-only comparison is WalAppendBenchmark's)",
        ratio(median("ingest", "Strata", maxIngest, 1, Measurement::unitsPerSec),
            median("ingest", "RocksDB", maxIngest, 1, Measurement::unitsPerSec)), 1);
  }

  /** The goals of issue #13 (the serving path at gRPC's own limit), each from this run alone. */
  private void goals13(StringBuilder s) {
    if (measurements.isEmpty()) {
      return;
    }
    s.append("\n### Goals of issue #13\n\n| goal | measured | met |\n|---|---|---|\n");
    for (int c : config.pingClients()) {
      goal(s, "Strata's empty call ≥ 0.9× the bare gRPC echo, " + c + " clients",
          ratio(median("ping", "Strata", c, 0, Measurement::opsPerSec), median("ping", "gRPC echo", c, 0, Measurement::opsPerSec)),
          0.9);
    }
    for (int c : config.getClients()) {
      goal(s, "Get ≥ 0.9× Strata's empty call, " + c + " clients",
          ratio(median("get", "Strata", c, 0, Measurement::opsPerSec), median("ping", "Strata", c, 0, Measurement::opsPerSec)),
          0.9);
    }
    int maxGet = max(config.getClients());
    goal(s, "Get ≥ 1.0× PostgreSQL, " + maxGet + " clients",
        ratio(median("get", "Strata", maxGet, 0, Measurement::opsPerSec), median("get", "PostgreSQL", maxGet, 0, Measurement::opsPerSec)),
        1);
    for (int c : config.batchGetClients()) {
      goal(s, "BatchGet of " + PeerConfig.BATCH_GET_IDS + " ids ≥ 3× PostgreSQL (docs/s), " + c + " clients",
          ratio(median("batchget", "Strata", c, 0, Measurement::unitsPerSec),
              median("batchget", "PostgreSQL", c, 0, Measurement::unitsPerSec)), 3);
      goal(s, "BatchGet of " + PeerConfig.BATCH_GET_IDS + " ids ≥ 3× PostgreSQL (docs/s), client decoding fields as JDBC does, "
              + c + " clients",
          ratio(median("batchget", "Strata, fields decoded", c, 0, Measurement::unitsPerSec),
              median("batchget", "PostgreSQL", c, 0, Measurement::unitsPerSec)), 3);
    }
    for (int c : config.searchClients()) {
      goal(s, "search over gRPC ≥ 2× PostgreSQL, " + c + " clients",
          ratio(median("search", "Strata", c, 0, Measurement::opsPerSec), median("search", "PostgreSQL", c, 0, Measurement::opsPerSec)),
          2);
    }
    for (int c : config.embeddedSearchThreads()) {
      goal(s, "in-process search ≥ 0.95× raw Lucene (default threshold), " + c + " threads",
          ratio(median("search-inprocess", "Strata engine", c, 0, Measurement::opsPerSec),
              median("search-inprocess", "Lucene", c, 0, Measurement::opsPerSec)), 0.95);
      goal(s, "in-process search ≥ 0.95× raw Lucene (default threshold), by CPU per query, " + c + " threads",
          ratio(median("search-inprocess", "Lucene", c, 0, Measurement::clientCpuUsPerOp),
              median("search-inprocess", "Strata engine", c, 0, Measurement::clientCpuUsPerOp)), 0.95);
    }
    int maxIngest = max(config.ingestClients());
    for (int b : config.batchDocs()) {
      goal(s, "durable ingest ≥ 2× PostgreSQL at " + maxIngest + " clients, " + b + " docs per write",
          ratio(median("ingest", "Strata", maxIngest, b, Measurement::unitsPerSec),
              median("ingest", "PostgreSQL", maxIngest, b, Measurement::unitsPerSec)), 2);
    }
  }

  private static void goal(StringBuilder s, String what, double ratio, double target) {
    s.append("| ").append(what).append(" | ").append(times(ratio)).append(" | ")
        .append(Double.isNaN(ratio) ? "-" : ratio >= target ? "yes" : String.format(Locale.ROOT, "no (%.0f %% of the goal)", 100 * ratio / target))
        .append(" |\n");
  }

  private void errors(StringBuilder s) {
    List<Measurement> failed = measurements.stream().filter(m -> m.errors() > 0).toList();
    if (failed.isEmpty()) {
      s.append("\nNo call failed in any run.\n");
      return;
    }
    s.append("\nRuns with failed calls:\n\n");
    for (Measurement m : failed) {
      s.append(String.format(Locale.ROOT, "- %s %s clients=%d batch=%d rep %d: %d errors, first: %s%n", m.workload(),
          m.side(), m.clients(), m.batchDocs(), m.rep(), m.errors(), m.firstError()));
    }
  }

  private static int max(int[] a) {
    return java.util.Arrays.stream(a).max().orElse(0);
  }

  static String num(double v) {
    if (Double.isNaN(v)) {
      return "-";
    }
    return v >= 100 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.1f", v);
  }

  static String ms(double v) {
    return Double.isNaN(v) ? "-" : v >= 100 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.2f", v);
  }

  static String times(double r) {
    return Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.2f×", r);
  }

  // ------------------------------------------------------------------ files

  /** Every run as CSV, one row per measurement (header first). */
  public String measurementsCsv() {
    StringBuilder s = new StringBuilder(
        "workload,side,clients,batch_docs,rep,seconds,ops,units,ops_per_sec,units_per_sec,p50_us,p99_us,errors,first_error,"
            + "client_cpu_us_per_op\n");
    for (Measurement m : measurements) {
      s.append(String.join(",", m.workload(), csv(m.side()), "" + m.clients(), "" + m.batchDocs(), "" + m.rep(),
          fmt(m.seconds()), "" + m.ops(), "" + m.units(), fmt(m.opsPerSec()), fmt(m.unitsPerSec()), fmt(m.p50Us()),
          fmt(m.p99Us()), "" + m.errors(), csv(Objects.toString(m.firstError(), "")), fmt(m.clientCpuUsPerOp())))
          .append('\n');
    }
    return s.toString();
  }

  /** Every timed operation as CSV (header first). */
  public String timingsCsv() {
    StringBuilder s = new StringBuilder("workload,side,operation,docs,rep,millis\n");
    for (Timing t : timings) {
      s.append(String.join(",", t.workload(), csv(t.side()), t.operation(), "" + t.docs(), "" + t.rep(), fmt(t.millis())))
          .append('\n');
    }
    return s.toString();
  }

  /** Every kill -9 and restart of workload 6 as CSV (header first). */
  public String recoveriesCsv() {
    StringBuilder s = new StringBuilder(
        "side,rep,wal_bytes,docs,load_seconds,restart_ms,recovery_ms,replay_mib_per_sec,ids_checked,ids_found\n");
    for (Recovery r : recoveries) {
      s.append(String.join(",", csv(r.side()), "" + r.rep(), "" + r.walBytes(), "" + r.docs(), fmt(r.loadSeconds()),
          fmt(r.restartMs()), fmt(r.recoveryMs()), fmt(r.replayMibPerSec()), "" + r.idsChecked(), "" + r.idsFound()))
          .append('\n');
    }
    return s.toString();
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
  }

  private static String csv(String v) {
    return v.contains(",") || v.contains("\"") || v.contains("\n") ? "\"" + v.replace("\"", "\"\"") + "\"" : v;
  }

  /**
   * Writes {@code peers.json}, {@code peers-runs.csv}, {@code peers-timings.csv}, {@code peers-recovery.csv}
   * (if workload 6 ran), {@code peers.md}
   * and the PNG plots of workloads 1 and 2 into {@code dir}.
   *
   * @return the files written
   */
  public List<Path> write(Path dir) throws IOException {
    Files.createDirectories(dir);
    List<Path> files = new ArrayList<>();
    files.add(Files.writeString(dir.resolve("peers.json"), Results.json(this), StandardCharsets.UTF_8));
    files.add(Files.writeString(dir.resolve("peers-runs.csv"), measurementsCsv(), StandardCharsets.UTF_8));
    files.add(Files.writeString(dir.resolve("peers-timings.csv"), timingsCsv(), StandardCharsets.UTF_8));
    if (!recoveries.isEmpty()) {
      files.add(Files.writeString(dir.resolve("peers-recovery.csv"), recoveriesCsv(), StandardCharsets.UTF_8));
    }
    files.add(Files.writeString(dir.resolve("peers.md"), markdown(), StandardCharsets.UTF_8));
    files.addAll(PeerPlots.write(this, dir));
    return files;
  }
}
