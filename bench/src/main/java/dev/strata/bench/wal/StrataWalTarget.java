package dev.strata.bench.wal;

import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import dev.strata.wal.WalOptions;
import dev.strata.wal.WalStats;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The Strata WAL with default options: {@code append(record, SYNC)}, then wait for its future. */
final class StrataWalTarget implements SyncAppendTarget {
  private final WalWriter wal;

  StrataWalTarget(Path dir) throws IOException {
    wal = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.defaults());
  }

  @Override
  public void appendSync(byte[] record) throws IOException {
    wal.append(record, Durability.SYNC).durable().join();
  }

  @Override
  public SyncCounts counts() {
    WalStats s = wal.stats();
    return new SyncCounts(s.fsyncs(), s.recordsSynced(), s);
  }

  @Override
  public String describeSince(SyncCounts from) {
    WalStats a = (WalStats) from.detail();
    WalStats b = wal.stats();
    List<String> buckets = new ArrayList<>();
    List<Long> bounds = WalStats.RECORDS_PER_FSYNC_BUCKETS;
    for (int i = 0; i < bounds.size(); i++) {
      long n = b.recordsPerFsyncHistogram().get(i) - a.recordsPerFsyncHistogram().get(i);
      if (n > 0) {
        String label = bounds.get(i) == Long.MAX_VALUE ? ">" + bounds.get(i - 1) : "<=" + bounds.get(i);
        buckets.add(label + ":" + n);
      }
    }
    long fsyncs = b.fsyncs() - a.fsyncs();
    long records = b.recordsSynced() - a.recordsSynced();
    return String.format(
        "strata-wal: %d records, %d fsyncs, %.2f records/fsync (max %d since open), %.0f bytes/fsync;"
            + " fsyncs by records per fsync {%s}",
        records,
        fsyncs,
        fsyncs == 0 ? 0.0 : (double) records / fsyncs,
        b.maxRecordsPerFsync(),
        fsyncs == 0 ? 0.0 : (double) (b.bytesSynced() - a.bytesSynced()) / fsyncs,
        String.join(" ", buckets));
  }

  @Override
  public void close() throws IOException {
    wal.close();
  }
}
