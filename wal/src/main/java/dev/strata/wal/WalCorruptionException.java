package dev.strata.wal;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A segment file holds bytes that are not a valid record where one is expected, or the segments do
 * not form a gap-free LSN sequence. Thrown by {@link WalWriter#open} (per its {@link
 * WalRecoveryMode}) and by {@link WalReader}.
 */
public final class WalCorruptionException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final long offset;

  /**
   * @param file the segment file
   * @param offset byte offset in {@code file} of the first byte of the bad record (0 for a segment
   *     that is missing or out of sequence)
   * @param problem what is wrong, for the message
   */
  public WalCorruptionException(Path file, long offset, String problem) {
    super("WAL corruption in " + file + " at byte offset " + offset + ": " + problem);
    this.file = file;
    this.offset = offset;
  }

  /** The segment file. */
  public Path file() {
    return file;
  }

  /** Byte offset in {@link #file()} of the first byte of the bad record. */
  public long offset() {
    return offset;
  }
}
