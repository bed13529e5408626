package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushCoordinator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork's write stalls, as RocksDB's {@code WriteController}: the conditions under which a
 * writer waits before its WAL append instead of letting memory or read cost grow without bound.
 *
 * <ol>
 *   <li><b>L0 of all forks at its share of the memory budget</b> (SPEC §5.10): the engine's {@link
 *       WriteBufferManager} asks the forks with the largest active buffers to rotate and stalls the
 *       writer until a flush frees memory, at most {@code write_stall_timeout}, then
 *       RESOURCE_EXHAUSTED. This controller registers its fork there and leaves at {@link #close}.
 *   <li><b>This fork's L0 full</b> ({@code l0.max_bytes}): the writer rotates, which waits at most {@code
 *       write_stall_timeout} for a flush permit outside any lock, then fails with
 *       RESOURCE_EXHAUSTED (SPEC §2.3, the back-pressure of bounded memory, §5.5).
 *   <li><b>Too many segments</b> ({@code compaction.stop_writes_segments}, RocksDB's {@code
 *       level0_stop_writes_trigger}): checked only when the writer is about to rotate; it waits for
 *       a compaction to publish, at most {@code write_stall_timeout}, then RESOURCE_EXHAUSTED.
 *       Counted ({@link #segmentStalls()}, {@link #segmentStallMs()}) and logged at most every 10 s,
 *       so an operator sees compaction fall behind.
 * </ol>
 *
 * <p>Thread-safe. Writers call {@link #beforeWrite} on their own thread; {@link #wake} is called by
 * whoever may have changed a stall condition (a compaction publishing or aborting, a failure, a
 * state change, close), from any thread. The only monitor is {@code progress}, held while waiting
 * and to notify; no I/O under it.
 */
final class WriteController {
  private static final Logger log = LoggerFactory.getLogger(WriteController.class);

  /** A rotate of the fork: returns null when it did not rotate. */
  @FunctionalInterface
  interface Rotator {
    /**
     * @param onlyIfFull rotate only if the active buffer is still at {@code l0.max_bytes} once the
     *     permit is in hand
     */
    FlushCoordinator.Rotation rotate(long permitWaitMs, boolean onlyIfFull) throws InterruptedException;
  }

  private final String forkName;
  private final long l0MaxBytes;
  private final long stallTimeoutMs;
  /** 0 turns the segment-count stall off (compaction disabled). */
  private final int stopWritesSegments;
  private final LongSupplier activeL0Bytes;
  private final IntSupplier headSegments;
  private final Rotator rotator;
  private final ForkLifecycle lifecycle;
  private final WriteBufferManager writeBuffers;
  private final WriteBufferManager.Registration registration;

  /** Notified when a stall condition may have changed; stalled writers wait on it. */
  private final Object progress = new Object();

  private final AtomicLong segmentStalls = new AtomicLong();
  private final AtomicLong segmentStallNanos = new AtomicLong();
  private volatile long lastStallLogNanos;

  /**
   * @param stopWritesSegments head segment count at which writers stall; 0 for never
   * @param activeL0Bytes bytes in the fork's active L0 buffer now
   * @param headSegments segments in the fork's head snapshot now (0 before the first flush)
   * @param writeBuffers the engine's bound on L0 of all forks; this fork joins it here
   * @param activeL0ReservedBytes bytes of arena chunks the fork's active L0 buffer holds now (the
   *     memory it takes, chunk ends included), what {@code writeBuffers} accounts
   * @param l0ReservedBytes bytes of arena chunks the fork's active and frozen L0 buffers hold now
   * @param rotateForMemory rotates the fork now if it has data and a free permit (no wait); true if
   *     it did
   */
  WriteController(
      String forkName,
      long l0MaxBytes,
      long stallTimeoutMs,
      int stopWritesSegments,
      LongSupplier activeL0Bytes,
      IntSupplier headSegments,
      Rotator rotator,
      ForkLifecycle lifecycle,
      WriteBufferManager writeBuffers,
      LongSupplier activeL0ReservedBytes,
      LongSupplier l0ReservedBytes,
      BooleanSupplier rotateForMemory) {
    this.forkName = forkName;
    this.l0MaxBytes = l0MaxBytes;
    this.stallTimeoutMs = stallTimeoutMs;
    this.stopWritesSegments = stopWritesSegments;
    this.activeL0Bytes = activeL0Bytes;
    this.headSegments = headSegments;
    this.rotator = rotator;
    this.lifecycle = lifecycle;
    this.writeBuffers = writeBuffers;
    // Registered with the suppliers given, not with this (a half-built object must not escape).
    this.registration = writeBuffers.register(forkName, activeL0ReservedBytes, l0ReservedBytes, rotateForMemory);
  }

  /**
   * Called by a writer before its WAL append: returns at once unless the active buffer is full;
   * then stalls as the class comment says.
   *
   * @throws StrataException RESOURCE_EXHAUSTED (stall timed out, with a retry delay),
   *     FAILED_PRECONDITION or UNAVAILABLE (the fork stopped taking writes meanwhile)
   */
  void beforeWrite() {
    writeBuffers.beforeWrite(stallTimeoutMs, lifecycle::isWritable);
    if (!lifecycle.isWritable()) {
      lifecycle.checkWritable(); // it stopped taking writes during the stall: the precise status
    }
    if (activeL0Bytes.getAsLong() < l0MaxBytes) {
      return;
    }
    stallWhileTooManySegments();
    while (activeL0Bytes.getAsLong() >= l0MaxBytes) {
      try {
        if (rotator.rotate(stallTimeoutMs, true) == null) {
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted during a write stall");
      }
    }
  }

  /**
   * True if a writer arriving now would stall in {@link #beforeWrite} (the active buffer is full,
   * or L0 of all forks is at its share of memory.budget): an asynchronous writer then runs on a
   * pool where waiting is allowed. A hint: the answer may change the next moment, and
   * {@link #beforeWrite} decides for real.
   */
  boolean wouldStall() {
    return activeL0Bytes.getAsLong() >= l0MaxBytes || writeBuffers.wouldStall();
  }

  /** Lets stalled writers re-check their condition now. */
  void wake() {
    synchronized (progress) {
      progress.notifyAll();
    }
  }

  /** Leaves the engine's {@link WriteBufferManager} (the fork closes). Idempotent. */
  void close() {
    registration.close();
    wake();
  }

  /** Times a writer waited in the segment-count stall. */
  long segmentStalls() {
    return segmentStalls.get();
  }

  /** Total time writers spent in the segment-count stall, ms. */
  long segmentStallMs() {
    return TimeUnit.NANOSECONDS.toMillis(segmentStallNanos.get());
  }

  private void stallWhileTooManySegments() {
    if (stopWritesSegments <= 0 || headSegments.getAsInt() < stopWritesSegments) {
      return;
    }
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(stallTimeoutMs);
    segmentStalls.incrementAndGet();
    if (start - lastStallLogNanos > TimeUnit.SECONDS.toNanos(10)) {
      lastStallLogNanos = start;
      log.warn(
          "fork={} write stall: the head has {} segments (compaction.stop_writes_segments={}); writers"
              + " wait for compaction to catch up",
          forkName,
          headSegments.getAsInt(),
          stopWritesSegments);
    }
    try {
      synchronized (progress) {
        while (true) {
          int n = headSegments.getAsInt();
          if (n < stopWritesSegments) {
            return;
          }
          if (!lifecycle.isWritable()) {
            lifecycle.checkWritable(); // throws the precise status
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw StrataException.overloaded(
                "write stall on fork '" + forkName + "': the head has " + n
                    + " segments and compaction has not caught up within " + stallTimeoutMs
                    + " ms; retry later",
                Math.max(100, stallTimeoutMs / 10));
          }
          progress.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted during a write stall");
    } finally {
      segmentStallNanos.addAndGet(System.nanoTime() - start);
    }
  }
}
