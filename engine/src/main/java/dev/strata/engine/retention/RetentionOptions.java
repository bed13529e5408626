package dev.strata.engine.retention;

/**
 * Snapshot retention (SPEC §4). Immutable.
 *
 * @param snapshots each fork keeps at least its last this-many snapshots (default 100, at least 1)
 * @param minAgeMs and every snapshot younger than this, in ms (default 3,600,000 = 1 h)
 * @param intervalMs how often expired snapshots are deleted and unreferenced segments reclaimed, in
 *     ms (default 30,000)
 */
public record RetentionOptions(int snapshots, long minAgeMs, long intervalMs) {

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
  }

  /** 100 snapshots, 1 h, every 30 s. */
  public static RetentionOptions defaults() {
    return new RetentionOptions(100, 3_600_000, 30_000);
  }
}
