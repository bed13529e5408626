package dev.strata.wal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** Lock-free counters behind {@link WalStats}: updated by appenders and leaders, read by anyone. */
final class WalMetrics {
  private final AtomicLong appends = new AtomicLong();
  private final AtomicLong bytesAppended = new AtomicLong();
  private final AtomicLong fsyncs = new AtomicLong();
  private final AtomicLong recordsSynced = new AtomicLong();
  private final AtomicLong bytesSynced = new AtomicLong();
  private final AtomicLong maxRecordsPerFsync = new AtomicLong();
  private final AtomicLongArray histogram =
      new AtomicLongArray(WalStats.RECORDS_PER_FSYNC_BUCKETS.size());

  void recordAppend(long encodedBytes) {
    appends.incrementAndGet();
    bytesAppended.addAndGet(encodedBytes);
  }

  void recordFsync(long records, long encodedBytes) {
    fsyncs.incrementAndGet();
    recordsSynced.addAndGet(records);
    bytesSynced.addAndGet(encodedBytes);
    maxRecordsPerFsync.accumulateAndGet(records, Math::max);
    List<Long> bounds = WalStats.RECORDS_PER_FSYNC_BUCKETS;
    for (int i = 0; i < bounds.size(); i++) {
      if (records <= bounds.get(i)) {
        histogram.incrementAndGet(i);
        break;
      }
    }
  }

  WalStats snapshot() {
    List<Long> h = new ArrayList<>(histogram.length());
    for (int i = 0; i < histogram.length(); i++) {
      h.add(histogram.get(i));
    }
    return new WalStats(
        appends.get(),
        bytesAppended.get(),
        fsyncs.get(),
        recordsSynced.get(),
        bytesSynced.get(),
        maxRecordsPerFsync.get(),
        h);
  }
}
