package dev.strata.engine.flush;

import java.util.concurrent.ScheduledFuture;

/**
 * One rotated flush: its seq (rotate order), the WAL LSN it covers, and what the rotate froze.
 * Immutable but for the current attempt's watchdog, which only the coordinator touches.
 *
 * @param <T> the payload type (e.g. the frozen L0 buffer)
 */
public final class FlushTask<T> {
  private final long seq;
  private final long coveredLsn;
  private final T payload;
  private volatile ScheduledFuture<?> watchdog;
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

  void setWatchdog(ScheduledFuture<?> w) {
    this.watchdog = w;
  }

  void cancelWatchdog() {
    ScheduledFuture<?> w = watchdog;
    if (w != null) {
      w.cancel(false);
    }
  }

  @Override
  public String toString() {
    return "FlushTask[seq=" + seq + ", coveredLsn=" + coveredLsn + "]";
  }
}
