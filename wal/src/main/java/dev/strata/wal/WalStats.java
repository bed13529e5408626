package dev.strata.wal;

import java.util.List;

/**
 * Counters of one {@link WalWriter} since it was opened; a consistent-enough snapshot (each counter
 * is read atomically, the set is not). Byte counts are encoded bytes (8-byte header + payload),
 * i.e. bytes in the segment files.
 *
 * <p>Group commit shows in {@link #recordsPerFsync()}: 1.0 means every SYNC append paid its own
 * fsync; N means one fsync served N records on average. The histogram counts fsyncs by the number
 * of records each one made durable, in buckets whose inclusive upper bounds are {@link
 * #RECORDS_PER_FSYNC_BUCKETS} (the last bucket is open-ended).
 *
 * @param appends records accepted by {@code append}
 * @param bytesAppended encoded bytes of those records
 * @param fsyncs segment-file fsyncs that made at least one record durable (the sync of a recovered
 *     tail at open is not counted)
 * @param recordsSynced records made durable by those fsyncs
 * @param bytesSynced encoded bytes made durable by those fsyncs
 * @param maxRecordsPerFsync the most records one fsync made durable
 * @param recordsPerFsyncHistogram fsync counts per bucket, same length as {@link
 *     #RECORDS_PER_FSYNC_BUCKETS}
 */
public record WalStats(
    long appends,
    long bytesAppended,
    long fsyncs,
    long recordsSynced,
    long bytesSynced,
    long maxRecordsPerFsync,
    List<Long> recordsPerFsyncHistogram) {

  /** Inclusive upper bounds of the histogram buckets: 1, 2, 4, … 256, then everything above. */
  public static final List<Long> RECORDS_PER_FSYNC_BUCKETS =
      List.of(1L, 2L, 4L, 8L, 16L, 32L, 64L, 128L, 256L, Long.MAX_VALUE);

  /** Copies the histogram. */
  public WalStats {
    recordsPerFsyncHistogram = List.copyOf(recordsPerFsyncHistogram);
  }

  /** Average records made durable per fsync (0 if none yet). */
  public double recordsPerFsync() {
    return fsyncs == 0 ? 0 : (double) recordsSynced / fsyncs;
  }

  /** Average encoded bytes made durable per fsync (0 if none yet). */
  public double bytesPerFsync() {
    return fsyncs == 0 ? 0 : (double) bytesSynced / fsyncs;
  }
}
