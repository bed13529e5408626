package dev.strata.bench.wal;

import dev.strata.bench.BenchDirs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Durable appends of 1 KiB records at 1, 8 and 64 concurrent appenders (issue #2), three ways in
 * one run ({@code target}):
 *
 * <ul>
 *   <li>{@code strata}: {@code WalWriter.append(record, SYNC)} and wait for the durable future
 *       (group commit: one write and one fsync per batch of waiting appenders);
 *   <li>{@code raw}: one {@code FileChannel}, each appender in turn writes and {@code force(false)}s
 *       — a naive WAL, one fsync per record;
 *   <li>{@code rawPrealloc}: the same on a file filled with zeros beforehand (records overwrite it,
 *       so an fdatasync changes no metadata): what segment preallocation would buy;
 *   <li>{@code rocksdb}: RocksDB JNI {@code put} with {@code WriteOptions.setSync(true)}, default
 *       options, one DB.
 * </ul>
 *
 * <p>The score is records made durable per second (all threads). The secondary metrics {@code
 * fsyncs} and {@code syncedRecords} are fsyncs per second and records made durable per second as
 * the target itself counts them; their ratio is records per fsync (group-commit width). After every
 * iteration the target's own statistics are printed too (for Strata, the histogram of records per
 * fsync).
 *
 * <p>Each trial gets a fresh directory under {@code -Dstrata.bench.dir} (default {@code
 * java.io.tmpdir}), deleted afterwards.
 *
 * <p>Run: {@code bench/run-wal-bench.sh WalAppend -f 1 -wi 1 -i 3 -r 5s}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx1g", "--enable-native-access=ALL-UNNAMED"})
public class WalAppendBenchmark {

  /** Payload bytes per record. */
  static final int RECORD_BYTES = 1024;

  /** File size made beforehand for {@code rawPrealloc}: far more than a trial writes at ~1 fsync/record. */
  static final long PREALLOCATE_BYTES = 256L << 20;

  @Param({"strata", "raw", "rawPrealloc", "rocksdb"})
  public String target;

  private Path dir;
  private SyncAppendTarget appender;
  private byte[] record;
  private SyncAppendTarget.SyncCounts iterationStart;

  @Setup(Level.Trial)
  public void openTarget() throws IOException {
    record = new byte[RECORD_BYTES];
    new SplittableRandom(42).nextBytes(record); // incompressible, fixed seed
    dir = BenchDirs.create("wal-append-" + target + "-");
    appender =
        switch (target) {
          case "strata" -> new StrataWalTarget(dir);
          case "raw" -> new RawChannelTarget(dir, RECORD_BYTES, 0);
          case "rawPrealloc" -> new RawChannelTarget(dir, RECORD_BYTES, PREALLOCATE_BYTES);
          case "rocksdb" -> new RocksDbSyncTarget(dir);
          default -> throw new IllegalArgumentException("unknown target " + target);
        };
  }

  @Setup(Level.Iteration)
  public void markIteration() {
    iterationStart = appender.counts();
  }

  @TearDown(Level.Iteration)
  public void printIteration() {
    System.out.println();
    System.out.println("  [" + appender.describeSince(iterationStart) + "]");
  }

  @TearDown(Level.Trial)
  public void closeTarget() throws IOException {
    try {
      appender.close();
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /**
   * Per-iteration fsync counters, as rates: only thread 0 reports them (they are global to the
   * target), the others report 0, and JMH sums over threads.
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class SyncCounters {
    /** fsync calls per second. */
    public long fsyncs;

    /** Records made durable per second, as the target counts them. */
    public long syncedRecords;

    private boolean reporter;
    private SyncAppendTarget.SyncCounts start;

    @Setup(Level.Iteration)
    public void start(WalAppendBenchmark bench, ThreadParams threads) {
      reporter = threads.getThreadIndex() == 0;
      fsyncs = 0;
      syncedRecords = 0;
      start = bench.appender.counts();
    }

    @TearDown(Level.Iteration)
    public void stop(WalAppendBenchmark bench) {
      if (reporter) {
        SyncAppendTarget.SyncCounts end = bench.appender.counts();
        fsyncs = end.fsyncs() - start.fsyncs();
        syncedRecords = end.records() - start.records();
      }
    }
  }

  private void append() throws IOException {
    appender.appendSync(record);
  }

  @Benchmark
  @Threads(1)
  public void appenders01(SyncCounters counters) throws IOException {
    append();
  }

  @Benchmark
  @Threads(8)
  public void appenders08(SyncCounters counters) throws IOException {
    append();
  }

  @Benchmark
  @Threads(64)
  public void appenders64(SyncCounters counters) throws IOException {
    append();
  }
}
