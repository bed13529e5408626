package dev.strata.bench.peers;

import dev.strata.api.v1.Durability;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.WriteRequest;
import dev.strata.bench.BenchDirs;
import dev.strata.client.StrataClient;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Workload 6 of issue #6: restart time and WAL replay MiB/s after {@code kill -9} with
 * {@link PeerConfig#recoveryMib()} MiB of unflushed WAL, Strata vs RocksDB. Each round runs both
 * sides, the first one alternating:
 *
 * <ul>
 *   <li>Strata: a server child JVM ({@code l0.max_bytes} far above the target,
 *       {@code flush.interval=off}) gets corpus replicas in ASYNC {@code Write}s of 500 until the WAL
 *       directories of its forks hold the target, then one SYNC write (everything before it is on
 *       disk), and is killed with SIGKILL. A new server on the same data directory and port is timed
 *       until its health check says {@code SERVING}; its log gives the engine's own recovery time
 *       ("recovered in N ms").
 *   <li>RocksDB: {@link RocksDbWalChild} writes the same documents into a database whose write
 *       buffer is bigger than the target until its WAL holds the target, and is killed. The crashed
 *       directory is copied, and {@code RocksDB.open} is timed in a new child on each copy: default
 *       options (the replayed memtable is flushed to L0 before open returns) and
 *       {@code avoid_flush_during_recovery=true} (replay only).
 * </ul>
 *
 * A few acknowledged ids (first, middle, last and the SYNC marker) are read back after every restart.
 * Page caches stay warm: this measures replay, not the disk's read speed.
 */
final class RecoveryBenchmark {
  static final String STRATA = "Strata";
  static final String ROCKSDB = "RocksDB";
  static final String ROCKSDB_NO_FLUSH = "RocksDB avoid_flush_during_recovery";

  private static final Pattern RECOVERED = Pattern.compile("recovered in (\\d+) ms");
  private static final Pattern REPLAYED = Pattern.compile("fork=main .*coveredLsn=(\\d+) walLastLsn=(\\d+) replayedRecords=(\\d+) l0Bytes=(\\d+)");
  private static final Pattern WRITTEN = Pattern.compile("written docs=(\\d+) wal=(\\d+) seconds=([0-9.]+)");
  private static final Pattern OPENED = Pattern.compile("opened ms=([0-9.]+) found=(\\d+)(.*)");
  private static final long SYNC_INTERVAL_MS = 200; // wal.sync_interval's default

  private final PeerConfig config;
  private final Path scratchRoot;
  private final Corpus corpus;
  private final Map<String, String> info;
  private final Consumer<String> log;

  RecoveryBenchmark(PeerConfig config, Path scratchRoot, Corpus corpus, Map<String, String> info, Consumer<String> log) {
    this.config = config;
    this.scratchRoot = scratchRoot;
    this.corpus = corpus;
    this.info = info;
    this.log = log;
  }

  /** Every round, both sides each; results in run order. */
  List<PeerReport.Recovery> run() throws Exception {
    long target = (long) config.recoveryMib() << 20;
    List<PeerReport.Recovery> out = new ArrayList<>();
    List<String> sides = List.of(STRATA, ROCKSDB);
    for (int rep = 1; rep <= config.recoveryReps(); rep++) {
      for (int k = 0; k < sides.size(); k++) {
        String side = sides.get((k + rep - 1) % sides.size());
        List<PeerReport.Recovery> rs = side.equals(STRATA) ? List.of(strata(rep, target)) : rocksDb(rep, target);
        for (PeerReport.Recovery r : rs) {
          log.accept(String.format(Locale.ROOT,
              "recovery rep %d %-36s WAL %,8.1f MiB, %,d docs written in %.1f s; restart %,8.0f ms, recovery %,8.0f ms, "
                  + "replay %,7.1f MiB/s; ids found %d/%d",
              rep, r.side(), r.walBytes() / 1048576.0, r.docs(), r.loadSeconds(), r.restartMs(), r.recoveryMs(),
              r.replayMibPerSec(), r.idsFound(), r.idsChecked()));
        }
        out.addAll(rs);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ Strata

  private PeerReport.Recovery strata(int rep, long target) throws Exception {
    Path dir = BenchDirs.create(scratchRoot, "strata-bench-recovery-");
    try {
      Path data = dir.resolve("data");
      String listen = "127.0.0.1:" + freePort();
      Map<String, String> settings = new LinkedHashMap<>();
      settings.put("l0.max_bytes", Long.toString(Math.max(4L << 30, 4 * target)));
      settings.put("flush.interval", "off");
      settings.put("log.level", "INFO"); // "recovered in N ms" and the forks' replayedRecords
      settings.put("metrics.listen", "off");
      int heapMb = (int) Math.min(12_288, Math.max(1024, 8 * (target >> 20))); // L0 holds ~2.5x the WAL bytes
      info.put("recovery: Strata server", "-Xmx" + heapMb + "m, " + settings);

      long t0 = System.nanoTime();
      long docs = 0;
      long wal;
      List<String> ids = new ArrayList<>();
      StrataServerProcess server = StrataServerProcess.start(data, listen, settings, heapMb, dir.resolve("before.log"), 120_000);
      try (StrataClient c = StrataClient.builder(server.target()).deadline(Duration.ofMinutes(5)).build()) {
        c.createOrGetCollection("main", Corpus.COLLECTION, Corpus.SCHEMA);
        wal = walBytes(data);
        while (wal < target) {
          // Estimate the documents still needed from the bytes per document so far; overshoot by a write.
          long step = docs == 0 ? 2_000 : Math.max(RocksDbWalChild.BATCH,
              (long) ((target - wal) / ((double) wal / docs)) + RocksDbWalChild.BATCH);
          long from = docs;
          long to = docs + step;
          ChunkedLoader.run(from, to, RocksDbWalChild.BATCH, 4, () -> (start, end) -> {
            WriteRequest.Builder w = WriteRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
                .setDurability(Durability.DURABILITY_ASYNC);
            for (long i = start; i < end; i++) {
              w.addMutations(Mutation.newBuilder().setPut(corpus.replica(i).proto()));
            }
            c.write(w.build());
          });
          docs = to;
          wal = walBytes(data);
        }
        // One SYNC write: it is durable only once everything before it is, so the WAL is synced.
        c.write("main", Corpus.COLLECTION,
            List.of(Mutation.newBuilder().setPut(corpus.get(0).withId(RocksDbWalChild.MARKER).proto()).build()));
        Thread.sleep(2 * SYNC_INTERVAL_MS);
        wal = walBytes(data);
        for (long i : new long[] {0, docs / 2, docs - 1}) {
          ids.add(corpus.replica(i).id());
        }
        ids.add(RocksDbWalChild.MARKER);
      } finally {
        server.kill(); // SIGKILL
      }
      double loadSeconds = (System.nanoTime() - t0) / 1e9;

      Path afterLog = dir.resolve("after.log");
      long t1 = System.nanoTime();
      StrataServerProcess again = StrataServerProcess.start(data, listen, settings, heapMb, afterLog, 900_000);
      try (StrataClient c = StrataClient.connect(again.target(), null, false)) {
        awaitServing(c);
        double restartMs = (System.nanoTime() - t1) / 1e6;
        String text = Files.readString(afterLog, StandardCharsets.UTF_8);
        Matcher m = RECOVERED.matcher(text);
        double recoveryMs = m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
        if (Double.isNaN(recoveryMs)) {
          log.accept("no \"recovered in N ms\" in " + afterLog + ": " + StrataServerProcess.tail(afterLog));
        }
        Matcher r = REPLAYED.matcher(text);
        if (r.find()) { // coveredLsn 0: nothing had been flushed before the kill
          info.put("recovery: Strata fork main at restart, round " + rep, String.format(Locale.ROOT,
              "coveredLsn %s, WAL last LSN %s, %,d records replayed, L0 %,d MiB", r.group(1), r.group(2),
              Long.parseLong(r.group(3)), Long.parseLong(r.group(4)) >> 20));
        }
        int found = 0;
        for (String id : ids) {
          try {
            if (c.get("main", Corpus.COLLECTION, id, null).getId().equals(id)) {
              found++;
            }
          } catch (RuntimeException e) {
            log.accept("recovery: Strata lost acknowledged document " + id + ": " + e.getMessage());
          }
        }
        return new PeerReport.Recovery(STRATA, rep, wal, docs + 1, loadSeconds, restartMs, recoveryMs,
            mibPerSec(wal, recoveryMs), ids.size(), found);
      } finally {
        again.kill(); // a graceful stop would flush the whole L0 first: not part of the measurement
      }
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /** Bytes of every file under the {@code wal} directories of the forks of {@code dataDir}. */
  static long walBytes(Path dataDir) throws IOException {
    Path forks = dataDir.resolve("forks");
    if (!Files.isDirectory(forks)) {
      return 0;
    }
    long sum = 0;
    try (Stream<Path> s = Files.walk(forks)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path parent = p.getParent();
        if (parent != null && parent.getFileName().toString().equals("wal") && Files.isRegularFile(p)) {
          try {
            sum += Files.size(p);
          } catch (java.nio.file.NoSuchFileException e) {
            // deleted while walking
          }
        }
      }
    }
    return sum;
  }

  private static void awaitServing(StrataClient c) throws InterruptedException {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(c.channel());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    RuntimeException last = null;
    while (System.nanoTime() < deadline) {
      try {
        if (health.withDeadlineAfter(2, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus()
            == HealthCheckResponse.ServingStatus.SERVING) {
          return;
        }
      } catch (RuntimeException e) {
        last = e;
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException("the restarted server is not SERVING", last);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  // ------------------------------------------------------------------ RocksDB

  private List<PeerReport.Recovery> rocksDb(int rep, long target) throws Exception {
    Path dir = BenchDirs.create(scratchRoot, "strata-bench-recovery-rocksdb-");
    try {
      Path db = dir.resolve("db");
      Files.createDirectories(db);
      long t0 = System.nanoTime();
      Process writer = child(dir.resolve("write.log"), "write", db.toString(), Long.toString(target),
          Corpus.defaultPath().toAbsolutePath().toString(), Integer.toString(corpus.size()));
      long docs;
      long wal;
      List<String> ids = new ArrayList<>();
      try (BufferedReader r = reader(writer)) {
        Matcher w = WRITTEN.matcher(expectLine(r, "written ", writer, dir.resolve("write.log")));
        if (!w.find()) {
          throw new IOException("unexpected output of the RocksDB writer");
        }
        docs = Long.parseLong(w.group(1)) + 1; // and the marker
        wal = Long.parseLong(w.group(2));
        String line;
        while ((line = r.readLine()) != null && !line.equals("READY")) {
          if (line.startsWith("id ")) {
            ids.add(line.substring(3));
          }
        }
        if (line == null) {
          throw new IOException("the RocksDB writer ended early: " + StrataServerProcess.tail(dir.resolve("write.log")));
        }
      } finally {
        writer.destroyForcibly(); // SIGKILL
        writer.waitFor(30, TimeUnit.SECONDS);
      }
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      Path copy = dir.resolve("db-copy");
      copyTree(db, copy);
      List<PeerReport.Recovery> out = new ArrayList<>();
      out.add(rocksDbOpen(ROCKSDB, rep, db, false, target, wal, docs, loadSeconds, ids, dir));
      out.add(rocksDbOpen(ROCKSDB_NO_FLUSH, rep, copy, true, target, wal, docs, loadSeconds, ids, dir));
      return out;
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  private PeerReport.Recovery rocksDbOpen(String side, int rep, Path db, boolean avoidFlush, long target, long wal,
      long docs, double loadSeconds, List<String> ids, Path dir) throws Exception {
    List<String> args = new ArrayList<>(List.of("open", db.toString(), Long.toString(target), Boolean.toString(avoidFlush)));
    args.addAll(ids);
    Path childLog = dir.resolve("open-" + avoidFlush + ".log");
    long t0 = System.nanoTime();
    Process p = child(childLog, args.toArray(String[]::new));
    try (BufferedReader r = reader(p)) {
      String line = expectLine(r, "opened ", p, childLog);
      double restartMs = (System.nanoTime() - t0) / 1e6;
      Matcher m = OPENED.matcher(line);
      if (!m.find()) {
        throw new IOException("unexpected output of the RocksDB child: " + line);
      }
      double ms = Double.parseDouble(m.group(1));
      info.put("recovery: " + side + " after open, round " + rep, m.group(3).strip());
      return new PeerReport.Recovery(side, rep, wal, docs, loadSeconds, restartMs, ms, mibPerSec(wal, ms), ids.size(),
          Integer.parseInt(m.group(2)));
    } finally {
      p.waitFor(60, TimeUnit.SECONDS);
      p.destroyForcibly();
    }
  }

  /** A {@link RocksDbWalChild} JVM with this JVM's Java and class path; stderr to {@code log}. */
  private static Process child(Path log, String... args) throws IOException {
    String java = ProcessHandle.current().info().command().orElse(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx2g", "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), RocksDbWalChild.class.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(log.toFile()).start();
  }

  private static BufferedReader reader(Process p) {
    return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
  }

  /** The first line starting with {@code prefix}; an error with the child's log if it ends first. */
  private static String expectLine(BufferedReader r, String prefix, Process p, Path log) throws IOException {
    String line;
    while ((line = r.readLine()) != null) {
      if (line.startsWith(prefix)) {
        return line;
      }
    }
    throw new IOException("the RocksDB child ended without \"" + prefix.strip() + "\" (exit "
        + (p.isAlive() ? "?" : p.exitValue()) + "): " + StrataServerProcess.tail(log));
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path dest = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(dest);
        } else {
          Files.copy(p, dest, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  static double mibPerSec(long bytes, double millis) {
    return Double.isNaN(millis) ? Double.NaN : bytes / 1048576.0 / (Math.max(millis, 1) / 1e3);
  }
}
