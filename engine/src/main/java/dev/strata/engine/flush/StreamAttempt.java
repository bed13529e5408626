package dev.strata.engine.flush;

import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * One attempt of a flush's stream phase: a job in its fork's {@link StreamPool} lane, with its
 * watchdog.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>Every attempt reports exactly once</b> to its {@link Outcome} (an {@link
 *       AtomicBoolean}): when it returns or throws, when its watchdog fires, when it is cancelled
 *       before it started, or when it cannot be queued. A result that arrives after the attempt
 *       already reported (it timed out) goes to the discarder. So the finalizer never waits forever
 *       for a seq, and no output leaks.
 *   <li><b>The time limit counts from the start of running.</b> The watchdog is armed when a stream
 *       thread starts the attempt, never at submission: time queued behind other forks' streams is
 *       not this fork's fault and never fails it.
 *   <li><b>A timed-out attempt is abandoned for good.</b> It is not interrupted (an interrupt
 *       inside {@code FileChannel} I/O closes the channel: a WAL fsync would fail the WAL for good,
 *       Lucene's files likewise); it runs on, detached from the pool ({@link
 *       StreamPool.Running#detach}), and its late output is discarded.
 *   <li><b>At most one attempt of a seq is queued or running at a time.</b> A retry due while an
 *       abandoned attempt of the same seq still runs waits, outside the queue, for that attempt to
 *       end, and is queued then; if it has not ended within another {@code timeoutMs}, the retry
 *       reports a failure without running (the coordinator counts it and backs off). So a slow seq
 *       is retried as soon as its last attempt gives its thread back, a stuck one still fails the
 *       pipeline after {@code maxRetries}, and no seq ever piles attempts up or holds more than
 *       one stream thread.
 *   <li><b>An attempt that is no longer wanted never runs.</b> One cancelled while queued (its
 *       pipeline failed or closed) reports the cancellation; one whose pipeline failed between its
 *       queueing and its start reports without calling the stream phase.
 * </ol>
 *
 * <p>Thread-safe: started on the rotating or retrying thread, runs on a stream thread, reports on
 * that thread, the scheduler's (timeout) or the one that cancels it.
 *
 * @param <T> the stream phase's input
 * @param <O> its output
 */
final class StreamAttempt<T, O> implements StreamPool.Job {
  /** Where an attempt's single report goes. */
  @FunctionalInterface
  interface Outcome<T, O> {
    /** Exactly one of {@code out} and {@code err} is set (out may be null for "no output"). */
    void report(FlushTask<T> task, int attempt, O out, Throwable err);
  }

  private final FlushTask<T> task;
  private final int attempt;
  private final FlushCoordinator.StreamPhase<T, O> phase;
  private final ScheduledExecutorService scheduler;
  private final long timeoutMs;
  private final BooleanSupplier wanted;
  private final Outcome<T, O> outcome;
  private final FlushCoordinator.Discarder<O> lateResults;
  private final AtomicBoolean reported = new AtomicBoolean();

  private StreamAttempt(
      FlushTask<T> task,
      int attempt,
      FlushCoordinator.StreamPhase<T, O> phase,
      ScheduledExecutorService scheduler,
      long timeoutMs,
      BooleanSupplier wanted,
      Outcome<T, O> outcome,
      FlushCoordinator.Discarder<O> lateResults) {
    this.task = task;
    this.attempt = attempt;
    this.phase = phase;
    this.scheduler = scheduler;
    this.timeoutMs = timeoutMs;
    this.wanted = wanted;
    this.outcome = outcome;
    this.lateResults = lateResults;
  }

  /**
   * Queues attempt {@code attempt} of {@code task} in {@code lane} (reporting a failure at once if
   * the lane refuses it), or, while an abandoned attempt of the same task is still running, once
   * that attempt ends (reporting a failure if it has not ended within {@code timeoutMs}).
   *
   * @param timeoutMs the attempt's time limit from the moment it starts running; past it the
   *     attempt reports a {@link TimeoutException}
   * @param wanted checked when the attempt is about to start: false (its pipeline failed or closed)
   *     cancels it instead
   */
  static <T, O> void start(
      FlushTask<T> task,
      int attempt,
      FlushCoordinator.StreamPhase<T, O> phase,
      StreamPool.Lane lane,
      ScheduledExecutorService scheduler,
      long timeoutMs,
      BooleanSupplier wanted,
      Outcome<T, O> outcome,
      FlushCoordinator.Discarder<O> lateResults) {
    StreamAttempt<T, O> a =
        new StreamAttempt<>(task, attempt, phase, scheduler, timeoutMs, wanted, outcome, lateResults);
    Runnable queue = () -> a.queueIn(lane);
    if (!task.deferWhileStreaming(queue)) {
      queue.run();
      return;
    }
    Runnable giveUp =
        () -> {
          if (task.withdrawDeferred(queue)) {
            a.report(
                null,
                new TimeoutException(
                    "attempt " + attempt + " of flush seq " + task.seq() + " not started: the attempt before it,"
                        + " abandoned after its time limit, was still running " + timeoutMs + " ms later"));
          }
        };
    try {
      scheduler.schedule(giveUp, timeoutMs, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      giveUp.run(); // shutting down
    }
  }

  private void queueIn(StreamPool.Lane lane) {
    try {
      lane.submit(this);
    } catch (RejectedExecutionException e) {
      report(null, e);
    }
  }

  @Override
  public long order() {
    return task.seq();
  }

  @Override
  public void run(StreamPool.Running running) {
    if (!wanted.getAsBoolean()) {
      report(null, new CancellationException("flush seq " + task.seq() + " is no longer wanted"));
      return;
    }
    task.beginStreaming();
    ScheduledFuture<?> watchdog = null;
    O out = null;
    Throwable err = null;
    try {
      watchdog = armWatchdog(running);
      out = phase.stream(task, attempt);
    } catch (Throwable t) {
      err = t;
    } finally {
      if (watchdog != null) {
        watchdog.cancel(false);
      }
    }
    // Ended before the report: a retry the report schedules must not find this attempt running.
    Runnable waitingRetry = task.endStreaming();
    report(out, err);
    if (waitingRetry != null) {
      waitingRetry.run();
    }
  }

  /** Reports a timeout and detaches the thread once {@code timeoutMs} have passed; null if shut down. */
  private ScheduledFuture<?> armWatchdog(StreamPool.Running running) {
    try {
      return scheduler.schedule(
          () -> {
            TimeoutException timeout =
                new TimeoutException("stream of flush seq " + task.seq() + " ran longer than " + timeoutMs + " ms");
            if (report(null, timeout)) {
              running.detach();
            }
          },
          timeoutMs,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      return null; // shutting down: the attempt runs without a watchdog and still reports when it ends
    }
  }

  @Override
  public void cancel(Throwable why) {
    report(null, why);
  }

  /** @return true if this was the attempt's report, false if it had already reported */
  private boolean report(O out, Throwable err) {
    if (!reported.compareAndSet(false, true)) {
      if (out != null) {
        lateResults.discard(out); // late result of an attempt that already timed out
      }
      return false;
    }
    outcome.report(task, attempt, out, err);
    return true;
  }
}
