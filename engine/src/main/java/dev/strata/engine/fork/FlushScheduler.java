package dev.strata.engine.fork;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When one fork rotates (SPEC §2.3): on a full L0 ({@link WriteController}, through {@link
 * #rotate}), every {@code flush.interval} with data in L0 (the interval timer), on a {@code Flush}
 * call ({@link #requestFlush}, which returns a ticket at once), and at shutdown ({@link
 * #flushForShutdown}). A rotate swaps the memtables under the flush lock and hands the frozen buffer
 * to the {@link FlushCoordinator}.
 *
 * <p>Thread-safe. The interval timer runs on the engine's scheduler; its handle is guarded by this
 * object's monitor, which is held only to start or stop it.
 */
final class FlushScheduler {
  private static final Logger log = LoggerFactory.getLogger(FlushScheduler.class);

  private final String forkName;
  private final long l0MaxBytes;
  private final long intervalMs;
  private final ScheduledExecutorService scheduler;
  private final WalWriter wal;
  private final MemTables memTables;
  private final FlushCoordinator<L0Buffer, FlushOutput> flush;
  private final ForkTickets tickets;
  private final ForkLifecycle lifecycle;

  @GuardedBy("this")
  private ScheduledFuture<?> intervalTimer;

  @GuardedBy("this")
  private boolean timerStopped;

  FlushScheduler(
      String forkName,
      long l0MaxBytes,
      long intervalMs,
      ScheduledExecutorService scheduler,
      WalWriter wal,
      MemTables memTables,
      FlushCoordinator<L0Buffer, FlushOutput> flush,
      ForkTickets tickets,
      ForkLifecycle lifecycle) {
    this.forkName = forkName;
    this.l0MaxBytes = l0MaxBytes;
    this.intervalMs = intervalMs;
    this.scheduler = scheduler;
    this.wal = wal;
    this.memTables = memTables;
    this.flush = flush;
    this.tickets = tickets;
    this.lifecycle = lifecycle;
  }

  /** Starts the interval timer (once; never after {@link #stopTimer}). */
  synchronized void startTimer() {
    if (intervalTimer != null || timerStopped || intervalMs <= 0) {
      return;
    }
    intervalTimer = scheduler.scheduleWithFixedDelay(this::intervalTick, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
  }

  /** Stops the interval timer for good. */
  synchronized void stopTimer() {
    timerStopped = true;
    if (intervalTimer != null) {
      intervalTimer.cancel(false);
    }
  }

  private void intervalTick() {
    if (!lifecycle.isWritable()) {
      return;
    }
    try {
      if (memTables.hasUnflushedData(wal.lastLsn())) {
        // No permit free: skip this tick rather than stall the scheduler.
        flush.tryRotate(seq -> memTables.swapLocked(0, wal::lastLsn));
      }
    } catch (RuntimeException e) {
      log.debug("fork={} interval flush skipped: {}", forkName, e.toString());
    }
  }

  /**
   * Rotates if there is something to flush.
   *
   * @param permitWaitMs how long to wait for a flush permit; 0 refuses at once if none is free
   * @param onlyIfFull rotate only if the active buffer is still at {@code l0.max_bytes} once the
   *     permit is in hand (many stalled writers wake up; only one should rotate)
   * @return the rotation, or null if nothing was rotated
   * @throws StrataException RESOURCE_EXHAUSTED if no permit came within {@code permitWaitMs}
   */
  FlushCoordinator.Rotation rotate(long permitWaitMs, boolean onlyIfFull) throws InterruptedException {
    long fullBytes = onlyIfFull ? l0MaxBytes : 0;
    return flush.rotate(permitWaitMs, seq -> memTables.swapLocked(fullBytes, wal::lastLsn));
  }

  /**
   * Requests a flush and returns its ticket at once.
   *
   * @param permitWaitMs how long to wait for a permit (the write-stall timeout for clients)
   * @throws StrataException RESOURCE_EXHAUSTED if no permit came in time; FAILED_PRECONDITION if
   *     read-only; IO_ERROR if the WAL sync failed
   */
  FlushTicket requestFlush(long permitWaitMs) {
    lifecycle.checkWritable();
    try {
      FlushCoordinator.Rotation r = rotate(permitWaitMs, false);
      if (r != null) {
        // A ticket must name an LSN that survives a power loss: after one, the WAL would hand
        // out a lost (ASYNC) LSN again and the ticket would resolve to the wrong writes.
        syncUpTo(r.coveredLsn());
        return tickets.ticket(r.seq(), r.coveredLsn());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
    // Nothing new: every assigned LSN is in a rotated buffer, so the last rotate's covered LSN is
    // at least the caller's acknowledged one; make it durable for the same reason as above.
    long covered = memTables.lastRotatedLsn();
    syncUpTo(covered);
    PublishedSnapshot head = memTables.current().head();
    long seq = head == null ? 0 : head.manifest().getSeq() + flush.pendingFlushes();
    return tickets.ticket(seq, covered);
  }

  /** Makes the WAL durable up to {@code lsn} if it is not yet. */
  private void syncUpTo(long lsn) {
    if (wal.durableLsn() < lsn) {
      try {
        wal.sync();
      } catch (IOException e) {
        throw lifecycle.walFailed(e);
      }
    }
  }

  /**
   * Starts the shutdown flush: a future of the snapshot that covers every write so far, already
   * complete if there is nothing to flush, failed if the fork cannot flush.
   */
  CompletableFuture<Manifest> flushForShutdown(long permitWaitMs) {
    if (!lifecycle.isWritable()) {
      return CompletableFuture.failedFuture(StrataException.failedPrecondition("fork '" + forkName + "' cannot flush"));
    }
    PublishedSnapshot head = memTables.current().head();
    if (!memTables.hasUnflushedData(wal.lastLsn()) && flush.pendingFlushes() == 0) {
      return CompletableFuture.completedFuture(head == null ? null : head.manifest());
    }
    try {
      return tickets.await(requestFlush(permitWaitMs));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
