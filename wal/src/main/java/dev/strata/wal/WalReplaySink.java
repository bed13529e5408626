package dev.strata.wal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Receives a WAL's records while {@link WalWriter#open(dev.strata.vfs.Vfs, java.nio.file.Path,
 * WalOptions, long, WalReplaySink)} recovers it: replay and checksum verification are one pass over
 * the files (as RocksDB's {@code DBImpl::RecoverLogFiles} replays while its log reader checks each
 * record).
 *
 * <p>Each record is handed over only after its CRC matched, in LSN order, on the thread that opens
 * the WAL. If recovery then finds damage its mode does not repair, {@code open} throws after some
 * records were delivered: the caller discards what it built from them. Records recovery keeps are
 * exactly the records delivered (no record after a bad one is ever delivered).
 */
@FunctionalInterface
public interface WalReplaySink {
  /**
   * Takes one record.
   *
   * @param lsn the record's LSN
   * @param payload its bytes from position to limit: a heap buffer with an accessible array that
   *     is reused for the next record. Valid only during this call; copy what must outlive it, and
   *     do not write into it.
   * @throws IOException to abort the open (it is rethrown; nothing on disk was changed by the
   *     record)
   */
  void accept(long lsn, ByteBuffer payload) throws IOException;
}
