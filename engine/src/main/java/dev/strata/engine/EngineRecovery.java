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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 *       gone, recover the rest ({@link Fork#open}: chain check, WAL replay).
 *   <li>Delete segments no manifest refers to (leftovers of unpublished flushes and compactions,
 *       and of GC deletions a crash cut short) — unless a fork has an unreadable manifest, which
 *       may name segments no readable one does.
 * </ol>
 *
 * <p>Runs once, on the thread that opens the engine.
 */
final class EngineRecovery {
  private static final Logger log = LoggerFactory.getLogger(EngineRecovery.class);

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
    entries.sort(Comparator.comparingInt(e -> baseDepth(e, byId)));
    for (ForkEntry entry : entries) {
      openOne(entry);
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

  private void openOne(ForkEntry entry) throws IOException {
    if (entry.state() == ForkState.DROPPING) {
      log.info("fork={} id={} was being dropped at the crash: finishing the drop", entry.name(), entry.forkId());
      ctx.vfs().deleteRecursively(ctx.forkDir(entry.forkId()));
      forks.removeFromCatalog(entry.forkId());
      return;
    }
    Manifest base = null;
    if (!entry.baseSnapshotId().isEmpty()) {
      base = forks.findManifest(entry.baseSnapshotId()).orElse(null);
      if (base == null && !Fork.hasManifest(ctx, entry)) {
        log.warn(
            "fork={} id={} was never completed and its base {} is gone: removing it",
            entry.name(), entry.forkId(), entry.baseSnapshotId());
        forks.abandon(entry);
        return;
      }
    }
    forks.add(Fork.open(ctx, entry, base));
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
