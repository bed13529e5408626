package dev.strata.bench.wal;

import java.io.IOException;

/**
 * Something that appends a record and returns once the record is durable (fsynced): the Strata WAL
 * with {@code Durability.SYNC}, a naive write+force loop, RocksDB with {@code sync=true}. One
 * instance is shared by every benchmark thread, so every method is thread-safe.
 */
interface SyncAppendTarget extends AutoCloseable {

  /** Appends {@code record} and returns once it is durable. */
  void appendSync(byte[] record) throws IOException;

  /** Cumulative counters since open; their differences give records per fsync. */
  SyncCounts counts();

  /**
   * A one-line description of what happened between {@code from} and now (records per fsync, the
   * target's own group-commit statistics), printed after every iteration.
   */
  String describeSince(SyncCounts from);

  @Override
  void close() throws IOException;

  /**
   * @param fsyncs fsync (fdatasync) calls that made records durable
   * @param records records made durable by them
   * @param detail target-specific counters, for {@link #describeSince}; may be null
   */
  record SyncCounts(long fsyncs, long records, Object detail) {
    /** Records per fsync between {@code from} and this (0 if no fsync). */
    double recordsPerFsyncSince(SyncCounts from) {
      long f = fsyncs - from.fsyncs;
      return f == 0 ? 0 : (double) (records - from.records) / f;
    }
  }
}
