package dev.strata.engine.segment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileWriter;

/**
 * Moves one segment's documents out of and into the shared RocksDB as a self-contained SST, for the
 * object-storage tier: {@link #exportSst} writes the segment's key range (keys keep their
 * segment-id prefix, so the file can be ingested unchanged on another node), and a restore
 * stages such a file where {@link SegmentStore#ingest} expects it. Stateless; thread-safe.
 */
final class SegmentTransfer {
  private SegmentTransfer() {}

  /**
   * Writes every row of segment {@code segmentId} into a new SST at {@code target}, in key order,
   * with the options the segment's own SST was written with (bloom filters included). Runs under
   * the RocksDB read lock (a concurrent close waits). The file is fsynced by {@code finish}.
   *
   * @return the rows' content checksum (CRC32C as {@link SegmentFormat#updateChecksum}), or -1 if
   *     the segment has no rows (no file is written then)
   * @throws IOException if the file cannot be written
   */
  static long exportSst(SegmentStore store, SegmentDb db, long segmentId, Path target) throws IOException {
    CRC32C crc = new CRC32C();
    long rows = 0;
    db.lockForRead();
    try (RangeCursor c = store.segmentEntries(segmentId);
        SstFileWriter w = new SstFileWriter(db.envOptions(), db.options())) {
      while (c.next()) {
        if (rows++ == 0) {
          w.open(target.toString());
        }
        byte[] key = c.key();
        byte[] value = c.value();
        SegmentFormat.updateChecksum(crc, key, value);
        w.put(key, value);
      }
      if (rows > 0) {
        w.finish();
      }
    } catch (RocksDBException e) {
      Files.deleteIfExists(target);
      throw new IOException("exporting segment " + SegmentFormat.hex(segmentId) + " to " + target + " failed: " + e.getMessage(), e);
    } finally {
      db.unlockForRead();
    }
    return rows == 0 ? -1 : crc.getValue() & 0xffffffffL;
  }
}
