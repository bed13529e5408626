package dev.strata.wal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The record format, written down once (see {@code docs/architecture.md}, "WAL format"). It follows
 * LevelDB's {@code doc/log_format.md} without its 32 KiB blocks and fragments: a record is never
 * split, so a reader needs no reassembly and a record's bytes are contiguous in one segment.
 *
 * <pre>
 * record  := length:uint32be  crc:uint32be  payload:byte[length]
 * crc     := CRC32C(length bytes ++ payload)     (java.util.zip.CRC32C, not masked)
 * </pre>
 *
 * <p>The CRC covers the length field too. That matters for zero-filled tails: an all-zero header
 * would otherwise be a valid empty record (CRC32C of nothing is 0), and a bit flip in a length would
 * only be caught by the luck of the payload CRC. CRC32C of the four length bytes {@code 00 00 00 00}
 * is not 0, so zeros never decode as a record.
 */
final class RecordFormat {

  /** Bytes before the payload: length (4) + crc (4). */
  static final int HEADER_BYTES = 8;

  /**
   * The largest length a reader accepts as plausible (1 GiB); the writer's own limit is {@link
   * WalOptions#maxRecordBytes()}, at most this.
   */
  static final int MAX_PAYLOAD_BYTES = 1 << 30;

  private RecordFormat() {}

  /**
   * The 8-byte header of a record: its length and the CRC32C of the length bytes and {@code
   * payload}. The payload itself is not copied: the writer gathers header and payload into its
   * output buffer.
   */
  static byte[] header(byte[] payload) {
    byte[] out = new byte[HEADER_BYTES];
    ByteBuffer b = ByteBuffer.wrap(out);
    b.putInt(0, payload.length);
    CRC32C crc = new CRC32C();
    crc.update(out, 0, 4);
    crc.update(payload, 0, payload.length);
    b.putInt(4, (int) crc.getValue());
    return out;
  }
}
