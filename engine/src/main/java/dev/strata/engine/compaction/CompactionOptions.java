package dev.strata.engine.compaction;

/**
 * Knobs of background compaction (issue #5; {@code docs/architecture.md} "Compaction" explains the
 * policy). Immutable.
 *
 * @param enabled run background compaction at all (default true); {@code Compact} works either way
 * @param maxSegments the cap on segments per fork head (default 16): past it the policy merges the
 *     cheapest contiguous window that brings the head back to the cap
 * @param mergeFactor how many contiguous segments of one size tier merge into one (default 4, at
 *     least 2); also the most segments a tier holds before it merges
 * @param floorSegmentBytes segments smaller than this count as this size when tiers are computed
 *     (default 2 MiB), so tiny interval flushes merge eagerly instead of forming many tiers
 * @param maxMergedSegmentBytes the policy never writes a segment larger than this (default 5 GiB);
 *     bigger segments are left alone except by a forced full merge
 * @param maxConcurrent compactions running at once over all forks (default cores / 2, at least 1)
 * @param writeRateBytesPerSec bytes per second all compactions together may write; 0 = unlimited
 *     (default 64 MiB/s)
 * @param stopWritesSegments head segment count at which a fork's size-triggered rotates wait for
 *     compaction (the last-resort write stall, RocksDB's {@code level0_stop_writes_trigger});
 *     default 3 × maxSegments
 * @param checkIntervalMs how often every fork's head is re-examined even without a new flush
 *     (default 5000 ms)
 */
public record CompactionOptions(
    boolean enabled,
    int maxSegments,
    int mergeFactor,
    long floorSegmentBytes,
    long maxMergedSegmentBytes,
    int maxConcurrent,
    long writeRateBytesPerSec,
    int stopWritesSegments,
    long checkIntervalMs) {

  /** Checks ranges. */
  public CompactionOptions {
    if (maxSegments < 2) {
      throw new IllegalArgumentException("compaction.max_segments must be at least 2, got " + maxSegments);
    }
    if (mergeFactor < 2) {
      throw new IllegalArgumentException("compaction.merge_factor must be at least 2, got " + mergeFactor);
    }
    if (floorSegmentBytes < 1 || maxMergedSegmentBytes < floorSegmentBytes) {
      throw new IllegalArgumentException(
          "compaction.floor_segment_bytes must be positive and at most compaction.max_merged_segment_bytes");
    }
    if (maxConcurrent < 1) {
      throw new IllegalArgumentException("compaction.max_concurrent must be at least 1, got " + maxConcurrent);
    }
    if (writeRateBytesPerSec < 0) {
      throw new IllegalArgumentException("compaction.write_rate must not be negative");
    }
    if (stopWritesSegments <= maxSegments) {
      throw new IllegalArgumentException(
          "compaction.stop_writes_segments (" + stopWritesSegments + ") must exceed compaction.max_segments ("
              + maxSegments + ")");
    }
    if (checkIntervalMs < 1) {
      throw new IllegalArgumentException("compaction.check_interval must be positive");
    }
  }

  /** The defaults listed on the record. */
  public static CompactionOptions defaults() {
    int cores = Runtime.getRuntime().availableProcessors();
    return new CompactionOptions(true, 16, 4, 2L << 20, 5L << 30, Math.max(1, cores / 2), 64L << 20, 48, 5_000);
  }

  /** A copy with {@code enabled} changed. */
  public CompactionOptions withEnabled(boolean v) {
    return new CompactionOptions(v, maxSegments, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, writeRateBytesPerSec, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with the cap changed, and the write-stop threshold kept at 3 × the cap if it fell below. */
  public CompactionOptions withMaxSegments(int v) {
    return new CompactionOptions(enabled, v, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, writeRateBytesPerSec, Math.max(stopWritesSegments, 3 * v), checkIntervalMs);
  }

  /** A copy with {@code mergeFactor} changed. */
  public CompactionOptions withMergeFactor(int v) {
    return new CompactionOptions(enabled, maxSegments, v, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, writeRateBytesPerSec, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with {@code floorSegmentBytes} changed. */
  public CompactionOptions withFloorSegmentBytes(long v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, v, Math.max(v, maxMergedSegmentBytes),
        maxConcurrent, writeRateBytesPerSec, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with {@code maxMergedSegmentBytes} changed. */
  public CompactionOptions withMaxMergedSegmentBytes(long v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, floorSegmentBytes, v,
        maxConcurrent, writeRateBytesPerSec, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with {@code maxConcurrent} changed. */
  public CompactionOptions withMaxConcurrent(int v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        v, writeRateBytesPerSec, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with {@code writeRateBytesPerSec} changed (0 = unlimited). */
  public CompactionOptions withWriteRateBytesPerSec(long v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, v, stopWritesSegments, checkIntervalMs);
  }

  /** A copy with {@code stopWritesSegments} changed. */
  public CompactionOptions withStopWritesSegments(int v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, writeRateBytesPerSec, v, checkIntervalMs);
  }

  /** A copy with {@code checkIntervalMs} changed. */
  public CompactionOptions withCheckIntervalMs(long v) {
    return new CompactionOptions(enabled, maxSegments, mergeFactor, floorSegmentBytes, maxMergedSegmentBytes,
        maxConcurrent, writeRateBytesPerSec, stopWritesSegments, v);
  }
}
