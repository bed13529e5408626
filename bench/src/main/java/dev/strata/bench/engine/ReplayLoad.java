package dev.strata.bench.engine;

import dev.strata.bench.BenchDirs;
import dev.strata.bench.peers.Corpus;
import dev.strata.bench.peers.CorpusDoc;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.server.ApiConversions;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * In-process L0 footprint and WAL replay speed (issue #12), on the Debian corpus replayed under new
 * ids: writes ASYNC batches of 500 into fork {@code main} (no flush: {@code l0.max_bytes} above the
 * target, interval flush off) until the fork's WAL holds {@code --wal-mib} MiB on disk, reports L0
 * bytes per WAL byte, then abandons the engine without flushing (as kill -9 leaves it: the WAL is
 * synced first) and times {@link StrataEngine#open} on the same directory: the replay of the whole
 * WAL into L0, in MiB of WAL per second, and the CPU time of the thread that opened it (with one
 * fork the whole replay runs on that thread: a figure less at the mercy of other processes on a
 * shared machine than the wall time). Repeats the reopen {@code --reps} times (a fresh JVM per
 * run of this tool is what workload 6 measures; here the JIT is warm after the first open).
 *
 * <p>It uses only the engine's public API that existed before issue #12, so the same source
 * measures the code before and after (compile it against either build's benchmarks.jar).
 *
 * <p>Usage: {@code ReplayLoad [--wal-mib 256] [--reps 3] [--forks 1] [--keep DIR]}: with {@code
 * --keep} the data directory is DIR and is kept, and a DIR that already holds one is only replayed
 * (so two builds can replay the same WAL in turn). Prints one line per measurement.
 */
public final class ReplayLoad {
  /** CPU time of the opening thread: with one fork the whole replay runs on it. */
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private ReplayLoad() {}

  /**
   * Runs the measurement (arguments in the class comment); prints a {@code written} line (unless the
   * kept directory exists) and one {@code replay} line per repetition.
   */
  public static void main(String[] args) throws Exception {
    long walMib = 256;
    int reps = 3;
    int forks = 1;
    Path keep = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--keep" -> keep = Path.of(args[++i]);
        case "--wal-mib" -> walMib = Long.parseLong(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--forks" -> forks = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Path dir = keep != null ? keep : BenchDirs.create("replay-load");
    boolean reuse = keep != null && Files.isDirectory(keep.resolve("forks"));
    EngineOptions options =
        EngineOptions.builder()
            .l0MaxBytes(Math.max(4L << 30, 8 * (walMib << 20)))
            .flushIntervalMs(0)
            .compaction(CompactionOptions.defaults().withEnabled(false))
            .build();
    try {
      if (!reuse) {
        write(dir, options, walMib, forks);
      }
      long wal = walBytes(dir);
      for (int r = 0; r < reps; r++) {
        System.gc();
        long s = System.nanoTime();
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        StrataEngine again = StrataEngine.open(dir, LocalVfs.INSTANCE, options);
        double seconds = (System.nanoTime() - s) / 1e9;
        double cpuSeconds = (THREADS.getCurrentThreadCpuTime() - cpu0) / 1e9;
        long l0After = l0Bytes(again);
        System.out.printf(
            Locale.ROOT,
            "replay rep=%d walMiB=%.1f seconds=%.3f mibPerSecond=%.1f openThreadCpuSeconds=%.3f l0Bytes=%d"
                + " l0PerWalByte=%.3f heapUsedMiB=%d%n",
            r, wal / 1048576.0, seconds, wal / 1048576.0 / seconds, cpuSeconds, l0After, (double) l0After / wal,
            heapUsedMib());
        again.haltForTesting(() -> null);
      }
    } finally {
      if (keep == null) {
        BenchDirs.deleteRecursively(dir);
      }
    }
  }

  /** Fills the forks' WALs to the target and abandons the engine as kill -9 would. */
  private static void write(Path dir, EngineOptions options, long walMib, int forks) throws Exception {
    Corpus corpus = Corpus.load(Corpus.defaultPath(), Integer.MAX_VALUE);
    StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options);
    List<Fork> targets = new ArrayList<>();
    for (int f = 0; f < forks; f++) {
      Fork fork = f == 0 ? engine.fork("main") : engine.createFork("f" + f, null, "main", true, 10_000);
      fork.createOrGetCollection(Corpus.COLLECTION, ApiConversions.schema(Corpus.SCHEMA));
      targets.add(fork);
    }
    long target = walMib << 20;
    long next = 0;
    long docs = 0;
    long t0 = System.nanoTime();
    while (walBytes(dir) < target * forks) {
      for (Fork fork : targets) {
        for (int b = 0; b < 20; b++) {
          List<Mutation> batch = new ArrayList<>(500);
          for (int i = 0; i < 500; i++) {
            CorpusDoc d = corpus.replica(next++);
            batch.add(new Mutation.Put(d.engine()));
          }
          fork.write(Corpus.COLLECTION, batch, Durability.ASYNC);
          docs += 500;
        }
      }
    }
    targets.get(targets.size() - 1).write(
        Corpus.COLLECTION, List.of(new Mutation.Put(corpus.replica(next++).engine())), Durability.SYNC);
    double writeSeconds = (System.nanoTime() - t0) / 1e9;
    long wal = walBytes(dir);
    long l0 = l0Bytes(engine);
    System.out.printf(
        Locale.ROOT,
        "written docs=%d forks=%d walBytes=%d l0Bytes=%d l0PerWalByte=%.3f seconds=%.1f docsPerSecond=%.0f heapUsedMiB=%d%n",
        docs, forks, wal, l0, (double) l0 / wal, writeSeconds, docs / writeSeconds, heapUsedMib());
    engine.haltForTesting(() -> null);
  }

  private static long l0Bytes(StrataEngine engine) {
    long n = 0;
    for (Fork f : engine.openForks()) {
      n += f.stats().l0Bytes();
    }
    return n;
  }

  private static long heapUsedMib() {
    Runtime rt = Runtime.getRuntime();
    return (rt.totalMemory() - rt.freeMemory()) >> 20;
  }

  /** Bytes of every fork's WAL segment files. */
  static long walBytes(Path dataDir) throws IOException {
    Path forks = dataDir.resolve("forks");
    if (!Files.exists(forks)) {
      return 0;
    }
    long n = 0;
    try (Stream<Path> files = Files.walk(forks)) {
      for (Path p : files.filter(p -> p.toString().endsWith(".wal")).toList()) {
        n += Files.size(p);
      }
    }
    return n;
  }
}
