package dev.strata.manifest;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A manifest or fork-catalog file failed a check of its envelope or content. The message always
 * names the file, so an operator can find it; {@link #kind()} says which check failed.
 *
 * <p>Recovery never skips such a file silently: see {@link CorruptionPolicy}.
 */
public final class ManifestCorruptionException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Which check failed. */
  public enum Kind {
    /** The file is shorter than its header, or the header's length does not match the file size. */
    BAD_LENGTH,
    /** The first four bytes are not the expected magic. */
    BAD_MAGIC,
    /**
     * The format version is not one this build reads (a newer Strata wrote it, or the version
     * field itself is damaged). Never moved aside by {@link CorruptionPolicy#MOVE_ASIDE}: a
     * downgrade must not destroy a newer file.
     */
    UNSUPPORTED_VERSION,
    /** The CRC32C of the payload does not match the header. */
    BAD_CHECKSUM,
    /** The payload passed its checksum but is not a valid protobuf of the expected message. */
    BAD_PAYLOAD,
    /**
     * The content contradicts where it is stored: a seq or version different from the file
     * name, a manifest of another fork, an invalid fork name or id in the catalog.
     */
    INCONSISTENT
  }

  private final transient Path file;
  private final Kind kind;

  /**
   * @param file the file that failed (named in the message); null when decoding bytes that did
   *     not come from a file
   */
  public ManifestCorruptionException(Path file, Kind kind, String detail, Throwable cause) {
    super("corrupt file " + (file == null ? "<in memory>" : file) + ": " + kind + ": " + detail, cause);
    this.file = file;
    this.kind = kind;
  }

  /** Same, without a cause. */
  public ManifestCorruptionException(Path file, Kind kind, String detail) {
    this(file, kind, detail, null);
  }

  /** The file that failed, or null for bytes decoded from memory. */
  public Path file() {
    return file;
  }

  /** Which check failed. */
  public Kind kind() {
    return kind;
  }
}
