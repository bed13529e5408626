package dev.strata.bench.peers;

import dev.strata.bench.BenchDirs;
import dev.strata.bench.engine.EngineLoad;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Strata side by side with PostgreSQL 15, raw RocksDB JNI and raw Lucene (issue #6). Starts every
 * peer itself — a Strata server in a child JVM, a throw-away PostgreSQL cluster — runs the
 * workloads and returns a {@link PeerReport}. Every comparison interleaves its sides: repetition
 * {@code r} runs every side once, starting with side {@code r mod n}, and the report gives medians
 * over repetitions and the ratio of those medians.
 *
 * <p>Workloads (numbers of issue #6): 7 the gRPC ceiling ({@code ping}: Strata's health check, a bare
 * grpc-java echo server's and PostgreSQL's {@code SELECT 1}), 2 point Get ({@code get}), 8 BatchGet
 * of {@value PeerConfig#BATCH_GET_IDS} ids vs {@code WHERE id = ANY($1)} ({@code batchget}, issue #13),
 * 3 full-text search over the network and in-process ({@code search}), 1 durable ingest
 * ({@code ingest}), 5 fork create/drop ({@code forks}), 4 the flush pipeline ({@code flush}, through
 * {@link EngineLoad}), 6 restart after {@code kill -9} with unflushed WAL ({@code recovery}, through
 * {@link RecoveryBenchmark}, after the others: its own servers and databases).
 *
 * <p>PostgreSQL is skipped (with a note in the report) when it is not installed or does not start,
 * unless {@code requirePostgres} is set: then that is an error.
 *
 * <p>Usage: {@code PeerBenchmark [--smoke|--quick] [--reps N] [--seconds S] [--only w1,w2] [--fork-scales 1,10]
 * [--recovery-mib M] [--no-postgres] [--require-postgres] [--out DIR]}; raw results and plots go to {@code DIR}
 * (default {@code bench/results/peers}).
 */
public final class PeerBenchmark {
  private final PeerConfig config;
  private final Path scratchRoot;
  private final boolean usePostgres;
  private final boolean requirePostgres;
  private final List<PeerReport.Measurement> measurements = new ArrayList<>();
  private final List<PeerReport.Timing> timings = new ArrayList<>();
  private final Map<String, String> info = new LinkedHashMap<>();
  private final List<String> notes = new ArrayList<>();
  private final AtomicInteger forkCounter = new AtomicInteger();
  private final long seed = 20261123L;
  private final List<PeerReport.Recovery> recoveries = new ArrayList<>();
  private EngineLoad.Report flushReport;

  /**
   * @param scratchRoot where the Strata data directory, the PostgreSQL cluster and the in-process
   *     databases are made (see {@link BenchDirs}); all deleted afterwards
   * @param usePostgres whether to run the PostgreSQL side at all
   * @param requirePostgres fail instead of skipping when PostgreSQL is missing or does not start
   */
  public PeerBenchmark(PeerConfig config, Path scratchRoot, boolean usePostgres, boolean requirePostgres) {
    this.config = config;
    this.scratchRoot = scratchRoot;
    this.usePostgres = usePostgres;
    this.requirePostgres = requirePostgres;
  }

  /** One side of a comparison: sets up, runs {@code clients} clients, tears down. */
  private record Contender(String side, ClosedLoopRun run) {}

  @FunctionalInterface
  private interface ClosedLoopRun {
    ClosedLoop.Result run(int clients) throws Exception;
  }

  private static Contender contender(String side, ClosedLoopRun run) {
    return new Contender(side, run);
  }

  /** Runs every configured workload; progress goes to stderr. */
  public PeerReport run() throws Exception {
    String started = Instant.now().toString();
    long t0 = System.nanoTime();
    log("config " + config);
    Corpus corpus = Corpus.load(Corpus.defaultPath(), config.corpusDocs());
    List<String> queries = QuerySet.load(QuerySet.defaultPath());
    long n = corpus.size();
    info.put("started", started);
    info.put("processors", Integer.toString(Runtime.getRuntime().availableProcessors()));
    info.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    info.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    info.put("commit", System.getProperty("strata.bench.commit", "unknown"));
    info.put("corpus", n + " packages");
    info.put("queries", queries.size() + "");
    log("corpus: " + n + " packages, " + queries.size() + " queries");

    if (config.workloads().stream().anyMatch(w -> !w.equals("recovery") && !w.equals("search-inprocess"))) {
      serverWorkloads(corpus, queries, n);
    } else if (config.runs("search-inprocess")) {
      embeddedSearch(corpus, queries, n); // no server needed
    }
    if (config.runs("recovery")) {
      recoveries.addAll(new RecoveryBenchmark(config, scratchRoot, corpus, info, PeerBenchmark::log).run());
    }
    info.put("wall time", String.format(Locale.ROOT, "%.0f s", (System.nanoTime() - t0) / 1e9));
    return new PeerReport(config, info, measurements, timings, notes, flushReport, recoveries);
  }

  /** Workloads 1–5 and 7: a Strata server (and PostgreSQL) for all of them, stopped at the end. */
  private void serverWorkloads(Corpus corpus, List<String> queries, long n) throws Exception {
    PostgresSide pg = null;
    StrataGrpcSide strata = null;
    StrataServerProcess echo = null;
    RawRocksDbSide rocksGet = null;
    Path strataDir = BenchDirs.create(scratchRoot, "strata-bench-server-");
    Thread hook = null;
    try {
      pg = startPostgres();
      PostgresSide pgFinal = pg;
      StrataServerProcess server = StrataServerProcess.start(strataDir.resolve("data"), Map.of(), 4096,
          strataDir.resolve("server.log"), 120_000);
      strata = new StrataGrpcSide(server);
      StrataGrpcSide strataFinal = strata;
      if (config.runs("ping")) {
        // The bare grpc-java echo server: same version, transport and JVM options, direct executor.
        echo = StrataServerProcess.startEcho(4096, strataDir.resolve("echo.log"), 60_000);
        log("echo server pid " + echo.pid() + " on " + echo.target());
      }
      StrataServerProcess echoFinal = echo;
      hook = new Thread(() -> { // Ctrl-C: no cluster or server is left behind
        strataFinal.server().close();
        if (echoFinal != null) {
          echoFinal.close();
        }
        if (pgFinal != null) {
          pgFinal.close();
        }
      }, "peer-benchmark-cleanup");
      Runtime.getRuntime().addShutdownHook(hook);
      log("strata server pid " + server.pid() + " on " + server.target());

      boolean needsData = config.runs("get") || config.runs("batchget") || config.runs("search") || config.runs("forks")
          || config.runs("ingest");
      if (needsData) {
        timed("load " + n + " documents into Strata (gRPC, ASYNC writes of 500, 4 writers, then flush)",
            strataFinal, s -> s.load(corpus, 0, n, 4));
        info.put("strata segments after load", Long.toString(strata.mainSegments()));
        if (pg != null) {
          timed("load " + n + " rows into PostgreSQL (COPY, 4 connections, then VACUUM ANALYZE)", pg,
              p -> p.load(corpus, 0, n, 4));
        }
      }

      if (needsData || config.runs("ping")) {
        // JIT warm-up of both JVMs (server and load generator) before the first measured workload,
        // so that the first one (the gRPC ceiling) is not the one that pays for compilation.
        double w = Math.max(config.warmupSeconds(), 4 * config.runSeconds());
        List<ClosedLoop.ClientFactory> warm = new ArrayList<>(List.of(strataFinal.ping()));
        if (echoFinal != null) {
          warm.add(StrataGrpcSide.ping(echoFinal.target()));
        }
        if (needsData) {
          warm.addAll(List.of(strataFinal.get(corpus, n), strataFinal.batchGet(corpus, n, PeerConfig.BATCH_GET_IDS),
              strataFinal.search(queries)));
        }
        // Each call path warms at 8 clients and at 1 (C2 compiles the paths a single client takes
        // too); measured: a cold server's health check needs about 15 s of calls to reach its
        // steady latency here.
        for (ClosedLoop.ClientFactory f : warm) {
          ClosedLoop.run(f, 8, 0, w / 2, seed);
          ClosedLoop.run(f, 1, 0, w / 2, seed);
        }
        log(String.format(Locale.ROOT, "warm-up of the servers and the client: %.1f s per call path, discarded", w));
      }
      if (config.runs("ping")) {
        for (int c : config.pingClients()) {
          List<Contender> sides = new ArrayList<>();
          sides.add(contender("Strata", k -> load(strataFinal.ping(), k)));
          sides.add(contender("gRPC echo", k -> load(StrataGrpcSide.ping(echoFinal.target()), k)));
          if (pg != null) {
            sides.add(contender("PostgreSQL", k -> load(pgFinal.ping(), k)));
          }
          compare("ping", c, 0, sides);
        }
      }
      if (config.runs("get")) {
        rocksGet = new RawRocksDbSide(scratchRoot);
        rocksGet.load(corpus, n);
        RawRocksDbSide rocksFinal = rocksGet;
        for (int c : config.getClients()) {
          List<Contender> sides = new ArrayList<>();
          sides.add(contender("Strata", k -> load(strataFinal.get(corpus, n), k)));
          if (pg != null) {
            sides.add(contender("PostgreSQL", k -> load(pgFinal.get(corpus, n), k)));
          }
          sides.add(contender("RocksDB", k -> load(rocksFinal.get(corpus, n), k)));
          compare("get", c, 0, sides);
        }
        rocksGet.close();
        rocksGet = null;
      }
      if (config.runs("batchget")) {
        for (int c : config.batchGetClients()) {
          List<Contender> sides = new ArrayList<>();
          sides.add(contender("Strata", k -> load(strataFinal.batchGet(corpus, n, PeerConfig.BATCH_GET_IDS), k)));
          // the client decoding what JDBC decodes (values, no object graph): the servers compared
          sides.add(contender("Strata, fields decoded",
              k -> load(strataFinal.batchGetFieldDecoded(corpus, n, PeerConfig.BATCH_GET_IDS), k)));
          if (pg != null) {
            sides.add(contender("PostgreSQL", k -> load(pgFinal.batchGet(corpus, n, PeerConfig.BATCH_GET_IDS), k)));
          }
          compare("batchget", c, 0, sides);
        }
      }
      if (config.runs("search")) {
        for (int c : config.searchClients()) {
          List<Contender> sides = new ArrayList<>();
          sides.add(contender("Strata", k -> load(strataFinal.search(queries), k)));
          if (pg != null) {
            sides.add(contender("PostgreSQL", k -> load(pgFinal.search(queries), k)));
          }
          compare("search", c, 0, sides);
        }
      }
      if (config.runs("ingest")) {
        for (int batch : config.batchDocs()) {
          for (int c : config.ingestClients()) {
            compare("ingest", c, batch, ingestContenders(corpus, strataFinal, pgFinal, batch));
          }
        }
      }
      if (config.runs("search") || config.runs("search-inprocess")) {
        embeddedSearch(corpus, queries, n);
      }
      if (config.runs("forks")) {
        forks(corpus, strataFinal, pgFinal, n);
      }
      if (config.runs("flush") && config.flushSeconds() > 0) {
        flushPipeline();
      }
    } finally {
      if (rocksGet != null) {
        rocksGet.close();
      }
      if (strata != null) {
        strata.close();
      }
      if (echo != null) {
        echo.close();
      }
      if (pg != null) {
        pg.close();
      }
      if (hook != null) {
        Runtime.getRuntime().removeShutdownHook(hook);
      }
      BenchDirs.deleteRecursively(strataDir);
    }
  }

  private PostgresSide startPostgres() throws Exception {
    if (!usePostgres) {
      notes.add("PostgreSQL was not run (--no-postgres).");
      return null;
    }
    PostgresInstance instance;
    try {
      instance = PostgresInstance.start();
    } catch (IOException e) {
      if (requirePostgres) {
        throw new IOException("PostgreSQL is required (STRATA_REQUIRE_PG=1) but did not start: " + e.getMessage(), e);
      }
      notes.add("PostgreSQL side skipped: " + e.getMessage());
      log("PostgreSQL skipped: " + e.getMessage());
      return null;
    }
    try {
      PostgresSide side = new PostgresSide(instance);
      info.put("postgresql", instance.version() + " (synchronous_commit=on, fsync=on, other settings default)");
      log("postgresql " + instance.version() + " on 127.0.0.1:" + instance.port());
      return side;
    } catch (Exception e) {
      instance.close();
      throw e;
    }
  }

  private List<Contender> ingestContenders(Corpus corpus, StrataGrpcSide strata, PostgresSide pg, int batch) {
    List<Contender> sides = new ArrayList<>();
    sides.add(contender("Strata", k -> {
      String fork = "ingest-" + forkCounter.incrementAndGet();
      strata.createIngestFork(fork);
      try {
        return load(strata.ingest(corpus, fork, batch, new AtomicLong()), k);
      } finally {
        strata.dropFork(fork);
      }
    }));
    if (pg != null) {
      sides.add(contender("PostgreSQL", k -> {
        pg.truncateIngest();
        return load(pg.ingest(corpus, batch, new AtomicLong()), k);
      }));
    }
    sides.add(contender("RocksDB", k -> {
      try (RawRocksDbSide rocks = new RawRocksDbSide(scratchRoot)) {
        return load(rocks.ingest(corpus, batch, new AtomicLong()), k);
      }
    }));
    return sides;
  }

  /** Workload 3, in-process: Strata's engine vs raw Lucene with as many segments. */
  private void embeddedSearch(Corpus corpus, List<String> queries, long n) throws Exception {
    long t = System.nanoTime();
    try (EmbeddedStrataSide engine = new EmbeddedStrataSide(scratchRoot, corpus, n)) {
      int segments = engine.segmentCount();
      log(String.format(Locale.ROOT, "in-process engine loaded in %.1f s: %d segments", (System.nanoTime() - t) / 1e9, segments));
      try (RawLuceneSide lucene = new RawLuceneSide(scratchRoot, corpus, n, segments)) {
        info.put("in-process search segments", segments + " (Strata snapshot) / " + lucene.segmentCount() + " (raw Lucene)");
        for (int c : config.embeddedSearchThreads()) {
          compare("search-inprocess", c, 0, List.of(
              contender("Strata engine", k -> load(engine.search(queries), k)),
              contender("Lucene", k -> load(lucene.search(queries, RawLuceneSide.DEFAULT_THRESHOLD), k)),
              contender("Lucene count to 10,000", k -> load(lucene.search(queries, 10_000), k)),
              contender("Lucene exact count", k -> load(lucene.search(queries, Integer.MAX_VALUE), k))));
        }
      }
    }
  }

  /** Workload 5: fork create and drop at each size, vs CREATE DATABASE … TEMPLATE. */
  private void forks(Corpus corpus, StrataGrpcSide strata, PostgresSide pg, long n) throws Exception {
    long loaded = n;
    int[] scales = config.forkScales().clone();
    Arrays.sort(scales);
    for (int scale : scales) {
      long size = n * scale;
      if (size > loaded) {
        long from = loaded;
        timed("grow Strata main to " + size + " documents", strata, s -> s.load(corpus, from, size, 4));
        if (pg != null) {
          timed("grow PostgreSQL packages to " + size + " rows", pg, p -> p.load(corpus, from, size, 4));
        }
        loaded = size;
      }
      info.put("fork size " + size, "Strata main: " + strata.mainSegments() + " segments"
          + (pg != null ? "; PostgreSQL database: " + (pg.databaseBytes() >> 20) + " MiB" : ""));
      List<String> sides = new ArrayList<>(List.of("Strata"));
      if (pg != null) {
        sides.addAll(List.of("PostgreSQL WAL_LOG", "PostgreSQL FILE_COPY"));
      }
      for (int rep = 1; rep <= config.forkReps(); rep++) {
        for (int k = 0; k < sides.size(); k++) {
          String side = sides.get((k + rep - 1) % sides.size());
          String name = "branch_" + forkCounter.incrementAndGet();
          double create;
          double drop;
          if (side.equals("Strata")) {
            create = strata.timeCreateFork(name);
            drop = strata.timeDropFork(name);
          } else {
            create = pg.createDatabaseFromTemplate(name, side.substring("PostgreSQL ".length()));
            drop = pg.dropDatabase(name);
          }
          timings.add(new PeerReport.Timing("forks", side, "create", size, rep, create));
          timings.add(new PeerReport.Timing("forks", side, "drop", size, rep, drop));
          log(String.format(Locale.ROOT, "forks %d docs rep %d %s: create %.2f ms, drop %.2f ms", size, rep, side, create, drop));
        }
      }
    }
  }

  /** Workload 4 through {@link EngineLoad}: in-process, maxPendingFlushes 1, 2, 4. */
  private void flushPipeline() throws Exception {
    EngineLoad.Config c = new EngineLoad.Config("peers", 8, 2, 0, 0, new int[] {100}, config.flushSeconds(),
        config.flushReps(), new int[] {1, 2, 4}, 16L << 20, 100, 100);
    flushReport = new EngineLoad(c, scratchRoot).runFlushPipeline();
  }

  private void compare(String workload, int clients, int batchDocs, List<Contender> sides) throws Exception {
    for (int rep = 1; rep <= config.reps(); rep++) {
      for (int k = 0; k < sides.size(); k++) {
        Contender s = sides.get((k + rep - 1) % sides.size());
        ClosedLoop.Result r = s.run().run(clients);
        PeerReport.Measurement m = PeerReport.Measurement.of(workload, s.side(), batchDocs, rep, r);
        measurements.add(m);
        log(String.format(Locale.ROOT, "%s clients=%d%s rep %d %-18s %,10.0f ops/s %,10.0f units/s  p50 %,9.0f us  p99 %,9.0f us%s",
            workload, clients, batchDocs > 0 ? " batch=" + batchDocs : "", rep, s.side(), r.opsPerSec(), r.unitsPerSec(),
            r.p50Us(), r.p99Us(), r.errors().isEmpty() ? "" : "  errors " + r.errors() + " " + r.firstError()));
      }
    }
  }

  private ClosedLoop.Result load(ClosedLoop.ClientFactory f, int clients) throws Exception {
    return ClosedLoop.run(f, clients, config.warmupSeconds(), config.runSeconds(), seed);
  }

  @FunctionalInterface
  private interface Step<T> {
    void run(T t) throws Exception;
  }

  private <T> void timed(String what, T target, Step<T> step) throws Exception {
    long t = System.nanoTime();
    step.run(target);
    double s = (System.nanoTime() - t) / 1e9;
    info.put(what, String.format(Locale.ROOT, "%.1f s", s));
    log(String.format(Locale.ROOT, "%s: %.1f s", what, s));
  }

  private static void log(String msg) {
    System.err.println("[peers " + java.time.LocalTime.now().withNano(0) + "] " + msg);
  }

  /** Command line; see the class comment. */
  public static void main(String[] args) throws Exception {
    PeerConfig config = PeerConfig.full();
    Integer reps = null;
    Double seconds = null;
    LinkedHashSet<String> only = null;
    int[] forkScales = null;
    Integer recoveryMib = null;
    boolean usePg = true;
    boolean requirePg = "1".equals(System.getenv("STRATA_REQUIRE_PG"));
    Path out = Paths.get("bench/results/peers");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--smoke" -> config = PeerConfig.smoke();
        case "--quick" -> config = PeerConfig.quick();
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        case "--only" -> only = new LinkedHashSet<>(Arrays.asList(args[++i].split(",")));
        case "--fork-scales" -> forkScales = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--recovery-mib" -> recoveryMib = Integer.parseInt(args[++i]);
        case "--no-postgres" -> usePg = false;
        case "--require-postgres" -> requirePg = true;
        case "--out" -> out = Paths.get(args[++i]);
        default -> {
          System.err.println("usage: PeerBenchmark [--smoke|--quick] [--reps N] [--seconds S] [--only "
              + String.join(",", PeerConfig.ALL) + "] [--fork-scales 1,10] [--recovery-mib M] [--no-postgres] [--require-postgres] [--out DIR]");
          System.exit(2);
        }
      }
    }
    if (reps != null || seconds != null) {
      config = config.withTiming(reps != null ? reps : config.reps(), seconds != null ? seconds : config.runSeconds());
    }
    if (only != null) {
      if (!PeerConfig.ALL.containsAll(only)) {
        System.err.println("unknown workload in " + only + "; known: " + PeerConfig.ALL);
        System.exit(2);
      }
      config = config.withWorkloads(only);
    }
    if (forkScales != null) {
      config = config.withForkScales(forkScales);
    }
    if (recoveryMib != null) {
      config = config.withRecoveryMib(recoveryMib);
    }
    PeerReport report = new PeerBenchmark(config, BenchDirs.root(), usePg, requirePg).run();
    List<Path> files = report.write(out);
    System.out.println(report.markdown());
    files.forEach(f -> System.out.println("wrote " + f.toAbsolutePath().normalize()));
  }
}
