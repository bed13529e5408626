package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle state of one fork, and the one place that says whether it takes writes.
 *
 * <h2>States and transitions</h2>
 *
 * <pre>
 * ACTIVE    → DROPPING   {@link #beginDrop}: writes refused while in-flight flushes drain
 * DROPPING  → ACTIVE     {@link #abortDrop}: the drain timed out; the fork stays whole
 * ACTIVE    → READ_ONLY  {@link #turnReadOnly}: a flush failed for good, or the WAL failed
 *                        (sticky: only a restart, which recovers the data from the WAL, leaves it)
 * any       → CLOSED     {@link #markClosed}
 * </pre>
 *
 * DROPPING and READ_ONLY are independent flags (a fork being dropped can fail a flush); CLOSED is
 * final. The first read-only reason is kept, as LevelDB keeps its first background error ({@code
 * bg_error_}), and is returned to every later writer.
 *
 * <p>Thread-safe and lock-free: atomics only. Listeners run on the thread that turned the fork
 * read-only, outside any lock.
 */
final class ForkLifecycle {
  private static final Logger log = LoggerFactory.getLogger(ForkLifecycle.class);

  private final String forkName;
  private final AtomicBoolean dropping = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicReference<String> readOnlyReason = new AtomicReference<>();
  private final List<Consumer<String>> readOnlyListeners = new CopyOnWriteArrayList<>();

  ForkLifecycle(String forkName) {
    this.forkName = forkName;
  }

  /** Calls {@code listener} once with the reason when the fork turns read-only. */
  void onReadOnly(Consumer<String> listener) {
    readOnlyListeners.add(listener);
  }

  /**
   * Turns the fork read-only (sticky); later calls keep the first reason and do nothing.
   *
   * @return true if this call made the transition
   */
  boolean turnReadOnly(String reason) {
    if (!readOnlyReason.compareAndSet(null, reason)) {
      return false;
    }
    log.error("fork={} is now read-only: {}", forkName, reason);
    for (Consumer<String> l : readOnlyListeners) {
      try {
        l.accept(reason);
      } catch (RuntimeException e) {
        log.warn("fork={} read-only listener failed: {}", forkName, e.toString());
      }
    }
    return true;
  }

  /**
   * Turns the fork read-only after a WAL failure (fsyncgate: the WAL is never written again by
   * this process) and returns the error to give the writer.
   */
  StrataException walFailed(IOException e) {
    turnReadOnly("WAL failed: " + e.getMessage());
    return StrataException.of(
        StrataException.Kind.IO_ERROR, "fork '" + forkName + "': WAL write failed: " + e.getMessage(), e);
  }

  /**
   * Throws unless the fork takes writes.
   *
   * @throws StrataException UNAVAILABLE if closed; FAILED_PRECONDITION if dropping or read-only
   */
  void checkWritable() {
    if (closed.get()) {
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + forkName + "' is closed");
    }
    if (dropping.get()) {
      throw StrataException.failedPrecondition("fork '" + forkName + "' is being dropped");
    }
    String r = readOnlyReason.get();
    if (r != null) {
      throw StrataException.failedPrecondition(
          "fork '" + forkName + "' is read-only: " + r + " (restart recovers its data from the WAL)");
    }
  }

  /** True unless closed, dropping or read-only. */
  boolean isWritable() {
    return !closed.get() && !dropping.get() && readOnlyReason.get() == null;
  }

  /** Why the fork is read-only, or null. */
  String readOnlyReason() {
    return readOnlyReason.get();
  }

  boolean isDropping() {
    return dropping.get();
  }

  boolean isClosed() {
    return closed.get();
  }

  /**
   * ACTIVE → DROPPING.
   *
   * @throws StrataException FAILED_PRECONDITION if a drop is already in progress
   */
  void beginDrop() {
    if (!dropping.compareAndSet(false, true)) {
      throw StrataException.failedPrecondition("fork '" + forkName + "' is already being dropped");
    }
  }

  /** DROPPING → ACTIVE. */
  void abortDrop() {
    dropping.set(false);
  }

  /**
   * Any → CLOSED.
   *
   * @return true for the call that closed it (the one that must release resources)
   */
  boolean markClosed() {
    return closed.compareAndSet(false, true);
  }
}
