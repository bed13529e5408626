package dev.strata.engine.flush;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One attempt of a flush's stream phase on the shared stream pool, with its watchdog.
 *
 * <h2>Invariant: every attempt reports exactly once</h2>
 *
 * An attempt that returns, throws, is rejected by the pool or outlives {@code flush.stream_timeout}
 * reports to its {@link Outcome} once (an {@link AtomicBoolean}); a result that arrives after the
 * attempt already reported (it timed out) is handed to the discarder instead. So the finalizer never
 * waits forever for a seq, and no output leaks.
 *
 * <p>A timed-out attempt is not interrupted: an interrupt inside {@code FileChannel} I/O closes the
 * channel (a WAL fsync would fail the WAL for good; Lucene's files likewise). It runs on and its
 * late result is discarded.
 *
 * <p>Thread-safe: started on the rotating or retrying thread, reports on a stream thread or the
 * scheduler's.
 *
 * @param <T> the stream phase's input
 * @param <O> its output
 */
final class StreamAttempt<T, O> {
  /** Where an attempt's single report goes. */
  @FunctionalInterface
  interface Outcome<T, O> {
    /** Exactly one of {@code out} and {@code err} is set (out may be null for "no output"). */
    void report(FlushTask<T> task, int attempt, O out, Throwable err);
  }

  private final FlushTask<T> task;
  private final int attempt;
  private final Outcome<T, O> outcome;
  private final FlushCoordinator.Discarder<O> lateResults;
  private final AtomicBoolean reported = new AtomicBoolean();

  private StreamAttempt(FlushTask<T> task, int attempt, Outcome<T, O> outcome, FlushCoordinator.Discarder<O> lateResults) {
    this.task = task;
    this.attempt = attempt;
    this.outcome = outcome;
    this.lateResults = lateResults;
  }

  /**
   * Submits attempt {@code attempt} of {@code task} to {@code pool} and arms its watchdog.
   *
   * @param timeoutMs after this long without a result the attempt reports a {@link
   *     TimeoutException}
   */
  static <T, O> void start(
      FlushTask<T> task,
      int attempt,
      FlushCoordinator.StreamPhase<T, O> phase,
      ExecutorService pool,
      ScheduledExecutorService scheduler,
      long timeoutMs,
      Outcome<T, O> outcome,
      FlushCoordinator.Discarder<O> lateResults) {
    StreamAttempt<T, O> a = new StreamAttempt<>(task, attempt, outcome, lateResults);
    Future<?> future;
    try {
      future =
          pool.submit(
              () -> {
                O out = null;
                Throwable err = null;
                try {
                  out = phase.stream(task, attempt);
                } catch (Throwable t) {
                  err = t;
                }
                a.report(out, err);
              });
    } catch (RejectedExecutionException e) {
      a.report(null, e);
      return;
    }
    ScheduledFuture<?> watchdog;
    try {
      watchdog =
          scheduler.schedule(
              () -> {
                if (!future.isDone()) {
                  a.report(
                      null,
                      new TimeoutException(
                          "stream of flush seq " + task.seq() + " took longer than " + timeoutMs + " ms"));
                }
              },
              timeoutMs,
              TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      return; // shutting down: the stream itself still reports
    }
    // If the stream already reported, the watchdog finds it done and does nothing.
    task.setWatchdog(watchdog);
  }

  private void report(O out, Throwable err) {
    if (!reported.compareAndSet(false, true)) {
      if (out != null) {
        lateResults.discard(out); // late result of an attempt that already timed out
      }
      return;
    }
    task.cancelWatchdog();
    outcome.report(task, attempt, out, err);
  }
}
