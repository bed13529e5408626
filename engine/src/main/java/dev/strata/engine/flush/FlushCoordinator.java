package dev.strata.engine.flush;

import com.google.common.util.concurrent.MoreExecutors;
import dev.strata.engine.StrataException;
import java.io.IOException;
import java.util.PriorityQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork's flush pipeline: permits, rotate, parallel stream phases, and the single ordered
 * finalizer. The design follows uni-db's {@code flush_coordinator.rs} and Pebble's commit pipeline
 * ({@code commit.go}: work finishes in any order, becomes visible strictly in sequence order).
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>Permits bound memory.</b> A rotate takes one of {@code maxPendingFlushes} permits before
 *       it swaps anything; the finalizer gives it back after publishing. The permit is taken
 *       outside the flush lock: a rotate that must wait never blocks other rotates' swaps, reads
 *       or writers that do not need to rotate.
 *   <li><b>Seq = rotate order.</b> The seq is assigned under {@code flushLock} in the same critical
 *       section as the caller's swap, so seq order equals the order of the frozen buffers' LSN
 *       ranges. The lock is held only for that swap: never across I/O.
 *   <li><b>Ordered publication.</b> Stream phases run in parallel and finish in any order; their
 *       results go to the finalizer, a sequential executor, which keeps them in a priority queue
 *       keyed by seq and publishes seq N only after N−1. A failed stream leaves a hole: it is
 *       retried with exponential back-off and later seqs wait; nothing is ever published past a
 *       hole. A compaction takes a seq the same way ({@link #submitOrdered}, under the flush lock,
 *       without a permit) and is published in that queue like a flush, so a fork's snapshots form
 *       one chain in seq order whatever publishes them.
 *   <li><b>Every attempt reports exactly once.</b> A stream that returns, throws, is cancelled
 *       before it started or times out reports to the finalizer once ({@link StreamAttempt}); a
 *       result that arrives after its attempt timed out is discarded. The finalizer therefore never
 *       waits forever for a seq.
 *   <li><b>Another fork's streams cost no time limit.</b> Streams queue in this fork's lane of the
 *       shared {@link StreamPool}, served round-robin with every other fork's, and an attempt's
 *       {@code streamTimeoutMs} counts from the moment it starts running. A timed-out attempt is
 *       abandoned for good (not interrupted, its thread detached, its output discarded); at most
 *       one attempt of a seq runs at a time; queued attempts of a failed or closed pipeline are
 *       cancelled and never run.
 *   <li><b>Failure is sticky.</b> After {@code maxRetries} failed attempts, or any failure to
 *       publish, the pipeline is failed: the listener turns the fork read-only, nothing more is
 *       published, and later rotates fail. The WAL still holds the data, so a restart recovers it.
 * </ol>
 *
 * <p>Rejected alternative: one finalizer thread per fork blocking on a queue — a fork count in the
 * thousands would mean thousands of idle threads. A sequential executor over a shared pool gives
 * the same ordering with no idle threads.
 *
 * <p>Thread-safe. Lock order: {@code flushLock} then {@code idleLock}; neither is held across I/O
 * or across a call into the stream or finalize phases.
 *
 * @param <T> what a rotate hands to the stream phase (e.g. the frozen L0 buffer)
 * @param <O> what a stream phase produces (e.g. a written segment)
 */
public final class FlushCoordinator<T, O> {
  private static final Logger log = LoggerFactory.getLogger(FlushCoordinator.class);
  private static final long MAX_BACKOFF_MS = 5_000;

  /** The heavy, parallel part of a flush. */
  @FunctionalInterface
  public interface StreamPhase<T, O> {
    /**
     * Writes the flush's output. Runs on a stream thread; never interrupted (past its time limit it
     * is abandoned and its output discarded).
     *
     * @param attempt 0 for the first attempt, 1.. for retries
     */
    O stream(FlushTask<T> task, int attempt) throws Exception;
  }

  /** The serial part of a flush: make the output the fork's new head. */
  @FunctionalInterface
  public interface FinalizePhase<T, O> {
    /** Publishes {@code output}; runs on the finalizer, one call at a time, in seq order. */
    void publish(FlushTask<T> task, O output) throws Exception;
  }

  /** Cleans up output that will never be published (late, abandoned or failed to publish). */
  @FunctionalInterface
  public interface Discarder<O> {
    void discard(O output);
  }

  /** Told once when the pipeline fails for good. */
  @FunctionalInterface
  public interface FailureListener {
    void onFailed(long seq, Throwable cause);
  }

  /**
   * What a rotate's swap returns: the payload to stream and the LSN it covers, or null from {@link
   * RotateAction#swapLocked} when there is nothing to flush.
   */
  public record Swap<T>(T payload, long coveredLsn) {}

  /** The caller's swap, run under the flush lock with the seq it will get. */
  @FunctionalInterface
  public interface RotateAction<T> {
    /** Swaps in a fresh buffer; returns null if there was nothing to flush. No I/O here. */
    Swap<T> swapLocked(long seq);
  }

  private final String forkName;
  private final int maxPendingFlushes;
  private final Semaphore permits;
  private final StreamPool.Lane streams;
  private final Executor finalizer;
  private final ScheduledExecutorService scheduler;
  private final long streamTimeoutMs;
  private final int maxRetries;
  private final long retryBackoffMs;
  private final StreamPhase<T, O> streamPhase;
  private final FinalizePhase<T, O> finalizePhase;
  private final Discarder<O> discarder;
  private final FailureListener failureListener;

  /** Guards nextSeq and the swap of the caller's buffers (the caller's lock, or our own). */
  private final ReentrantLock flushLock;

  /** Next seq to assign. Guarded by flushLock. */
  private long nextSeq;

  /** Results waiting for their turn. Confined to the finalizer. */
  private final PriorityQueue<Slot> ready = new PriorityQueue<>((a, b) -> Long.compare(a.seq(), b.seq()));

  /** Next seq to publish. Confined to the finalizer. */
  private long nextToPublish;

  private final ReentrantLock idleLock = new ReentrantLock();
  private final Condition changed = idleLock.newCondition();

  /** Rotated and not yet published. Guarded by idleLock. */
  private int inFlight;

  private volatile Throwable failure;
  private volatile boolean closed;
  private final AtomicLong stallNanos = new AtomicLong();
  private final AtomicLong published = new AtomicLong();
  private final AtomicLong retries = new AtomicLong();

  /**
   * @param firstSeq the seq the next rotate gets (1 on a new fork; the last published flush seq +
   *     1 after recovery)
   * @param streamPool the stream threads shared by every fork; this coordinator queues its streams
   *     in a lane of its own there
   * @param finalizerPool shared pool; this coordinator runs on it as a sequential executor
   * @param scheduler shared scheduler for retries and stream timeouts
   * @param flushLock the lock seqs are assigned under: the one that already guards the caller's
   *     buffers (e.g. a fork's memtables), so the swap and the seq are one critical section
   */
  public FlushCoordinator(
      ReentrantLock flushLock,
      String forkName,
      long firstSeq,
      int maxPendingFlushes,
      long streamTimeoutMs,
      int maxRetries,
      long retryBackoffMs,
      StreamPool streamPool,
      Executor finalizerPool,
      ScheduledExecutorService scheduler,
      StreamPhase<T, O> streamPhase,
      FinalizePhase<T, O> finalizePhase,
      Discarder<O> discarder,
      FailureListener failureListener) {
    this.flushLock = flushLock;
    this.forkName = forkName;
    this.nextSeq = firstSeq;
    this.nextToPublish = firstSeq;
    this.maxPendingFlushes = maxPendingFlushes;
    this.permits = new Semaphore(maxPendingFlushes);
    this.streamTimeoutMs = streamTimeoutMs;
    this.maxRetries = maxRetries;
    this.retryBackoffMs = retryBackoffMs;
    this.streams = streamPool.newLane(forkName);
    this.finalizer = MoreExecutors.newSequentialExecutor(finalizerPool);
    this.scheduler = scheduler;
    this.streamPhase = streamPhase;
    this.finalizePhase = finalizePhase;
    this.discarder = discarder;
    this.failureListener = failureListener;
  }

  /**
   * Rotates: takes a permit (waiting at most {@code permitWaitMs} outside any lock), runs {@code
   * action} under the flush lock with the next seq, and starts the stream phase. A wait of 0
   * means "refuse at once": no permit free is RESOURCE_EXHAUSTED, never a silent no-op, so a
   * writer with {@code write_stall_timeout=0} still meets back-pressure.
   *
   * @param permitWaitMs how long to wait for a permit (the write-stall timeout), ≥ 0
   * @return the seq and covered LSN of the new flush, or null if there was nothing to flush
   * @throws StrataException RESOURCE_EXHAUSTED if no permit came within {@code permitWaitMs};
   *     FAILED_PRECONDITION if the pipeline has failed; UNAVAILABLE if closed
   * @throws InterruptedException if interrupted while waiting for a permit
   */
  public Rotation rotate(long permitWaitMs, RotateAction<T> action) throws InterruptedException {
    checkUsable();
    if (!permits.tryAcquire()) {
      long start = System.nanoTime();
      boolean got = permitWaitMs > 0 && permits.tryAcquire(permitWaitMs, TimeUnit.MILLISECONDS);
      stallNanos.addAndGet(System.nanoTime() - start);
      if (!got) {
        checkUsable(); // a pipeline that failed meanwhile is read-only, not overloaded
        throw StrataException.overloaded(
            "write stall on fork '"
                + forkName
                + "': all "
                + maxPendingFlushes
                + " flush permits busy for "
                + permitWaitMs
                + " ms; retry later",
            Math.max(100, permitWaitMs / 10));
      }
    }
    return swapAndStart(action);
  }

  /**
   * Rotates only if a permit is free right now (the interval trigger: a busy pipeline just skips a
   * tick).
   *
   * @return the new flush, or null if no permit was free or there was nothing to flush
   * @throws StrataException FAILED_PRECONDITION if the pipeline has failed; UNAVAILABLE if closed
   */
  public Rotation tryRotate(RotateAction<T> action) {
    checkUsable();
    if (!permits.tryAcquire()) {
      return null;
    }
    return swapAndStart(action);
  }

  /** With a permit in hand: the swap under the flush lock, then the first stream attempt. */
  private Rotation swapAndStart(RotateAction<T> action) {
    FlushTask<T> task;
    flushLock.lock();
    try {
      if (closed || failure != null) {
        permits.release();
        checkUsable();
      }
      Swap<T> swap = action.swapLocked(nextSeq);
      if (swap == null) {
        permits.release();
        return null;
      }
      task = new FlushTask<>(nextSeq++, swap.coveredLsn(), swap.payload());
    } finally {
      flushLock.unlock();
    }
    idleLock.lock();
    try {
      inFlight++;
    } finally {
      idleLock.unlock();
    }
    runAttempt(task, 0);
    return new Rotation(task.seq(), task.coveredLsn());
  }

  /**
   * Reserves the next seq for {@code publication} and queues it on the finalizer. Never waits:
   * the caller returns at once and {@code publication} runs when its turn comes.
   *
   * @return the reserved seq
   * @throws StrataException FAILED_PRECONDITION if the pipeline has failed, UNAVAILABLE if closed
   *     ({@code publication} is then not called at all)
   */
  public long submitOrdered(OrderedPublication publication) {
    long seq;
    flushLock.lock();
    try {
      checkUsable();
      seq = nextSeq++;
    } finally {
      flushLock.unlock();
    }
    try {
      finalizer.execute(() -> onReady(new OrderedSlot(seq, publication)));
    } catch (RejectedExecutionException e) {
      // Only when the engine shuts down: nothing publishes on this fork any more.
      publication.abandon(e);
    }
    return seq;
  }

  /** The result of a rotate: the flush's seq and the WAL LSN it covers. */
  public record Rotation(long seq, long coveredLsn) {}

  private void checkUsable() {
    if (closed) {
      throw StrataException.of(
          StrataException.Kind.UNAVAILABLE, "fork '" + forkName + "' flush pipeline is closed");
    }
    Throwable f = failure;
    if (f != null) {
      throw StrataException.failedPrecondition(
          "fork '" + forkName + "' is read-only after a failed flush: " + f.getMessage());
    }
  }

  private void runAttempt(FlushTask<T> task, int attempt) {
    StreamAttempt.start(
        task,
        attempt,
        streamPhase,
        streams,
        scheduler,
        streamTimeoutMs,
        () -> failure == null && !closed,
        this::onAttemptReported,
        this::discardQuietly);
  }

  /** An attempt's single report: hand it to the finalizer (or discard it if the pools are down). */
  private void onAttemptReported(FlushTask<T> task, int attempt, O out, Throwable err) {
    try {
      finalizer.execute(() -> onStreamDone(task, attempt, out, err));
    } catch (RejectedExecutionException e) {
      if (out != null) {
        discardQuietly(out);
      }
    }
  }

  /** Runs on the finalizer. */
  private void onStreamDone(FlushTask<T> task, int attempt, O out, Throwable err) {
    if (err != null) {
      if (failure != null || closed) {
        return;
      }
      if (attempt < maxRetries) {
        long delay = Math.min(MAX_BACKOFF_MS, retryBackoffMs << Math.min(20, attempt));
        retries.incrementAndGet();
        log.warn(
            "fork={} flush seq={} attempt={} failed, retrying in {} ms: {}",
            forkName,
            task.seq(),
            attempt,
            delay,
            err.toString());
        try {
          scheduler.schedule(() -> runAttempt(task, attempt + 1), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          fail(task.seq(), e);
        }
      } else {
        fail(
            task.seq(),
            new IOException(
                "flush seq " + task.seq() + " failed after " + (attempt + 1) + " attempts: " + err,
                err));
      }
      return;
    }
    onReady(new FlushSlot(task, out));
  }

  /** Runs on the finalizer: parks {@code slot} and publishes every slot whose turn has come. */
  private void onReady(Slot slot) {
    if (failure != null || closed) {
      slot.abandon(failure != null ? failure : new IllegalStateException("pipeline closed"));
      return;
    }
    ready.add(slot);
    while (!ready.isEmpty() && ready.peek().seq() == nextToPublish) {
      Slot r = ready.poll();
      if (failure != null) {
        r.abandon(failure);
        continue;
      }
      try {
        r.publish();
      } catch (Throwable t) {
        r.abandon(t);
        fail(r.seq(), t);
        return;
      }
      nextToPublish++;
      r.published();
    }
  }

  /** A seq's entry in the finalizer's queue. */
  private interface Slot {
    long seq();

    void publish() throws Exception;

    /** After a successful publish. */
    void published();

    /** Instead of a publish: clean up. */
    void abandon(Throwable why);
  }

  /** A flush's stream output waiting for its turn. */
  private final class FlushSlot implements Slot {
    private final FlushTask<T> task;
    private final O output;

    FlushSlot(FlushTask<T> task, O output) {
      this.task = task;
      this.output = output;
    }

    @Override
    public long seq() {
      return task.seq();
    }

    @Override
    public void publish() throws Exception {
      finalizePhase.publish(task, output);
    }

    @Override
    public void published() {
      published.incrementAndGet();
      // inFlight drops before the permit returns, so pendingFlushes() never exceeds the permits.
      idleLock.lock();
      try {
        inFlight--;
        changed.signalAll();
      } finally {
        idleLock.unlock();
      }
      permits.release();
    }

    @Override
    public void abandon(Throwable why) {
      discardQuietly(output);
    }
  }

  /** An ordered publication waiting for its turn. */
  private record OrderedSlot(long seq, OrderedPublication publication) implements Slot {
    @Override
    public void publish() throws Exception {
      publication.publish(seq);
    }

    @Override
    public void published() {}

    @Override
    public void abandon(Throwable why) {
      try {
        publication.abandon(why);
      } catch (RuntimeException e) {
        log.warn("abandoning ordered publication seq={} failed: {}", seq, e.toString());
      }
    }
  }

  /** Runs on the finalizer. */
  private void fail(long seq, Throwable cause) {
    // Results parked behind the hole will never publish.
    while (!ready.isEmpty()) {
      ready.poll().abandon(cause);
    }
    if (failure == null) {
      failure = cause;
      // Queued attempts of this fork will never publish: they must not take a stream thread.
      streams.cancelQueued(cause);
      // Wake writers waiting for a permit: they re-check and get FAILED_PRECONDITION at once.
      permits.release(maxPendingFlushes);
      log.error("fork={} flush pipeline failed at seq={}: {}", forkName, seq, cause.toString());
      try {
        failureListener.onFailed(seq, cause);
      } catch (RuntimeException e) {
        log.error("fork={} failure listener threw", forkName, e);
      }
    }
    idleLock.lock();
    try {
      changed.signalAll();
    } finally {
      idleLock.unlock();
    }
  }

  private void discardQuietly(O out) {
    try {
      discarder.discard(out);
    } catch (RuntimeException e) {
      log.warn("fork={} could not discard unpublished flush output: {}", forkName, e.toString());
    }
  }

  /**
   * Waits until every rotated flush is published (or the pipeline has failed).
   *
   * @return the number of flushes still pending (0 = drained)
   */
  public int drain(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    idleLock.lock();
    try {
      while (inFlight > 0 && failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        changed.awaitNanos(left);
      }
      // A failed pipeline publishes nothing more: its flushes are abandoned, not pending.
      return failure != null ? 0 : inFlight;
    } finally {
      idleLock.unlock();
    }
  }

  /**
   * Refuses further rotates and waits up to {@code timeoutMs} for in-flight flushes.
   *
   * @return flushes still pending when it gave up (their data stays in the WAL)
   */
  public int shutdown(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    int left = drain(timeoutMs);
    closed = true;
    streams.close(new IllegalStateException("fork '" + forkName + "' flush pipeline closed"));
    // A barrier through the sequential finalizer: it runs after any publication already running
    // (a compaction's is not counted by drain), so none is still writing when this returns; later
    // ones see `closed` and abandon. Outputs parked behind a flush that will never publish are
    // freed here too.
    CountDownLatch barrier = new CountDownLatch(1);
    try {
      finalizer.execute(
          () -> {
            while (!ready.isEmpty()) {
              ready.poll().abandon(new IllegalStateException("pipeline closed"));
            }
            barrier.countDown();
          });
      long waitNs = Math.max(TimeUnit.SECONDS.toNanos(1), deadline - System.nanoTime());
      if (!barrier.await(waitNs, TimeUnit.NANOSECONDS)) {
        log.warn("fork={} a publication was still running when the pipeline closed", forkName);
      }
    } catch (RejectedExecutionException e) {
      // the engine's pools are down; their segments are swept at the next open
    }
    return left;
  }

  /** Rotated flushes not yet published. */
  public int pendingFlushes() {
    idleLock.lock();
    try {
      return inFlight;
    } finally {
      idleLock.unlock();
    }
  }

  /** Permits free right now. */
  public int availablePermits() {
    return permits.availablePermits();
  }

  /** Total time writers waited for a permit, ms. */
  public long stallTimeMs() {
    return TimeUnit.NANOSECONDS.toMillis(stallNanos.get());
  }

  /** Flushes published since this coordinator started. */
  public long publishedCount() {
    return published.get();
  }

  /** Stream attempts retried since this coordinator started. */
  public long retryCount() {
    return retries.get();
  }
}
