package dev.strata.engine.segment;

/**
 * Settings of the local segment cache ({@link SegmentCache}). Immutable.
 *
 * @param cacheBytes the budget, bytes, of segments that are materialized on local disk, already in
 *     remote storage and held by no read ({@code storage.cache_bytes}); above it the least recently
 *     used of them are evicted. 0 turns eviction off: every segment stays local (the default, and
 *     the only mode without a {@code source})
 * @param source where evicted (or never local) segments are fetched from; null without a tier
 * @param downloadTimeoutMs how long a read waits for a segment's download before it fails with
 *     UNAVAILABLE (default 120000 ms); the download itself goes on
 * @param downloadThreads threads that fetch segments (default 2)
 */
public record SegmentCacheOptions(long cacheBytes, RemoteSegmentSource source, long downloadTimeoutMs, int downloadThreads) {
  /** Default wait for a download: 2 minutes. */
  public static final long DEFAULT_DOWNLOAD_TIMEOUT_MS = 120_000;

  /** No tier, no eviction: every segment stays on local disk. */
  public static final SegmentCacheOptions OFF = new SegmentCacheOptions(0, null, DEFAULT_DOWNLOAD_TIMEOUT_MS, 2);

  /**
   * @throws IllegalArgumentException if a value is negative, or a budget is set without a source
   */
  public SegmentCacheOptions {
    if (cacheBytes < 0 || downloadTimeoutMs <= 0 || downloadThreads < 1) {
      throw new IllegalArgumentException(
          "storage.cache_bytes must be >= 0, the download timeout and threads > 0; got " + cacheBytes + ", "
              + downloadTimeoutMs + ", " + downloadThreads);
    }
    if (cacheBytes > 0 && source == null) {
      throw new IllegalArgumentException("storage.cache_bytes needs the object-storage tier (nowhere to fetch evicted segments from)");
    }
  }

  /** A budget of {@code bytes} over {@code source}, with the default timeout and threads. */
  public static SegmentCacheOptions of(long bytes, RemoteSegmentSource source) {
    return new SegmentCacheOptions(bytes, source, DEFAULT_DOWNLOAD_TIMEOUT_MS, 2);
  }

  /** True when segments can be evicted and fetched back. */
  public boolean evicts() {
    return cacheBytes > 0 && source != null;
  }

  /** True when segments missing locally can be fetched (a source is set, even without a budget). */
  public boolean fetches() {
    return source != null;
  }
}
