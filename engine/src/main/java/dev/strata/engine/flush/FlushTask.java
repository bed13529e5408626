package dev.strata.engine.flush;

import com.google.errorprone.annotations.concurrent.GuardedBy;

/**
 * One rotated flush: its seq (rotate order), the WAL LSN it covers, and what the rotate froze.
 * Immutable but for whether an attempt of it is streaming and the retry waiting for that attempt
 * to end, which only {@link StreamAttempt} touches (under this object's monitor).
 *
 * @param <T> the payload type (e.g. the frozen L0 buffer)
 */
public final class FlushTask<T> {
  private final long seq;
  private final long coveredLsn;
  private final T payload;
  /** An attempt's stream phase is running (possibly one that timed out and was abandoned). */
  @GuardedBy("this")
  private boolean streaming;

  /** The start of the next attempt, held back until the streaming one ends. */
  @GuardedBy("this")
  private Runnable startWhenIdle;
  private final long rotateNanos = System.nanoTime();

  FlushTask(long seq, long coveredLsn, T payload) {
    this.seq = seq;
    this.coveredLsn = coveredLsn;
    this.payload = payload;
  }

  /** Rotate order, from 1 per fork. */
  public long seq() {
    return seq;
  }

  /** Every WAL record with LSN ≤ this is in this flush or an earlier one. */
  public long coveredLsn() {
    return coveredLsn;
  }

  /** Milliseconds since the rotate that made this task. */
  public long ageMs() {
    return (System.nanoTime() - rotateNanos) / 1_000_000;
  }

  /** What the rotate froze. */
  public T payload() {
    return payload;
  }

  /** Called by the stream thread as an attempt's stream phase begins. */
  synchronized void beginStreaming() {
    streaming = true;
  }

  /**
   * Called by the stream thread as an attempt's stream phase ends.
   *
   * @return the start of a later attempt that waited for this one, or null
   */
  synchronized Runnable endStreaming() {
    streaming = false;
    Runnable r = startWhenIdle;
    startWhenIdle = null;
    return r;
  }

  /**
   * If an attempt is streaming, keeps {@code start} to be returned by {@link #endStreaming} and
   * returns true; otherwise returns false and the caller starts at once.
   */
  synchronized boolean deferWhileStreaming(Runnable start) {
    if (!streaming) {
      return false;
    }
    startWhenIdle = start;
    return true;
  }

  /** Takes back a deferred {@code start}; false if it was already handed to the ending attempt. */
  synchronized boolean withdrawDeferred(Runnable start) {
    if (startWhenIdle != start) {
      return false;
    }
    startWhenIdle = null;
    return true;
  }

  @Override
  public String toString() {
    return "FlushTask[seq=" + seq + ", coveredLsn=" + coveredLsn + "]";
  }
}
