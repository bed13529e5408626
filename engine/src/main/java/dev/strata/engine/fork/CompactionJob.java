package dev.strata.engine.fork;

import dev.strata.engine.compaction.CompactionHooks;
import dev.strata.engine.compaction.CompactionPolicy;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.WriteRateLimiter;
import dev.strata.engine.segment.WrittenSegment;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One compaction of one fork: pick a run of the head ({@link CompactionPolicy}, or all of it),
 * merge it into a new segment in a private job directory ({@link SegmentStore#merge}), ingest it,
 * and queue its publication on the fork's finalizer ({@link Fork#publishCompaction}).
 *
 * <p>Holds no lock of the fork while it merges: it reads an immutable head snapshot it took a
 * reference on, so writers, flushes and readers go on. The job directory is created exclusively by
 * this job and deleted by it, on success and on failure; nothing else ever touches it. A crash at
 * any step leaves only a job directory (removed at open) and a segment no manifest names (removed
 * by the orphan sweep at open).
 */
public final class CompactionJob {
  private static final Logger log = LoggerFactory.getLogger(CompactionJob.class);

  private CompactionJob() {}

  /**
   * Runs the merge on the calling thread; the returned future completes when the finalizer has
   * published (or aborted) it.
   *
   * @param full merge every segment of the head into one (the {@code Compact} RPC with {@code
   *     force_full_merge}); otherwise ask the policy
   * @param limiter shared write-rate limit, or null
   * @param cancelled polled during the merge (engine shutdown)
   * @throws IOException if the merge fails; the new segment and the job directory are gone then
   */
  public static CompletableFuture<CompactionResult> run(
      Fork fork, boolean full, CompactionPolicy policy, WriteRateLimiter limiter, BooleanSupplier cancelled)
      throws Exception {
    ForkContext ctx = fork.context();
    SegmentStore store = ctx.segments();
    CompactionHooks hooks = ctx.options().compactionHooks();
    PublishedSnapshot head = fork.acquireHead();
    if (head == null) {
      return CompletableFuture.completedFuture(CompactionResult.nothing(fork.name(), 0));
    }
    try {
      int n = head.segments().size();
      Optional<CompactionPolicy.Run> pick;
      if (full) {
        boolean garbage = n == 1 && hasGarbage(head);
        pick = garbage ? Optional.of(new CompactionPolicy.Run(0, 1)) : CompactionPolicy.full(n);
      } else {
        List<Long> sizes = new ArrayList<>();
        head.manifest().getSegmentsList().forEach(r -> sizes.add(r.getSizeBytes()));
        pick = policy.pick(sizes);
      }
      if (pick.isEmpty()) {
        return CompletableFuture.completedFuture(CompactionResult.nothing(fork.name(), n));
      }
      CompactionPolicy.Run run = pick.get();
      List<Segment> runSegments = head.segments().subList(run.start(), run.end());
      List<Long> runIds = new ArrayList<>();
      runSegments.forEach(s -> runIds.add(s.segmentId()));
      Set<Long> headIds = new HashSet<>();
      head.segments().forEach(s -> headIds.add(s.segmentId()));
      long bytesRead = 0;
      for (int i = run.start(); i < run.end(); i++) {
        bytesRead += head.manifest().getSegments(i).getSizeBytes();
      }
      // Only with nothing older left in the manifest may a tombstone go.
      boolean dropTombstones = run.end() == n;

      long segmentId = ctx.segmentIds().allocate();
      Path jobDir = null;
      Segment merged;
      WrittenSegment written;
      try {
        jobDir = store.createJobDirectory("compaction-" + SegmentStore.hex(segmentId));
        hooks.at(fork.name(), CompactionHooks.Step.STARTED);
        try (SegmentPins pins = SegmentPins.of(runSegments)) { // the run is read whole: pinned local
          written = store.merge(segmentId, runSegments, head.liveness(), dropTombstones, jobDir, limiter, cancelled);
        }
        hooks.at(fork.name(), CompactionHooks.Step.MERGED);
        store.ingest(written);
        hooks.at(fork.name(), CompactionHooks.Step.INGESTED);
        merged = store.acquire(segmentId);
      } catch (Throwable t) {
        try {
          store.discard(segmentId);
        } catch (IOException | RuntimeException e) {
          t.addSuppressed(e);
        } finally {
          ctx.segmentIds().settle(segmentId);
        }
        throw t;
      } finally {
        if (jobDir != null) {
          try {
            ctx.vfs().deleteRecursively(jobDir);
          } catch (IOException | RuntimeException e) {
            log.warn("fork={} could not delete its compaction directory {} (removed at the next open): {}",
                fork.name(), jobDir, e.toString());
          }
        }
      }
      try {
        hooks.at(fork.name(), CompactionHooks.Step.BEFORE_PUBLISH);
      } catch (Throwable t) {
        CompactionOutput out = new CompactionOutput(merged, written, runIds, headIds, n, bytesRead);
        fork.discardUnpublished(out);
        throw t;
      }
      return fork.publishCompaction(
          new CompactionOutput(merged, written, runIds, headIds, n, bytesRead));
    } finally {
      head.release();
    }
  }

  /** True if a single segment still holds tombstones or shadowed documents worth dropping. */
  private static boolean hasGarbage(PublishedSnapshot head) {
    var ref = head.manifest().getSegments(0);
    return ref.getTombstoneCount() > 0
        || head.liveness().deadDocCount(head.segments().get(0).segmentId()) > 0;
  }
}
