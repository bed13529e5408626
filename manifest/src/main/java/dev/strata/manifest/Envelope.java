package dev.strata.manifest;

import dev.strata.manifest.ManifestCorruptionException.Kind;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The envelope shared by manifest and catalog files. Grammar (all integers big-endian):
 *
 * <pre>
 * file    := magic version length crc payload
 * magic   := 4 bytes, "STMF" (manifest) or "STFC" (fork catalog)
 * version := u32, {@link #FORMAT_VERSION}
 * length  := u32, number of payload bytes; header + length == file size exactly
 * crc     := u32, CRC32C (Castagnoli) of the payload bytes
 * payload := the encoded protobuf message
 * </pre>
 *
 * <p>Decoding checks, in this order: size &gt;= header, magic, version (before anything else that
 * a newer format might lay out differently), length, CRC, then the caller parses the payload. Every
 * single-byte change and every truncation or extension is caught by one of them: CRC32C detects
 * every error burst up to 32 bits. Stateless and thread-safe.
 */
final class Envelope {
  /** Bytes before the payload. */
  static final int HEADER_BYTES = 16;

  /** The only envelope version this build writes and reads. */
  static final int FORMAT_VERSION = 1;

  private Envelope() {}

  /** The magic as an int for ASCII {@code text} (4 characters). */
  static int magic(String text) {
    byte[] b = text.getBytes(StandardCharsets.US_ASCII);
    if (b.length != 4) {
      throw new IllegalArgumentException("magic must be 4 ASCII bytes: " + text);
    }
    return ByteBuffer.wrap(b).getInt();
  }

  /** Wraps {@code payload} in a header with {@code magic}. */
  static byte[] wrap(int magic, byte[] payload) {
    if (payload.length > Integer.MAX_VALUE - HEADER_BYTES) {
      throw new IllegalArgumentException("payload too large: " + payload.length + " bytes");
    }
    ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + payload.length).order(ByteOrder.BIG_ENDIAN);
    out.putInt(magic).putInt(FORMAT_VERSION).putInt(payload.length).putInt(crc32c(payload));
    out.put(payload);
    return out.array();
  }

  /**
   * Checks the envelope of {@code file} and returns its payload.
   *
   * @param source named in the exception; may be null for bytes from memory
   * @throws ManifestCorruptionException on any failed check
   */
  static byte[] unwrap(int expectedMagic, byte[] file, Path source) throws ManifestCorruptionException {
    if (file.length < HEADER_BYTES) {
      throw new ManifestCorruptionException(
          source,
          Kind.BAD_LENGTH,
          "file has " + file.length + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
    }
    ByteBuffer in = ByteBuffer.wrap(file).order(ByteOrder.BIG_ENDIAN);
    int magic = in.getInt();
    if (magic != expectedMagic) {
      throw new ManifestCorruptionException(
          source, Kind.BAD_MAGIC, "magic is " + describeMagic(magic) + ", expected " + describeMagic(expectedMagic));
    }
    int version = in.getInt();
    if (version != FORMAT_VERSION) {
      throw new ManifestCorruptionException(
          source,
          Kind.UNSUPPORTED_VERSION,
          "format version " + Integer.toUnsignedString(version) + ", this build reads only version " + FORMAT_VERSION);
    }
    long length = Integer.toUnsignedLong(in.getInt());
    long actual = file.length - HEADER_BYTES;
    if (length != actual) {
      throw new ManifestCorruptionException(
          source,
          Kind.BAD_LENGTH,
          "header says " + length + " payload bytes, file has " + actual + " (torn or extended)");
    }
    int storedCrc = in.getInt();
    byte[] payload = new byte[(int) actual];
    in.get(payload);
    int computed = crc32c(payload);
    if (computed != storedCrc) {
      throw new ManifestCorruptionException(
          source,
          Kind.BAD_CHECKSUM,
          String.format("CRC32C of the payload is 0x%08x, header says 0x%08x", computed, storedCrc));
    }
    return payload;
  }

  static int crc32c(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length);
    return (int) crc.getValue();
  }

  private static String describeMagic(int magic) {
    StringBuilder sb = new StringBuilder("\"");
    for (int shift = 24; shift >= 0; shift -= 8) {
      int c = (magic >>> shift) & 0xff;
      if (c >= 0x20 && c < 0x7f) {
        sb.append((char) c);
      } else {
        sb.append(String.format("\\x%02x", c));
      }
    }
    return sb.append('"').toString();
  }
}
