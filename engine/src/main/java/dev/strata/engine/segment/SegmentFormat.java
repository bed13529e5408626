package dev.strata.engine.segment;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentCodec;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The byte format of segment keys and values in the shared RocksDB instance. Stateless and
 * thread-safe. The format is documented once, here:
 *
 * <pre>
 * key   = segmentId (8 bytes, big-endian) | collection (UTF-8) | 0x00 | id (UTF-8)
 * value = kind (1 byte) | lsn (8 bytes, big-endian) | document
 * kind  = 3: put, document = DocumentBody protobuf (format 2, {@link EncodedDocument#body()})
 *       | 2: tombstone, no document
 *       | 1: put, document = StoredDocument protobuf (format 1: read, no longer written)
 * </pre>
 *
 * <p>A put's value is written byte for byte as the L0 arena holds it ({@code L0Arena}): the body a
 * Write encoded once, behind the same 9-byte header. Readers hand the body out as a view of the
 * value ({@link #decodeValue}), not a copy; a format-1 value is converted when it is read.
 *
 * <p>Collection names never contain NUL ({@link dev.strata.engine.model.Names}) and neither do ids
 * ({@link Document#validateId}), so the 0x00 separator is unambiguous and RocksDB's bytewise order
 * sorts a segment's keys by collection, then by id in unsigned UTF-8 byte order (which differs from
 * {@link String#compareTo} for characters above U+FFFF versus U+E000..U+FFFF). Segment ids are
 * non-negative, so the big-endian prefix sorts segments by id and the range of segment {@code s} is
 * {@code [be(s), be(s + 1))} in unsigned byte order, even for {@code Long.MAX_VALUE} (whose
 * successor {@code 0x80...0} is still larger unsigned).
 *
 * <p>The <b>content checksum</b> of a segment is CRC32C over, for every key in key order: the key
 * length (4 bytes, big-endian), the key, the value length (4 bytes, big-endian), the value. It is a
 * logical checksum: recomputable from RocksDB whatever the SST layout.
 */
final class SegmentFormat {
  /** Value kind byte of a put in format 1 (read, no longer written). */
  static final byte KIND_PUT_FORMAT1 = 1;

  /** Value kind byte of a tombstone. */
  static final byte KIND_TOMBSTONE = 2;

  /** Value kind byte of a put: the document body (format 2). */
  static final byte KIND_PUT = 3;

  /** Length of the segment id prefix of every key. */
  static final int PREFIX_BYTES = 8;

  /** Length of the value header: kind + LSN. */
  static final int VALUE_HEADER_BYTES = 9;

  private static final HexFormat HEX = HexFormat.of();

  private SegmentFormat() {}

  /** Segment id as 16 lowercase hex digits, as it appears in paths and manifests. */
  static String hex(long segmentId) {
    return HEX.toHexDigits(segmentId);
  }

  /**
   * Parses {@link #hex} output.
   *
   * @return the id, or -1 if {@code name} is not exactly 16 lowercase hex digits of a non-negative
   *     id
   */
  static long parseHex(String name) {
    if (name.length() != 16) {
      return -1;
    }
    for (int i = 0; i < 16; i++) {
      char c = name.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return -1;
      }
    }
    long id = HexFormat.fromHexDigitsToLong(name);
    return id < 0 ? -1 : id;
  }

  /**
   * @throws IllegalArgumentException if {@code segmentId} is negative
   */
  static long requireValidSegmentId(long segmentId) {
    if (segmentId < 0) {
      throw new IllegalArgumentException("segment id must be >= 0, got " + segmentId);
    }
    return segmentId;
  }

  /** The 8-byte prefix of every key of a segment; also the inclusive start of its range. */
  static byte[] segmentPrefix(long segmentId) {
    byte[] b = new byte[PREFIX_BYTES];
    putLong(b, 0, segmentId);
    return b;
  }

  /** The exclusive end of a segment's key range (the prefix of {@code segmentId + 1}). */
  static byte[] segmentRangeEnd(long segmentId) {
    return segmentPrefix(segmentId + 1);
  }

  /** The segment id of a key (its first 8 bytes, big-endian). */
  static long segmentIdOf(byte[] key) {
    return getLong(key, 0);
  }

  /** The Lucene {@code _key} term and key suffix: collection UTF-8 | 0x00 | id UTF-8. */
  static byte[] keySuffix(String collection, String id) {
    byte[] c = collection.getBytes(StandardCharsets.UTF_8);
    byte[] i = id.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[c.length + 1 + i.length];
    System.arraycopy(c, 0, out, 0, c.length);
    System.arraycopy(i, 0, out, c.length + 1, i.length);
    return out;
  }

  /** The full key of {@code id} in {@code collection} of segment {@code segmentId}. */
  static byte[] key(long segmentId, String collection, String id) {
    byte[] c = collection.getBytes(StandardCharsets.UTF_8);
    byte[] i = id.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[PREFIX_BYTES + c.length + 1 + i.length];
    putLong(out, 0, segmentId);
    System.arraycopy(c, 0, out, PREFIX_BYTES, c.length);
    System.arraycopy(i, 0, out, PREFIX_BYTES + c.length + 1, i.length);
    return out;
  }

  /** Inclusive lower bound of a collection's keys in a segment: prefix | collection | 0x00. */
  static byte[] collectionStart(long segmentId, String collection) {
    byte[] c = collection.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[PREFIX_BYTES + c.length + 1];
    putLong(out, 0, segmentId);
    System.arraycopy(c, 0, out, PREFIX_BYTES, c.length);
    return out;
  }

  /** Exclusive upper bound of a collection's keys in a segment: prefix | collection | 0x01. */
  static byte[] collectionEnd(long segmentId, String collection) {
    byte[] out = collectionStart(segmentId, collection);
    out[out.length - 1] = 1;
    return out;
  }

  /** Index of the 0x00 separator in a full key, or -1 if there is none (a corrupt key). */
  static int separatorIndex(byte[] key) {
    for (int i = PREFIX_BYTES; i < key.length; i++) {
      if (key[i] == 0) {
        return i;
      }
    }
    return -1;
  }

  /**
   * The value of a version: a tombstone if {@code body} is null, else a put of the body.
   */
  static byte[] value(long lsn, ByteString body) {
    int n = body == null ? 0 : body.size();
    byte[] out = new byte[VALUE_HEADER_BYTES + n];
    out[0] = body == null ? KIND_TOMBSTONE : KIND_PUT;
    putLong(out, 1, lsn);
    if (body != null) {
      body.copyTo(out, VALUE_HEADER_BYTES);
    }
    return out;
  }

  /**
   * Decodes a value. A put's document body is a view of {@code value}, not a copy (format 1 is
   * converted).
   *
   * @throws SegmentCorruptionException if the bytes are not a valid value
   */
  static DocumentVersion decodeValue(long segmentId, String id, byte[] value)
      throws SegmentCorruptionException {
    if (value.length < VALUE_HEADER_BYTES) {
      throw new SegmentCorruptionException(
          segmentId, "value of '" + id + "' is " + value.length + " bytes, shorter than a header");
    }
    long lsn = getLong(value, 1);
    int n = value.length - VALUE_HEADER_BYTES;
    switch (value[0]) {
      case KIND_TOMBSTONE -> {
        if (n != 0) {
          throw new SegmentCorruptionException(
              segmentId, "tombstone of '" + id + "' carries " + value.length + " bytes");
        }
        return new DocumentVersion(lsn, null);
      }
      case KIND_PUT -> {
        return new DocumentVersion(
            lsn, EncodedDocument.wrap(id, UnsafeByteOperations.unsafeWrap(value, VALUE_HEADER_BYTES, n)));
      }
      case KIND_PUT_FORMAT1 -> {
        try {
          return new DocumentVersion(
              lsn, DocumentCodec.fromFormat1(id, ByteBuffer.wrap(value, VALUE_HEADER_BYTES, n)));
        } catch (IllegalArgumentException e) {
          throw new SegmentCorruptionException(
              segmentId, "document '" + id + "' does not decode: " + e.getMessage(), e);
        }
      }
      default ->
          throw new SegmentCorruptionException(
              segmentId, "value of '" + id + "' has unknown kind " + value[0]);
    }
  }

  /** Adds one key/value pair to a content checksum (see the class comment for the framing). */
  static void updateChecksum(CRC32C crc, byte[] key, byte[] value) {
    byte[] len = new byte[4];
    putInt(len, key.length);
    crc.update(len, 0, 4);
    crc.update(key, 0, key.length);
    putInt(len, value.length);
    crc.update(len, 0, 4);
    crc.update(value, 0, value.length);
  }

  /** Unsigned lexicographic comparison, RocksDB's default bytewise comparator. */
  static int compareKeys(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(a, b);
  }

  static void putLong(byte[] b, int off, long v) {
    for (int i = 7; i >= 0; i--) {
      b[off + i] = (byte) v;
      v >>>= 8;
    }
  }

  static long getLong(byte[] b, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[off + i] & 0xFF);
    }
    return v;
  }

  private static void putInt(byte[] b, int v) {
    b[0] = (byte) (v >>> 24);
    b[1] = (byte) (v >>> 16);
    b[2] = (byte) (v >>> 8);
    b[3] = (byte) v;
  }
}
