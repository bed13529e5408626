package dev.strata.engine.l0;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The byte half of an L0 buffer's memory: keys and versions, as the records below, in chunks of
 * 16 KiB growing to 4 MiB ({@link ChunkedArena}). Integers are big-endian.
 *
 * <pre>
 * entry   := key version                  (one allocation when a key is new)
 * key     := keyLength:u16 collection:UTF-8 0x00 id:UTF-8
 * version := valueLength:u32 value[valueLength]
 * value   := kind:u8 lsn:u64 body        (byte for byte a segment's SST value: kind 3 = put,
 *                                         body = DocumentBody; kind 2 = tombstone, no body)
 * </pre>
 *
 * A later version of a key is a new {@code version} record; the old one stays (counted) until the
 * buffer is dropped. Thread-safety as {@link ChunkedArena}.
 */
final class ByteArena extends ChunkedArena<byte[]> {
  static final int FIRST_CHUNK_BYTES = 16 << 10;
  static final int MAX_CHUNK_BYTES = 4 << 20;
  /** Bytes before a key's UTF-8. */
  static final int KEY_HEADER_BYTES = 2;
  /** Bytes before a version's value. */
  static final int VERSION_HEADER_BYTES = 4;
  /** kind + lsn: the header of a value, as in a segment. */
  static final int VALUE_HEADER_BYTES = 9;
  /** Value kind of a put (the segment format's). */
  static final byte KIND_PUT = 3;
  /** Value kind of a tombstone (the segment format's). */
  static final byte KIND_TOMBSTONE = 2;

  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle INT =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  ByteArena() {
    super(FIRST_CHUNK_BYTES, MAX_CHUNK_BYTES, new byte[0]);
  }

  @Override
  byte[] newChunk(int units) {
    return new byte[units];
  }

  @Override
  int lengthOf(byte[] chunk) {
    return chunk.length;
  }

  static void putShort(byte[] b, int off, int v) {
    SHORT.set(b, off, (short) v);
  }

  static int getUnsignedShort(byte[] b, int off) {
    return Short.toUnsignedInt((short) SHORT.get(b, off));
  }

  static void putInt(byte[] b, int off, int v) {
    INT.set(b, off, v);
  }

  static int getInt(byte[] b, int off) {
    return (int) INT.get(b, off);
  }

  static void putLong(byte[] b, int off, long v) {
    LONG.set(b, off, v);
  }

  static long getLong(byte[] b, int off) {
    return (long) LONG.get(b, off);
  }
}
