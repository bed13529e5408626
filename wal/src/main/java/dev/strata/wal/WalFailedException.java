package dev.strata.wal;

import java.io.IOException;

/**
 * The WAL hit a write or fsync error and accepts nothing more, for good (the fsyncgate rule: after a
 * failed fsync the kernel may have dropped the dirty pages, so no later fsync on that file proves
 * anything). The cause is the first error. Reopening the directory with {@link WalWriter#open} (in
 * a new process, or after the storage problem is fixed) recovers every record that was durable.
 */
public final class WalFailedException extends IOException {
  private static final long serialVersionUID = 1L;

  /** With a message naming the WAL directory and the first error as cause. */
  public WalFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
