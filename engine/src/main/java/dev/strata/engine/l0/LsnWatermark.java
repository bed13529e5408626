package dev.strata.engine.l0;

import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The highest LSN W such that every WAL record with LSN ≤ W has been applied to L0 or abandoned.
 *
 * <p>Why: writers append to the WAL (which assigns LSNs in file order) and apply to L0 afterwards,
 * without a lock across the fsync. A rotate therefore cannot assume that every LSN it covers is
 * already in the frozen buffer; the flush's stream phase waits on this watermark before it reads
 * the frozen buffer, so a segment holds exactly the records with LSN ≤ its covered LSN.
 *
 * <p>Every LSN the WAL hands out must be passed to {@link #markDone} exactly once, applied or not
 * (writers do it in a {@code finally}). Thread-safe; the lock is held only for in-memory updates.
 */
public final class LsnWatermark {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition advanced = lock.newCondition();

  /** Guarded by lock. */
  private long watermark;

  /** LSNs above the watermark already done. Guarded by lock. */
  private final TreeSet<Long> doneAbove = new TreeSet<>();

  /** Starts with every LSN ≤ {@code initial} done (e.g. the last LSN recovered from the WAL). */
  public LsnWatermark(long initial) {
    this.watermark = initial;
  }

  /** Records that {@code lsn} is applied or abandoned; advances the watermark over any run. */
  public void markDone(long lsn) {
    lock.lock();
    try {
      if (lsn <= watermark) {
        return;
      }
      doneAbove.add(lsn);
      boolean moved = false;
      while (!doneAbove.isEmpty() && doneAbove.first() == watermark + 1) {
        watermark = doneAbove.pollFirst();
        moved = true;
      }
      if (moved) {
        advanced.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** The current watermark (LSN). */
  public long get() {
    lock.lock();
    try {
      return watermark;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the watermark reaches {@code lsn}.
   *
   * @param timeoutMs longest wait in milliseconds
   * @return true if reached, false on timeout
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitAtLeast(long lsn, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    lock.lock();
    try {
      while (watermark < lsn) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        advanced.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }
}
