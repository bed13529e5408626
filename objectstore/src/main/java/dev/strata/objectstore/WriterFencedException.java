package dev.strata.objectstore;

import java.io.IOException;

/**
 * This server may not write to the tier's prefix: another writer holds it (at start), or a writer
 * with a higher generation took it over since (later). Nothing was written after the check that
 * raised it. The message says who holds the prefix and what to do.
 */
public final class WriterFencedException extends IOException {
  private static final long serialVersionUID = 1L;

  /** @param message who holds the prefix and what the operator can do */
  public WriterFencedException(String message) {
    super(message);
  }
}
