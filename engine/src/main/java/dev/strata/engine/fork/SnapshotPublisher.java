package dev.strata.engine.fork;

import dev.strata.engine.flush.FlushTask;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LiveDocCounter;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.WrittenSegment;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The finalize phase of one fork's flushes (SPEC §2.5): turns a stream phase's output into the
 * fork's next snapshot, on the fork's finalizer, one at a time, in seq order.
 *
 * <h2>Steps</h2>
 *
 * <ol>
 *   <li>Rebase the liveness on the head of this moment: the stream phase computed it against the
 *       head it saw; segments published since may hold documents the new segment shadows.
 *   <li>Count the live documents per collection ({@link LiveDocCounter}), build the next manifest
 *       with a {@link SnapshotEdit} and write it durably ({@link SnapshotChain#logAndApply}).
 *   <li>Install it as the head and drop the flushed buffer from the read path, in one swap ({@link
 *       MemTables#installFlush}).
 *   <li>Tell the watchers and resolve the tickets.
 *   <li>Let the WAL truncate below the covered LSN; a truncation failure turns the fork read-only
 *       (the WAL is failed for good, fsyncgate), but the snapshot is published and its tickets
 *       are resolved.
 *   <li>Run the publish listener (the compaction trigger).
 * </ol>
 *
 * <p>Confined to the fork's finalizer (a sequential executor), so it needs no lock of its own; the
 * counters it keeps are read by {@code Stats} from any thread.
 */
final class SnapshotPublisher {
  private static final Logger log = LoggerFactory.getLogger(SnapshotPublisher.class);

  private final ForkContext ctx;
  private final ForkEntry entry;
  private final WalWriter wal;
  private final MemTables memTables;
  private final SnapshotChain chain;
  private final CollectionRegistry collections;
  private final ForkTickets tickets;
  private final SnapshotWatchers watchers;
  private final ForkLifecycle lifecycle;
  private final Runnable afterPublish;
  private final MergeLog merges;

  /** Live documents per collection, recounted only for segments whose liveness changed. */
  private final LiveDocCounter liveDocs = new LiveDocCounter();

  private final AtomicLong flushBytesWritten = new AtomicLong();
  private volatile long lastFlushDurationMs;

  /**
   * @param afterPublish runs last, after every flush publication (must return quickly)
   * @param merges three-way merges waiting for the snapshot that covers their commit, and the WAL
   *     truncation floor of a merge in progress
   */
  SnapshotPublisher(
      ForkContext ctx,
      ForkEntry entry,
      WalWriter wal,
      MemTables memTables,
      SnapshotChain chain,
      CollectionRegistry collections,
      ForkTickets tickets,
      SnapshotWatchers watchers,
      ForkLifecycle lifecycle,
      Runnable afterPublish,
      MergeLog merges) {
    this.ctx = ctx;
    this.entry = entry;
    this.wal = wal;
    this.memTables = memTables;
    this.chain = chain;
    this.collections = collections;
    this.tickets = tickets;
    this.watchers = watchers;
    this.lifecycle = lifecycle;
    this.afterPublish = afterPublish;
    this.merges = merges;
  }

  /** Publishes one flush: the coordinator's finalize phase. */
  void publish(FlushTask<L0Buffer> task, FlushOutput out) throws Exception {
    PublishedSnapshot head = memTables.current().head();
    LivenessMap liveness = head == null ? LivenessMap.empty() : head.liveness();
    List<Long> newIds = new ArrayList<>();
    WrittenSegment w = out.written();
    Map<String, Long> live;
    // The liveness pass and the live-document count read the head's segments: pinned meanwhile
    // (with a remote source an evicted one is fetched; the counts of unchanged segments are cached).
    try (SegmentPins pins = SegmentPins.of(head == null ? List.of() : head.segments())) {
      if (out.segment() != null) {
        liveness = rebase(liveness, head == null ? List.of() : head.segments(), out);
        newIds.add(w.segmentId());
      }
      List<Segment> newSegments = new ArrayList<>();
      if (out.segment() != null) {
        newSegments.add(out.segment());
      }
      if (head != null) {
        newSegments.addAll(head.segments());
      }
      live = liveDocs.count(newSegments, liveness);
    }
    List<CollectionDef> defs = new ArrayList<>();
    for (CollectionRegistry.Collection c : collections.asOf(task.coveredLsn())) {
      defs.add(CollectionRegistry.toDef(c).toBuilder().setLiveDocCount(live.getOrDefault(c.name(), 0L)).build());
    }
    SnapshotEdit edit =
        SnapshotEdit.flush(
            task.seq(),
            task.coveredLsn(),
            w == null ? null : SnapshotEdit.refOf(w, SegmentOrigin.SEGMENT_ORIGIN_FLUSH, entry.forkId()),
            defs)
            .withMerges(merges.committedUpTo(task.coveredLsn()));
    Manifest next = edit.applyTo(head == null ? null : head.manifest(), entry, ctx.options().clock().millis());
    ctx.options().hooks().beforePublish(entry.name(), task.seq());
    // The new snapshot pins its own references, taken before the manifest is durable so that a
    // failure here leaks nothing and leaves the head as it was: the new segment's handle moves
    // over from the stream output, older segments are acquired again (the old head releases its
    // own below).
    List<Segment> older = head == null ? List.of() : head.segments();
    List<Segment> segs = new ArrayList<>();
    try {
      for (Segment s : older) {
        segs.add(ctx.segments().acquireReference(s.segmentId())); // logical: an evicted one stays remote
      }
    } catch (IOException | RuntimeException e) {
      segs.forEach(Segment::release);
      throw e;
    }
    Manifest m;
    try {
      m = chain.logAndApply(next, newIds);
    } catch (Exception e) {
      segs.forEach(Segment::release);
      throw e;
    }
    newIds.forEach(ctx.segmentIds()::settle);
    merges.published(task.coveredLsn());
    if (w != null) {
      flushBytesWritten.addAndGet(w.sizeBytes());
    }
    if (out.segment() != null) {
      segs.add(0, out.segment());
    }
    segs.replaceAll(Segment::asReference); // the head holds logical references: reads pin
    PublishedSnapshot snap = new PublishedSnapshot(m, segs, liveness);
    if (!memTables.installFlush(snap, task.payload(), lifecycle::isClosed)) {
      snap.release();
      return;
    }
    if (head != null) {
      head.release();
    }
    lastFlushDurationMs = task.ageMs();
    // Watchers, then tickets, both before the truncation: the snapshot is published, so tickets
    // it covers resolve to it even if the truncation below turns the fork read-only (SPEC §5.9);
    // and whoever a ticket wakes sees the watchers already told.
    watchers.announce(m);
    tickets.published(task.coveredLsn(), m);
    try {
      // A merge in progress (or not yet covered) keeps the records it may be replayed from.
      wal.truncateBefore(Math.min(task.coveredLsn() + 1, merges.truncationFloor()));
    } catch (IOException e) {
      // No acknowledged write is lost (the snapshot is published), but the WAL is failed for good
      // (fsyncgate rule), so the fork stops taking writes now rather than at its next write.
      lifecycle.turnReadOnly("WAL truncation below LSN " + (task.coveredLsn() + 1) + " failed: " + e.getMessage());
    }
    try {
      afterPublish.run();
    } catch (RuntimeException e) {
      log.warn("fork={} publish listener failed: {}", entry.name(), e.toString());
    }
  }

  /**
   * The new manifest's liveness: the stream phase's (against the head it saw) patched for the
   * segments published since, which the new segment may shadow too.
   */
  private LivenessMap rebase(LivenessMap headLiveness, List<Segment> headSegments, FlushOutput out)
      throws IOException {
    Set<Long> headIds = new HashSet<>();
    List<Segment> newcomers = new ArrayList<>();
    for (Segment s : headSegments) {
      headIds.add(s.segmentId());
      if (!out.baseSegmentIds().contains(s.segmentId())) {
        newcomers.add(s);
      }
    }
    LivenessMap liveness = headLiveness.and(out.liveness()).retainOnly(headIds);
    if (!newcomers.isEmpty()) {
      liveness = liveness.withNewest(out.segment(), newcomers, ctx.segments());
    }
    return liveness;
  }

  /** Cleans up a flush output that will never be published (the coordinator's discarder). */
  void discard(FlushOutput out) {
    if (out.segment() != null) {
      chain.discardUnpublished(out.segment());
    }
  }

  /** Segment bytes written by flushes since the fork opened. */
  long flushBytesWritten() {
    return flushBytesWritten.get();
  }

  /** Rotate-to-publish time of the last published flush, ms (0 before the first). */
  long lastFlushDurationMs() {
    return lastFlushDurationMs;
  }
}
