package dev.strata.wal;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Reads the records of one segment file front to back and says exactly where and how the first bad
 * one is bad. Shared by recovery ({@link WalRecovery}) and {@link WalReader}, so both judge bytes the
 * same way. Not thread-safe.
 */
final class SegmentScanner implements Closeable {

  private static final int BUFFER_BYTES = 64 << 10;

  /** What {@link #next} found. */
  sealed interface Step permits Good, End, Bad {}

  /**
   * A valid record.
   *
   * @param offset byte offset of its header
   * @param payload its payload, or null when the caller asked to skip it
   */
  record Good(long offset, byte[] payload) implements Step {}

  /** The file ends exactly at a record boundary, at {@code offset}. */
  record End(long offset) implements Step {}

  /**
   * A bad record starting at {@code offset}.
   *
   * @param torn true if the file ends inside the record (its header or its declared payload): what a
   *     write cut by a crash leaves. False for a checksum mismatch or an impossible length.
   */
  record Bad(long offset, String problem, boolean torn) implements Step {}

  private final Path path;
  private final SeekableByteChannel channel;
  private final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).flip();
  private final byte[] header = new byte[RecordFormat.HEADER_BYTES];
  private final CRC32C crc = new CRC32C();
  /** File offset of the next byte {@link #read} returns. */
  private long position;

  SegmentScanner(Path path, SeekableByteChannel channel) {
    this.path = path;
    this.channel = channel;
  }

  Path path() {
    return path;
  }

  /** File offset of the next unread byte. */
  long position() {
    return position;
  }

  /**
   * Reads the next record. After a {@link Bad} step the scanner is positioned after the bytes it
   * consumed (see {@link #restIsZero()}); calling {@code next} again is not meaningful.
   *
   * @param wantPayload false to verify the record without materialising its payload
   */
  Step next(boolean wantPayload) throws IOException {
    long start = position;
    int got = read(header, 0, header.length);
    if (got == 0) {
      return new End(start);
    }
    if (got < header.length) {
      return new Bad(
          start,
          "torn record header: the file ends " + got + " bytes into an 8-byte header",
          true);
    }
    int length = ByteBuffer.wrap(header).getInt(0);
    int stored = ByteBuffer.wrap(header).getInt(4);
    if (length < 0 || length > RecordFormat.MAX_PAYLOAD_BYTES) {
      return new Bad(
          start,
          "impossible record length " + Integer.toUnsignedLong(length) + " bytes",
          false);
    }
    long available = channel.size() - position;
    if (length > available) {
      // Decided before reading, so a corrupt length cannot make us allocate more than the file holds.
      return new Bad(
          start,
          "torn record: header declares "
              + length
              + " payload bytes but the file ends after "
              + available,
          true);
    }
    crc.reset();
    crc.update(header, 0, 4);
    byte[] payload = null;
    if (wantPayload) {
      payload = new byte[length];
      int n = read(payload, 0, length);
      if (n < length) {
        return new Bad(start, "torn record: the file ends inside the payload", true);
      }
      crc.update(payload, 0, length);
    } else {
      long left = length;
      while (left > 0) {
        if (!buf.hasRemaining() && !fill()) {
          return new Bad(start, "torn record: the file ends inside the payload", true);
        }
        int n = (int) Math.min(left, buf.remaining());
        ByteBuffer slice = buf.slice(buf.position(), n);
        crc.update(slice);
        buf.position(buf.position() + n);
        position += n;
        left -= n;
      }
    }
    int actual = (int) crc.getValue();
    if (actual != stored) {
      return new Bad(
          start,
          String.format(
              "checksum mismatch in a record of %d payload bytes (stored crc32c %08x, computed %08x)",
              length, stored, actual),
          false);
    }
    return new Good(start, payload);
  }

  /**
   * True if every byte from the current position to the end of the file is zero (or there is none).
   * Consumes them.
   */
  boolean restIsZero() throws IOException {
    while (true) {
      while (buf.hasRemaining()) {
        if (buf.get() != 0) {
          return false;
        }
        position++;
      }
      if (!fill()) {
        return true;
      }
    }
  }

  /** Reads up to {@code len} bytes; fewer only at the end of the file. */
  private int read(byte[] dst, int off, int len) throws IOException {
    int done = 0;
    while (done < len) {
      if (!buf.hasRemaining()) {
        if (len - done >= BUFFER_BYTES) {
          // A large payload goes straight from the channel into its array: one copy, not two.
          int n = channel.read(ByteBuffer.wrap(dst, off + done, len - done));
          if (n < 0) {
            break;
          }
          done += n;
          position += n;
          continue;
        }
        if (!fill()) {
          break;
        }
      }
      int n = Math.min(len - done, buf.remaining());
      buf.get(dst, off + done, n);
      done += n;
      position += n;
    }
    return done;
  }

  /** Refills the empty buffer; false at the end of the file. */
  private boolean fill() throws IOException {
    buf.clear();
    int n;
    do {
      n = channel.read(buf);
    } while (n == 0);
    buf.flip();
    return n > 0;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
