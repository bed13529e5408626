package dev.strata.bench.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Statistics;
import org.rocksdb.TickerType;
import org.rocksdb.WriteOptions;

/**
 * RocksDB through JNI, default options (WAL on) plus a {@link Statistics} object for the counters:
 * {@code put} with {@code WriteOptions.setSync(true)}, a new 16-byte key each time. RocksDB does
 * its own group commit (a write-group leader writes and syncs the WAL for everyone queued behind
 * it), so {@code WAL_FILE_SYNCED} against {@code NUMBER_KEYS_WRITTEN} is its records per fsync.
 *
 * <p>JMH may run one thread's iteration tear-down (which reads the counters) after another thread
 * ran the trial tear-down ({@link #close}); reading a closed {@link Statistics} is a use-after-free
 * in native code (it crashed the JVM once). So {@code counts} and {@code close} share a lock, and
 * after close {@code counts} returns the values read at close.
 */
final class RocksDbSyncTarget implements SyncAppendTarget {
  static {
    RocksDB.loadLibrary();
  }

  private final Statistics statistics = new Statistics();
  private final Options options = new Options().setCreateIfMissing(true).setStatistics(statistics);
  private final WriteOptions sync = new WriteOptions().setSync(true);
  private final RocksDB db;
  private final AtomicLong nextKey = new AtomicLong();

  /** Guards the native Statistics against close while it is read. */
  private final Object statisticsLock = new Object();

  /** Set by close, under statisticsLock. */
  private SyncCounts countsAtClose;

  RocksDbSyncTarget(Path dir) throws IOException {
    try {
      db = RocksDB.open(options, dir.toString());
    } catch (RocksDBException e) {
      sync.close();
      options.close();
      statistics.close();
      throw new IOException("cannot open RocksDB in " + dir, e);
    }
  }

  @Override
  public void appendSync(byte[] record) throws IOException {
    byte[] key = ByteBuffer.allocate(16).putLong(0x5354524154414242L).putLong(nextKey.getAndIncrement()).array();
    try {
      db.put(sync, key, record);
    } catch (RocksDBException e) {
      throw new IOException("RocksDB put failed", e);
    }
  }

  @Override
  public SyncCounts counts() {
    synchronized (statisticsLock) {
      return countsAtClose != null ? countsAtClose : readCountsLocked();
    }
  }

  private SyncCounts readCountsLocked() {
    long[] detail = {
      statistics.getTickerCount(TickerType.WRITE_DONE_BY_SELF),
      statistics.getTickerCount(TickerType.WRITE_DONE_BY_OTHER)
    };
    return new SyncCounts(
        statistics.getTickerCount(TickerType.WAL_FILE_SYNCED),
        statistics.getTickerCount(TickerType.NUMBER_KEYS_WRITTEN),
        detail);
  }

  @Override
  public String describeSince(SyncCounts from) {
    SyncCounts now = counts();
    long[] a = (long[]) from.detail();
    long[] b = (long[]) now.detail();
    return String.format(
        "rocksdb: %d records, %d WAL syncs, %.2f records/fsync; writes done by self %d, by a group"
            + " leader %d",
        now.records() - from.records(),
        now.fsyncs() - from.fsyncs(),
        now.recordsPerFsyncSince(from),
        b[0] - a[0],
        b[1] - a[1]);
  }

  @Override
  public void close() {
    synchronized (statisticsLock) {
      if (countsAtClose != null) {
        return;
      }
      countsAtClose = readCountsLocked();
      db.close();
      sync.close();
      options.close();
      statistics.close();
    }
  }
}
