package dev.strata.engine.segment;

/**
 * The local segment cache's state and counters ({@link SegmentStore#cacheStats}). Immutable.
 *
 * @param budgetBytes {@code storage.cache_bytes} (0: no eviction)
 * @param residentBytes bytes (SST + Lucene) of uploaded segments materialized locally, pinned or
 *     not: the bytes the budget bounds when nothing is pinned
 * @param pinnedBytes of those, the bytes of segments a read pins now
 * @param residentSegments uploaded segments materialized locally
 * @param remoteSegments segments held (by snapshots) whose files are only remote now
 * @param hits pins of a segment that was local
 * @param misses pins that started a download
 * @param evictions segments evicted
 * @param downloadFailures downloads that failed
 * @param evictionFailures evictions that failed
 * @param downloadedBytes bytes read from remote storage
 * @param downloadMs time spent in downloads that succeeded, ms (sum over threads)
 */
public record SegmentCacheStats(
    long budgetBytes, long residentBytes, long pinnedBytes, int residentSegments, int remoteSegments, long hits, long misses,
    long evictions, long downloadFailures, long evictionFailures, long downloadedBytes, long downloadMs) {}
