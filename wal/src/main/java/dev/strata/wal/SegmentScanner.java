package dev.strata.wal;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Reads the records of one segment file front to back, checks each one's CRC as it goes, and says
 * exactly where and how the first bad one is bad. Shared by recovery ({@link WalRecovery}, which
 * replays while it checks: one pass) and {@link WalReader}, so both judge bytes the same way. Not
 * thread-safe.
 *
 * <p>Cost per record: no system call (the file size is read once when the scanner opens, and the
 * file is read in large slices into a {@link ReadBuffer}), no allocation but the small {@link
 * Step} value, and no copy: a valid record's payload is handed out as a view of the read buffer
 * ({@link #payload()}), valid until the next call.
 */
final class SegmentScanner implements Closeable {

  /** What {@link #next} found. */
  sealed interface Step permits Good, End, Bad {}

  /**
   * A valid record; its payload is {@link #payload()} until the next call.
   *
   * @param offset byte offset of its header
   */
  record Good(long offset) implements Step {}

  /** The file ends exactly at a record boundary, at {@code offset}. */
  record End(long offset) implements Step {}

  /**
   * A bad record starting at {@code offset}.
   *
   * @param torn true if the file ends inside the record (its header or its declared payload): what a
   *     write cut by a crash leaves. False for a checksum mismatch or an impossible length.
   */
  record Bad(long offset, String problem, boolean torn) implements Step {}

  /**
   * The read buffer: one heap array that scanners of consecutive segments share. It starts empty
   * and grows to the size of the files it reads, at most {@code maxReadBytes} (and beyond that only
   * for a record larger than it), so a whole recovery allocates it a few times at most and a small
   * log gets a small buffer.
   */
  static final class ReadBuffer {
    /** Default read size: large reads amortise the system calls; 4 MiB is a few page-cache copies. */
    static final int DEFAULT_BYTES = 4 << 20;

    private final int maxReadBytes;
    private byte[] bytes = new byte[0];
    private ByteBuffer view = ByteBuffer.wrap(bytes);

    ReadBuffer(int maxReadBytes) {
      this.maxReadBytes = maxReadBytes;
    }

    private void grow(int atLeast, int keepFrom, int keepTo) {
      byte[] bigger = new byte[Math.max(atLeast, Math.min(maxReadBytes, 2 * bytes.length))];
      System.arraycopy(bytes, keepFrom, bigger, 0, keepTo - keepFrom);
      bytes = bigger;
      view = ByteBuffer.wrap(bigger);
    }
  }

  private final Path path;
  private final SeekableByteChannel channel;
  private final ReadBuffer rb;
  private final boolean fileMayGrow;
  private final CRC32C crc = new CRC32C();
  /** Index in {@code rb.bytes} of the next unread byte. */
  private int pos;
  /** Index in {@code rb.bytes} after the last byte read from the file. */
  private int lim;
  /** File offset of {@code rb.bytes[pos]}. */
  private long position;
  /** The file size, read once at open; refreshed only when {@code fileMayGrow}. */
  private long fileSize;
  private boolean eof;

  /**
   * @param buffer shared with the scanners of the other segments of one recovery or reader
   * @param fileMayGrow true when a writer may append while this scans ({@link WalReader}): a record
   *     that looks torn is checked again against a fresh size before it is called torn
   */
  SegmentScanner(Path path, SeekableByteChannel channel, ReadBuffer buffer, boolean fileMayGrow)
      throws IOException {
    this.path = path;
    this.channel = channel;
    this.rb = buffer;
    this.fileMayGrow = fileMayGrow;
    this.fileSize = channel.size();
  }

  Path path() {
    return path;
  }

  /** File offset of the next unread byte. */
  long position() {
    return position;
  }

  /**
   * The payload of the record the last {@link Good} step returned: a view of the read buffer (heap,
   * with an accessible array), from its position to its limit. Valid until the next call on this
   * scanner (or on any scanner sharing the buffer); copy what must outlive it, and do not write
   * into it.
   */
  ByteBuffer payload() {
    return rb.view;
  }

  /**
   * Reads the next record and checks its CRC. After a {@link Bad} step the scanner is positioned
   * after the bytes it consumed (see {@link #restIsZero()}); calling {@code next} again is not
   * meaningful.
   */
  Step next() throws IOException {
    long start = position;
    if (!ensure(RecordFormat.HEADER_BYTES)) {
      int got = lim - pos;
      if (got == 0) {
        return new End(start);
      }
      consume(got);
      return new Bad(
          start,
          "torn record header: the file ends " + got + " bytes into an 8-byte header",
          true);
    }
    byte[] b = rb.bytes;
    int length = getInt(b, pos);
    int stored = getInt(b, pos + 4);
    if (length < 0 || length > RecordFormat.MAX_PAYLOAD_BYTES) {
      consume(RecordFormat.HEADER_BYTES);
      return new Bad(
          start,
          "impossible record length " + Integer.toUnsignedLong(length) + " bytes",
          false);
    }
    long available = fileSize - start - RecordFormat.HEADER_BYTES;
    if (length > available && fileMayGrow) {
      fileSize = channel.size();
      eof = false; // the writer may have appended since the last read
      available = fileSize - start - RecordFormat.HEADER_BYTES;
    }
    if (length > available) {
      // Decided before reading, so a corrupt length cannot make us allocate more than the file holds.
      return new Bad(
          start,
          "torn record: header declares "
              + length
              + " payload bytes but the file ends after "
              + Math.max(0, available),
          true);
    }
    if (!ensure(RecordFormat.HEADER_BYTES + length)) {
      return new Bad(start, "torn record: the file ends inside the payload", true);
    }
    b = rb.bytes; // ensure may have grown it
    crc.reset();
    crc.update(b, pos, 4);
    crc.update(b, pos + RecordFormat.HEADER_BYTES, length);
    int actual = (int) crc.getValue();
    int payloadStart = pos + RecordFormat.HEADER_BYTES;
    consume(RecordFormat.HEADER_BYTES + length);
    if (actual != stored) {
      return new Bad(
          start,
          String.format(
              "checksum mismatch in a record of %d payload bytes (stored crc32c %08x, computed %08x)",
              length, stored, actual),
          false);
    }
    rb.view.clear();
    rb.view.limit(payloadStart + length).position(payloadStart);
    return new Good(start);
  }

  /**
   * True if every byte from the current position to the end of the file is zero (or there is none).
   * Consumes them.
   */
  boolean restIsZero() throws IOException {
    while (true) {
      byte[] b = rb.bytes;
      for (; pos < lim; pos++, position++) {
        if (b[pos] != 0) {
          return false;
        }
      }
      if (!ensure(1)) {
        return true;
      }
    }
  }

  private void consume(int n) {
    pos += n;
    position += n;
  }

  /**
   * Makes at least {@code n} unread bytes available from {@code pos}: compacts the buffer or grows
   * it (only for a record larger than it) and reads as much of the file as fits.
   *
   * @return false if the file ends first (then whatever it held is buffered)
   */
  private boolean ensure(int n) throws IOException {
    if (lim - pos >= n) {
      return true;
    }
    int want = Math.max(n, (int) Math.min(rb.maxReadBytes, fileSize));
    if (want > rb.bytes.length) {
      rb.grow(want, pos, lim);
      lim -= pos;
      pos = 0;
    } else if (rb.bytes.length - pos < n) {
      System.arraycopy(rb.bytes, pos, rb.bytes, 0, lim - pos);
      lim -= pos;
      pos = 0;
    }
    while (lim - pos < n && !eof) {
      ByteBuffer dst = ByteBuffer.wrap(rb.bytes, lim, rb.bytes.length - lim);
      int r = channel.read(dst);
      if (r < 0) {
        eof = true;
      } else {
        lim += r;
      }
    }
    return lim - pos >= n;
  }

  private static int getInt(byte[] b, int off) {
    return ((b[off] & 0xFF) << 24)
        | ((b[off + 1] & 0xFF) << 16)
        | ((b[off + 2] & 0xFF) << 8)
        | (b[off + 3] & 0xFF);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
