package dev.strata.wal;

import java.io.IOException;

/** A call on a {@link WalWriter} after {@link WalWriter#close()} started. */
public final class WalClosedException extends IOException {
  private static final long serialVersionUID = 1L;

  /** With a message that names the WAL directory. */
  public WalClosedException(String message) {
    super(message);
  }
}
