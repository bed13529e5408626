package dev.strata.engine.segment;

import java.util.Iterator;

/**
 * An iterator over resources that must be released: call {@link #close()} when done (use
 * try-with-resources). Not thread-safe: one thread at a time.
 *
 * <p>{@link #hasNext()} and {@link #next()} report I/O failures as {@link
 * java.io.UncheckedIOException}.
 */
public interface CloseableIterator<T> extends Iterator<T>, AutoCloseable {

  /** Releases the iterator's resources; idempotent. Never throws a checked exception. */
  @Override
  void close();
}
