package dev.strata.manifest;

import java.io.IOException;

/**
 * A {@link ManifestStore} or {@link ForkCatalog} refuses every call that needs its state because it
 * was closed, or because an earlier I/O error left the durable state unknown (a failed rename or
 * directory fsync during publish). In the second case the first error is the cause, and every later
 * call gets it (sticky, like LevelDB's {@code bg_error_}); opening the directory again re-reads
 * what is on disk and is the way back.
 */
public final class StoreClosedException extends IOException {
  private static final long serialVersionUID = 1L;

  public StoreClosedException(String message, Throwable cause) {
    super(message, cause);
  }
}
