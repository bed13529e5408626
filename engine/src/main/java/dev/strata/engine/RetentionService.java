package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.RetainedSnapshot;
import dev.strata.engine.fork.SegmentIdAllocator;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.retention.RetentionPolicy;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
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
  private final SegmentStore segments;
  private final SegmentIdAllocator segmentIds;
  private final RetentionGate gate;
  private final RetentionOptions options;
  private final ExecutorService gcExecutor;
  private final LongSupplier clockMs;

  /** Extra snapshot ids to keep (e.g. snapshots the object-storage tier has not uploaded yet). */
  private final CopyOnWriteArrayList<Supplier<Set<String>>> pins =
      new CopyOnWriteArrayList<>();
  private final AtomicLong snapshotsExpired = new AtomicLong();
  private final AtomicLong segmentsCollected = new AtomicLong();
  private final AtomicLong expiredForSpace = new AtomicLong();
  private volatile StrataEngine.SpaceUsage space = new StrataEngine.SpaceUsage(0, 0, Long.MAX_VALUE, 0);
  /** Confined to strata-gc. */
  private long lastOverBoundWarnNanos;
  /** A periodic pass is queued or running (invariant 1). */
  private final AtomicBoolean passQueued = new AtomicBoolean();
  private volatile boolean stopped;

  /** @param clockMs the time retention compares snapshot ages with, ms since the epoch */
  RetentionService(
      ForkRegistry forks,
      SegmentStore segments,
      SegmentIdAllocator segmentIds,
      RetentionGate gate,
      RetentionOptions options,
      ExecutorService gcExecutor,
      LongSupplier clockMs) {
    this.forks = forks;
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

  /**
   * Adds a pin: every pass keeps the snapshots whose ids {@code pin} returns then (and so their
   * segments), as it keeps tagged snapshots. Called on {@code strata-gc}; must not block long.
   */
  void addPin(Supplier<Set<String>> pin) {
    pins.add(pin);
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
    Set<String> protectedIds = new HashSet<>(gate.kept());
    for (Supplier<Set<String>> pin : pins) {
      try {
        protectedIds.addAll(pin.get());
      } catch (RuntimeException e) {
        log.warn("retention pin failed, skipping this pass: {}", e.toString());
        return; // without the pin, a snapshot it protects could expire
      }
    }
    long now = clockMs.getAsLong();
    int expired = 0;
    for (Fork f : forks.openForks()) {
      try {
        expired += f.retention().expire(protectedIds, options, now, gate::confirmExpiry, gate::expired);
      } catch (IOException | RuntimeException e) {
        log.warn("fork={} retention failed (retried next pass): {}", f.name(), e.toString());
      }
    }
    expired += expireForSpace(protectedIds); // also measures retained and live bytes for Stats
    snapshotsExpired.addAndGet(expired);
    int collected = collectGarbage();
    if (expired > 0 || collected > 0) {
      log.info("retention: {} snapshots expired, {} segments no longer referenced", expired, collected);
    }
  }

  /**
   * The space bound ({@code retention.max_bytes}, {@code retention.max_space_amplification}):
   * while the distinct segments of every retained snapshot take more than the bound, the oldest
   * snapshots that are neither a head, tagged nor a fork base expire early ({@link
   * RetentionPolicy#overSpaceBound}). Logs a warning (at most every 10 minutes) when pinned
   * snapshots alone exceed the bound.
   *
   * @return how many snapshots it expired
   */
  private int expireForSpace(Set<String> protectedIds) {
    List<RetentionPolicy.Retained> all = new ArrayList<>();
    Map<Long, Long> live = new HashMap<>();
    Map<String, Fork> byName = new HashMap<>();
    for (Fork f : forks.openForks()) {
      byName.put(f.name(), f);
      String headId = f.head().map(Manifest::getId).orElse("");
      for (RetainedSnapshot r : f.retainedSnapshots()) {
        boolean head = r.id().equals(headId);
        if (head) {
          live.putAll(r.segmentBytes());
        }
        all.add(new RetentionPolicy.Retained(f.name(), r.id(), r.createTimeMs(), r.segmentBytes(), head || protectedIds.contains(r.id())));
      }
    }
    long liveBytes = sum(live);
    long bound = options.spaceBoundBytes(liveBytes);
    List<RetentionPolicy.Retained> going = RetentionPolicy.overSpaceBound(all, bound);
    Map<String, List<String>> idsByFork = new HashMap<>();
    going.forEach(r -> idsByFork.computeIfAbsent(r.forkName(), k -> new ArrayList<>()).add(r.id()));
    int expired = 0;
    for (Map.Entry<String, List<String>> e : idsByFork.entrySet()) {
      try {
        expired += byName.get(e.getKey()).retention().expire(e.getValue(), gate::confirmExpiry, gate::expired);
      } catch (IOException | RuntimeException ex) {
        log.warn("fork={} space-bound retention failed (retried next pass): {}", e.getKey(), ex.toString());
      }
    }
    Map<Long, Long> left = new HashMap<>();
    Set<String> goingIds = new HashSet<>();
    going.forEach(r -> goingIds.add(r.id()));
    all.stream().filter(r -> !goingIds.contains(r.id())).forEach(r -> left.putAll(r.segmentBytes()));
    long after = sum(left);
    space = new StrataEngine.SpaceUsage(after, liveBytes, bound, expiredForSpace.addAndGet(expired));
    if (expired > 0) {
      log.info("retention: {} snapshots expired early to bring retained segments under {} bytes", expired, bound);
    }
    long now = System.nanoTime();
    if (after > bound && now - lastOverBoundWarnNanos > TimeUnit.MINUTES.toNanos(10)) {
      lastOverBoundWarnNanos = now;
      log.warn(
          "retention: retained segments take {} bytes, above the space bound of {} bytes, and only heads,"
              + " tagged snapshots and fork bases are left to hold them: delete tags or drop forks to reclaim",
          after, bound);
    }
    return expired;
  }

  private static long sum(Map<Long, Long> bytes) {
    return bytes.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Retained and live bytes and the bound, as of the last pass (zeros before the first). */
  StrataEngine.SpaceUsage spaceUsage() {
    return space;
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
