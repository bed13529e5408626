package dev.strata.engine.fork;

import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.ForkEntry;
import dev.strata.wal.WalWriter;

/**
 * A point-in-time view of one fork's counters (the {@code Stats} RPC and the Prometheus metrics).
 * Values are read one by one without a common lock, so they may be a few microseconds apart.
 *
 * @param l0Bytes bytes in every L0 buffer of the fork (active and frozen)
 * @param activeL0Bytes bytes in the active buffer
 * @param frozenL0Bytes bytes in frozen buffers whose flushes are in flight
 * @param l0ReservedBytes memory every L0 buffer of the fork holds: the arena chunks, unused chunk
 *     ends included (what the memory budget's L0 share accounts), bytes
 * @param walDurableLsn every WAL record up to this LSN is fsynced
 * @param lastFlushDurationMs rotate-to-publish time of the last published flush, ms
 * @param frozenBuffers number of frozen buffers
 * @param pendingFlushes rotated and not yet published
 * @param segmentCount segments in the head snapshot
 * @param walLastLsn last LSN the WAL assigned
 * @param coveredLsn the head snapshot's covered LSN
 * @param stallTimeMs total time writers waited for a flush permit, ms
 * @param flushesPublished flushes published since the fork opened
 * @param flushRetries stream attempts retried since the fork opened
 * @param readOnlyReason why the fork is read-only, or null
 * @param compactionsPublished compactions published since the fork opened
 * @param compactionsAborted compactions aborted (their run left the head, or the fork stopped)
 * @param flushBytesWritten segment bytes written by flushes since the fork opened
 * @param compactionBytesWritten segment bytes written by compactions since the fork opened
 * @param compactionStalls writes that waited in the segment-count stall
 * @param compactionStallMs total time spent in that stall, ms
 * @param retainedSnapshots manifests retained on disk
 * @param lastCompactionError the last compaction failure's message, or null
 * @param lastCompactionErrorTimeMs when it happened, ms since the epoch (0 if never)
 */
public record ForkStats(
    String name,
    String forkId,
    long l0Bytes,
    long activeL0Bytes,
    long frozenL0Bytes,
    long l0ReservedBytes,
    long walDurableLsn,
    long lastFlushDurationMs,
    int frozenBuffers,
    int pendingFlushes,
    int segmentCount,
    long walLastLsn,
    long coveredLsn,
    long stallTimeMs,
    long flushesPublished,
    long flushRetries,
    String readOnlyReason,
    long compactionsPublished,
    long compactionsAborted,
    long flushBytesWritten,
    long compactionBytesWritten,
    long compactionStalls,
    long compactionStallMs,
    int retainedSnapshots,
    String lastCompactionError,
    long lastCompactionErrorTimeMs) {

  /**
   * Bytes written by flushes and compactions per byte written by flushes (1.0 = no rewrite; 0
   * before the first flush of this process).
   */
  public double writeAmplification() {
    return flushBytesWritten == 0 ? 0 : (double) (flushBytesWritten + compactionBytesWritten) / flushBytesWritten;
  }

  /** Reads the counters of a fork's parts, one by one (no common lock). */
  static ForkStats read(
      ForkEntry entry,
      ReadState s,
      WalWriter wal,
      FlushCoordinator<L0Buffer, FlushOutput> flush,
      SnapshotPublisher publisher,
      CompactionPublisher compactions,
      WriteController writeController,
      SnapshotChain chain,
      ForkLifecycle lifecycle) {
    PublishedSnapshot head = s.head();
    return new ForkStats(
        entry.name(),
        entry.forkId(),
        s.l0Bytes(),
        s.active().sizeBytes(),
        s.l0Bytes() - s.active().sizeBytes(),
        s.l0ReservedBytes(),
        wal.durableLsn(),
        publisher.lastFlushDurationMs(),
        s.frozenNewestFirst().size(),
        flush.pendingFlushes(),
        head == null ? 0 : head.segments().size(),
        wal.lastLsn(),
        head == null ? 0 : head.coveredLsn(),
        flush.stallTimeMs(),
        flush.publishedCount(),
        flush.retryCount(),
        lifecycle.readOnlyReason(),
        compactions.publishedCount(),
        compactions.abortedCount(),
        publisher.flushBytesWritten(),
        compactions.bytesWritten(),
        writeController.segmentStalls(),
        writeController.segmentStallMs(),
        chain.retainedCount(),
        compactions.lastError(),
        compactions.lastErrorTimeMs());
  }
}
