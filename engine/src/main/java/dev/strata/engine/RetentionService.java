package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.SegmentIdAllocator;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retention and segment GC of one engine (SPEC §4): every {@code retention.interval} each fork
 * expires its snapshots past retention (keeping its head, tagged snapshots and the bases of
 * existing forks), then every segment no retained manifest of any fork refers to is marked
 * obsolete; the segment store deletes it once no reader holds it.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>One pass at a time, on {@code strata-gc}; periodic passes never pile up (a pass still
 *       queued or running makes the timer skip).
 *   <li>GC never deletes a segment a manifest may name: the disk is listed first, then the
 *       segments in flight ({@link SegmentIdAllocator}), then the referenced sets, so a segment on
 *       disk is in one of the last two whatever it did in between; and GC is off entirely while
 *       any fork has an unreadable manifest.
 *   <li>A tag or fork base registered during a pass is never expired ({@link RetentionGate}).
 * </ol>
 *
 * <p>Thread-safe.
 */
final class RetentionService {
  private static final Logger log = LoggerFactory.getLogger(RetentionService.class);
  private static final long RUN_NOW_TIMEOUT_MINUTES = 5;

  private final ForkRegistry forks;
  private final ForkCatalog catalog;
  private final SegmentStore segments;
  private final SegmentIdAllocator segmentIds;
  private final RetentionGate gate;
  private final RetentionOptions options;
  private final ExecutorService gcExecutor;
  private final LongSupplier clockMs;

  private final AtomicLong snapshotsExpired = new AtomicLong();
  private final AtomicLong segmentsCollected = new AtomicLong();
  /** A periodic pass is queued or running (invariant 1). */
  private final AtomicBoolean passQueued = new AtomicBoolean();
  private volatile boolean stopped;

  /** @param clockMs the time retention compares snapshot ages with, ms since the epoch */
  RetentionService(
      ForkRegistry forks,
      ForkCatalog catalog,
      SegmentStore segments,
      SegmentIdAllocator segmentIds,
      RetentionGate gate,
      RetentionOptions options,
      ExecutorService gcExecutor,
      LongSupplier clockMs) {
    this.forks = forks;
    this.catalog = catalog;
    this.segments = segments;
    this.segmentIds = segmentIds;
    this.gate = gate;
    this.options = options;
    this.gcExecutor = gcExecutor;
    this.clockMs = clockMs;
  }

  /** Schedules the periodic pass on {@code scheduler} every {@code retention.interval}. */
  void start(ScheduledExecutorService scheduler) {
    long every = options.intervalMs();
    scheduler.scheduleWithFixedDelay(this::queuePass, every, every, TimeUnit.MILLISECONDS);
  }

  /** Stops passes from starting (engine close); a running pass finishes. */
  void stop() {
    stopped = true;
  }

  private void queuePass() {
    if (!passQueued.compareAndSet(false, true)) {
      return; // the previous pass is still queued or running: do not pile them up
    }
    try {
      gcExecutor.execute(
          () -> {
            try {
              pass();
            } finally {
              passQueued.set(false);
            }
          });
    } catch (RejectedExecutionException e) {
      passQueued.set(false); // closing
    }
  }

  /**
   * Runs one pass now and waits for it and for the segment deletions it queued (tests and
   * operators who want the disk back now; segments a reader still holds stay until it releases).
   *
   * @throws StrataException IO_ERROR if it failed, DEADLINE_EXCEEDED after 5 minutes,
   *     UNAVAILABLE if interrupted
   */
  void runNow() {
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(RUN_NOW_TIMEOUT_MINUTES);
      gcExecutor.submit(this::pass).get(RUN_NOW_TIMEOUT_MINUTES, TimeUnit.MINUTES);
      long leftMs = Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
      if (!segments.awaitDeletions(leftMs)) {
        throw new TimeoutException("segment deletions still pending");
      }
    } catch (ExecutionException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "retention failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw StrataException.of(StrataException.Kind.DEADLINE_EXCEEDED, "retention pass took longer than 5 minutes");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    } catch (RejectedExecutionException e) {
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "the engine is closed");
    }
  }

  /** One pass: expire, then collect. On {@code strata-gc}. */
  private void pass() {
    if (stopped) {
      return;
    }
    Set<String> protectedIds = new HashSet<>(catalog.current().tags().values());
    for (ForkEntry e : catalog.current().forks()) {
      if (!e.baseSnapshotId().isEmpty()) {
        protectedIds.add(e.baseSnapshotId());
      }
    }
    long now = clockMs.getAsLong();
    int expired = 0;
    for (Fork f : forks.openForks()) {
      try {
        expired += f.expireSnapshots(protectedIds, options, now, gate::confirmExpiry, gate::expired);
      } catch (IOException | RuntimeException e) {
        log.warn("fork={} retention failed (retried next pass): {}", f.name(), e.toString());
      }
    }
    snapshotsExpired.addAndGet(expired);
    int collected = collectGarbage();
    if (expired > 0 || collected > 0) {
      log.info("retention: {} snapshots expired, {} segments no longer referenced", expired, collected);
    }
  }

  /**
   * Marks every segment no retained manifest of any fork refers to as obsolete (invariant 2); the
   * store deletes each once the last reader releases it.
   *
   * @return how many segments were marked
   */
  int collectGarbage() {
    for (Fork f : forks.openForks()) {
      if (!f.segmentsKnown()) {
        log.warn("fork={} has an unreadable manifest: segment GC is off until it is repaired", f.name());
        return 0;
      }
    }
    int n = 0;
    try {
      Set<Long> onDisk = segments.segmentIdsOnDisk();
      Set<Long> inFlight = segmentIds.inFlight();
      Set<Long> referenced = referencedSegments();
      for (long id : onDisk) {
        if (!referenced.contains(id) && !inFlight.contains(id)) {
          segments.markObsolete(id);
          n++;
          segmentsCollected.incrementAndGet();
        }
      }
    } catch (IOException e) {
      // GC is retried by the next pass, drop or restart; nothing referenced is touched.
      log.warn("segment GC failed: {}", e.toString());
    }
    return n;
  }

  /** Every segment a retained manifest of an open fork, or a fork being created, refers to. */
  Set<Long> referencedSegments() {
    Set<Long> out = forks.pinnedSegments();
    for (Fork f : forks.openForks()) {
      out.addAll(f.referencedSegments());
    }
    return out;
  }

  /** Snapshots expired since the engine opened. */
  long snapshotsExpired() {
    return snapshotsExpired.get();
  }

  /** Segments marked obsolete since the engine opened. */
  long segmentsCollected() {
    return segmentsCollected.get();
  }
}
