package dev.strata.engine.retention;

/**
 * Snapshot retention (SPEC §4). Immutable.
 *
 * @param snapshots each fork keeps at least its last this-many snapshots (default 100, at least 1)
 * @param minAgeMs and every snapshot younger than this, in ms (default 3,600,000 = 1 h)
 * @param intervalMs how often expired snapshots are deleted and unreferenced segments reclaimed, in
 *     ms (default 30,000)
 * @param maxBytes the space bound in bytes: when the segments every retained snapshot of every fork
 *     refers to take more, the oldest snapshots that are neither a head, tagged nor a fork's base
 *     expire early, whatever the two rules above say (default 0 = off)
 * @param maxSpaceAmplification the same bound as a ratio to the live data (the segments the forks'
 *     heads refer to): retained bytes above ratio × live bytes expire snapshots early (default 4;
 *     0 = off). The tighter of the two bounds applies (Neon's gc horizon / a PITR window).
 */
public record RetentionOptions(
    int snapshots, long minAgeMs, long intervalMs, long maxBytes, double maxSpaceAmplification) {

  /** Without a space bound: keep by count and age only. */
  public RetentionOptions(int snapshots, long minAgeMs, long intervalMs) {
    this(snapshots, minAgeMs, intervalMs, 0, 0);
  }

  /** Checks ranges. */
  public RetentionOptions {
    if (snapshots < 1) {
      throw new IllegalArgumentException("retention.snapshots must be at least 1, got " + snapshots);
    }
    if (minAgeMs < 0) {
      throw new IllegalArgumentException("retention.min_age must not be negative");
    }
    if (intervalMs < 1) {
      throw new IllegalArgumentException("retention.interval must be positive");
    }
    if (maxBytes < 0) {
      throw new IllegalArgumentException("retention.max_bytes must not be negative");
    }
    if (!(maxSpaceAmplification == 0 || maxSpaceAmplification >= 1)) {
      throw new IllegalArgumentException(
          "retention.max_space_amplification must be 0 (off) or at least 1, got " + maxSpaceAmplification);
    }
  }

  /** 100 snapshots, 1 h, every 30 s, and no more than 4× the live data on disk. */
  public static RetentionOptions defaults() {
    return new RetentionOptions(100, 3_600_000, 30_000, 0, 4.0);
  }

  /** True if a space bound is configured. */
  public boolean hasSpaceBound() {
    return maxBytes > 0 || maxSpaceAmplification > 0;
  }

  /** The bound on retained bytes for {@code liveBytes} of live data (Long.MAX_VALUE if none). */
  public long spaceBoundBytes(long liveBytes) {
    long bound = Long.MAX_VALUE;
    if (maxBytes > 0) {
      bound = maxBytes;
    }
    if (maxSpaceAmplification > 0) {
      double byRatio = maxSpaceAmplification * liveBytes;
      bound = Math.min(bound, byRatio >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) byRatio);
    }
    return bound;
  }
}
