package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.ForkContext;
import dev.strata.engine.fork.SegmentIdAllocator;
import dev.strata.engine.segment.OrphanCleanup;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.CatalogConflictException;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ForkState;
import dev.strata.manifest.proto.Manifest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens every fork of a data directory after a restart or a crash (SPEC §5.6), before any flush,
 * compaction or GC may run.
 *
 * <h2>Steps</h2>
 *
 * <ol>
 *   <li>Delete every compaction job directory (no job runs yet; a crashed one left it).
 *   <li>Create {@code main} if the catalog has no forks.
 *   <li>Open the forks, a fork's base fork before it (a fork whose creation was cut short gets its
 *       first manifest from its base's): finish interrupted drops, remove creations whose base is
 *       gone, recover the rest ({@link Fork#open}: chain check, WAL replay). Forks at the same
 *       depth of the base tree (all of whose bases are open) open in parallel, at most one thread
 *       per core ({@code strata-recovery-N}, stopped before {@link #recover} returns): each fork
 *       replays its own WAL on its own thread.
 *   <li>Delete segments no manifest refers to (leftovers of unpublished flushes and compactions,
 *       and of GC deletions a crash cut short) — unless a fork has an unreadable manifest, which
 *       may name segments no readable one does.
 * </ol>
 *
 * <p>Runs once, on the thread that opens the engine (and its recovery threads).
 */
final class EngineRecovery {
  private static final Logger log = LoggerFactory.getLogger(EngineRecovery.class);
  /** Bound on waiting for the recovery threads to stop once every fork opened (or one failed). */
  private static final long POOL_STOP_TIMEOUT_MS = 10_000;

  private final ForkContext ctx;
  private final ForkCatalog catalog;
  private final SegmentStore segments;
  private final SegmentIdAllocator segmentIds;
  private final ForkRegistry forks;
  private final RetentionService retention;

  EngineRecovery(
      ForkContext ctx,
      ForkCatalog catalog,
      SegmentStore segments,
      SegmentIdAllocator segmentIds,
      ForkRegistry forks,
      RetentionService retention) {
    this.ctx = ctx;
    this.catalog = catalog;
    this.segments = segments;
    this.segmentIds = segmentIds;
    this.forks = forks;
    this.retention = retention;
  }

  /** Runs every step; on return the forks are open and registered, their timers not started. */
  void recover() throws IOException {
    segments.deleteJobDirectories();
    Set<Long> onDisk = segments.segmentIdsOnDisk();
    segmentIds.advanceTo(onDisk.stream().mapToLong(Long::longValue).max().orElse(0) + 1);
    if (catalog.byName(StrataEngine.MAIN).isEmpty()) {
      try {
        catalog.put(ForkEntry.create(StrataEngine.MAIN, "", ctx.options().clock().millis()));
      } catch (CatalogConflictException ex) {
        throw new IOException("cannot create fork main", ex);
      }
    }
    List<ForkEntry> entries = new ArrayList<>(catalog.current().forks());
    Map<String, ForkEntry> byId = new HashMap<>();
    entries.forEach(e -> byId.put(e.forkId(), e));
    TreeMap<Integer, List<ForkEntry>> levels = new TreeMap<>();
    for (ForkEntry e : entries) {
      levels.computeIfAbsent(baseDepth(e, byId), d -> new ArrayList<>()).add(e);
    }
    int threads = Math.min(maxLevelSize(levels), Math.max(1, Runtime.getRuntime().availableProcessors()));
    ExecutorService pool = threads > 1 ? newRecoveryPool(threads) : null;
    try {
      for (List<ForkEntry> level : levels.values()) {
        openLevel(level, pool);
      }
    } finally {
      if (pool != null) {
        pool.shutdownNow();
        awaitQuietly(pool);
      }
    }
    Set<Long> referenced = retention.referencedSegments();
    segmentIds.advanceTo(referenced.stream().mapToLong(Long::longValue).max().orElse(0) + 1);
    List<String> unknown = forks.openForks().stream().filter(f -> !f.segmentsKnown()).map(Fork::name).toList();
    if (!unknown.isEmpty()) {
      log.warn("fork(s) {} have unreadable manifests: the orphan sweep is skipped until they are repaired", unknown);
      return;
    }
    OrphanCleanup cleanup = segments.deleteOrphans(referenced);
    if (!cleanup.isEmpty()) {
      log.info("recovery deleted orphan segments of unpublished flushes: {}", cleanup);
    }
  }

  /** A fork to open, with its base snapshot's manifest if it needs one. */
  private record ToOpen(ForkEntry entry, Manifest base) {}

  /**
   * Opens the forks of one base depth: their bases are open already. Drops and abandoned creations
   * are finished first, on this thread (they change the catalog); then the forks open in parallel
   * on {@code pool} (each replays its own WAL; they share nothing but the segment store) and are
   * registered in catalog order. If one fails, the others of the level are closed and the first
   * failure is thrown.
   */
  private void openLevel(List<ForkEntry> level, ExecutorService pool) throws IOException {
    List<ToOpen> toOpen = new ArrayList<>();
    for (ForkEntry entry : level) {
      ToOpen t = prepare(entry);
      if (t != null) {
        toOpen.add(t);
      }
    }
    if (pool == null || toOpen.size() < 2) {
      for (ToOpen t : toOpen) {
        forks.add(Fork.open(ctx, t.entry(), t.base()));
      }
      return;
    }
    List<Future<Fork>> opening = new ArrayList<>();
    for (ToOpen t : toOpen) {
      opening.add(pool.submit(() -> Fork.open(ctx, t.entry(), t.base())));
    }
    List<Fork> opened = new ArrayList<>();
    Throwable first = null;
    for (Future<Fork> f : opening) {
      try {
        opened.add(f.get());
      } catch (ExecutionException e) {
        first = addFailure(first, e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        first = addFailure(first, new InterruptedIOException("interrupted while forks were opening"));
      }
    }
    if (first != null) {
      for (Fork f : opened) {
        f.close();
      }
      if (first instanceof IOException io) {
        throw io;
      }
      if (first instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException("opening a fork failed", first);
    }
    opened.forEach(forks::add);
  }

  private static Throwable addFailure(Throwable first, Throwable next) {
    if (first == null) {
      return next;
    }
    first.addSuppressed(next);
    return first;
  }

  /**
   * Finishes a drop or removes a creation whose base is gone (returns null), or says what to open.
   */
  private ToOpen prepare(ForkEntry entry) throws IOException {
    if (entry.state() == ForkState.DROPPING) {
      log.info("fork={} id={} was being dropped at the crash: finishing the drop", entry.name(), entry.forkId());
      ctx.vfs().deleteRecursively(ctx.forkDir(entry.forkId()));
      forks.removeFromCatalog(entry.forkId());
      return null;
    }
    Manifest base = null;
    if (!entry.baseSnapshotId().isEmpty()) {
      base = forks.findManifest(entry.baseSnapshotId()).orElse(null);
      if (base == null && !Fork.hasManifest(ctx, entry)) {
        log.warn(
            "fork={} id={} was never completed and its base {} is gone: removing it",
            entry.name(), entry.forkId(), entry.baseSnapshotId());
        forks.abandon(entry);
        return null;
      }
    }
    return new ToOpen(entry, base);
  }

  private static int maxLevelSize(Map<Integer, List<ForkEntry>> levels) {
    int max = 0;
    for (List<ForkEntry> l : levels.values()) {
      max = Math.max(max, l.size());
    }
    return max;
  }

  /**
   * The threads that open forks in parallel during this recovery: {@code strata-recovery-N}, at
   * most one per core, owned by {@link #recover} and shut down before it returns.
   */
  private static ExecutorService newRecoveryPool(int threads) {
    AtomicInteger n = new AtomicInteger();
    return Executors.newFixedThreadPool(
        threads,
        r -> {
          Thread t = new Thread(r, "strata-recovery-" + n.getAndIncrement());
          t.setDaemon(true);
          return t;
        });
  }

  private static void awaitQuietly(ExecutorService pool) {
    try {
      if (!pool.awaitTermination(POOL_STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
        log.warn("recovery threads did not stop within {} ms", POOL_STOP_TIMEOUT_MS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** How many forks lie between {@code e} and a root along base snapshots (cycles cut). */
  private static int baseDepth(ForkEntry e, Map<String, ForkEntry> byId) {
    int depth = 0;
    ForkEntry cur = e;
    while (cur != null && !cur.baseSnapshotId().isEmpty() && depth <= byId.size()) {
      cur = byId.get(Fork.forkIdOf(cur.baseSnapshotId()));
      depth++;
    }
    return depth;
  }
}
