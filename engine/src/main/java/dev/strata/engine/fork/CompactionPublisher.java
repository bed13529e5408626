package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.compaction.CompactionHooks;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.flush.OrderedPublication;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentOrigin;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs one fork's finished compactions: each takes the next seq through the {@link
 * FlushCoordinator} (no permit) and is published by the fork's finalizer between the flushes, in
 * seq order, so the fork's snapshots stay one chain whatever publishes them.
 *
 * <h2>Rebase at publication</h2>
 *
 * At its turn the compaction looks at the head of that moment. If its run is still a contiguous run
 * of the head, the run is replaced by the merged segment ({@link SnapshotEdit#compaction}); the
 * liveness of every other segment is unchanged (the merged segment holds exactly the run's
 * surviving keys, so it shadows the same older documents), and the merged segment's is patched
 * with the flushes published above the run since the job read the head. Otherwise (a newer
 * compaction, a drop, close) it aborts and its segment is deleted.
 *
 * <h2>Failure</h2>
 *
 * A manifest that fails before its rename is a clean failure: the seq stays a gap (seqs need not be
 * dense), the fork goes on, the job reports the error. One that fails in doubt fails the pipeline
 * like a flush's (the fork turns read-only; recovery decides from what is on disk).
 *
 * <p>Thread-safe: {@link #publish} runs on any compaction thread and returns at once; the install
 * runs on the fork's finalizer.
 */
final class CompactionPublisher {
  private static final Logger log = LoggerFactory.getLogger(CompactionPublisher.class);

  private final ForkContext ctx;
  private final ForkEntry entry;
  private final MemTables memTables;
  private final SnapshotChain chain;
  private final FlushCoordinator<L0Buffer, FlushOutput> flush;
  private final SnapshotWatchers watchers;
  private final WriteController writeController;
  private final ForkLifecycle lifecycle;

  private final AtomicLong published = new AtomicLong();
  private final AtomicLong aborted = new AtomicLong();
  private final AtomicLong bytesWritten = new AtomicLong();
  private volatile String lastError;
  private volatile long lastErrorTimeMs;

  CompactionPublisher(
      ForkContext ctx,
      ForkEntry entry,
      MemTables memTables,
      SnapshotChain chain,
      FlushCoordinator<L0Buffer, FlushOutput> flush,
      SnapshotWatchers watchers,
      WriteController writeController,
      ForkLifecycle lifecycle) {
    this.ctx = ctx;
    this.entry = entry;
    this.memTables = memTables;
    this.chain = chain;
    this.flush = flush;
    this.watchers = watchers;
    this.writeController = writeController;
    this.lifecycle = lifecycle;
  }

  /**
   * Queues {@code out}'s publication on the fork's finalizer, after every flush rotated before it
   * and before every later one; returns at once.
   *
   * @return completes with the result on the finalizer; never fails for an abort (the result says
   *     why), fails if the publication itself failed
   */
  CompletableFuture<CompactionResult> publish(CompactionOutput out) {
    CompletableFuture<CompactionResult> done = new CompletableFuture<>();
    OrderedPublication p =
        new OrderedPublication() {
          @Override
          public void publish(long seq) throws Exception {
            try {
              done.complete(install(seq, out));
            } catch (SnapshotChain.CleanPublishFailure e) {
              discard(out);
              failed(e.getCause());
              done.completeExceptionally(e.getCause());
            } catch (Throwable t) {
              done.completeExceptionally(t); // before abandon() could report an abort instead
              throw t;
            }
          }

          @Override
          public void abandon(Throwable why) {
            discard(out);
            done.complete(abort(out, "fork '" + entry.name() + "' stopped publishing: " + why.getMessage()));
          }
        };
    try {
      flush.submitOrdered(p);
    } catch (StrataException e) {
      discard(out);
      done.complete(abort(out, e.getMessage()));
    }
    return done;
  }

  /** Runs on the finalizer at the compaction's seq. */
  private CompactionResult install(long seq, CompactionOutput out) throws Exception {
    PublishedSnapshot head = memTables.current().head();
    List<String> runHex = new ArrayList<>();
    out.runIds().forEach(id -> runHex.add(SegmentStore.hex(id)));
    SnapshotEdit edit =
        SnapshotEdit.compaction(seq, runHex, SnapshotEdit.refOf(out.written(), SegmentOrigin.SEGMENT_ORIGIN_COMPACTION, entry.forkId()));
    Optional<Integer> start = head == null ? Optional.empty() : edit.runStart(head.manifest());
    if (start.isEmpty() || lifecycle.isClosed() || lifecycle.isDropping()) {
      discard(out);
      return abort(out, "its segments are no longer a contiguous run of the head");
    }
    int at = start.get();
    int end = at + out.runIds().size();
    LivenessMap liveness;
    try (SegmentPins pins = SegmentPins.of(head.segments())) {
      liveness = rebase(head, out, at); // reads the newer segments' keys: pinned meanwhile
    }
    // Handles first, so a failure leaks nothing and publishes nothing.
    List<Segment> segs = new ArrayList<>();
    List<Segment> headSegs = head.segments();
    try {
      for (int i = 0; i < headSegs.size(); i++) {
        if (i == at) {
          segs.add(out.merged());
        }
        if (i < at || i >= end) {
          segs.add(ctx.segments().acquireReference(headSegs.get(i).segmentId())); // logical: no fetch
        }
      }
    } catch (IOException | RuntimeException e) {
      segs.stream().filter(sg -> sg != out.merged()).forEach(Segment::release);
      throw new SnapshotChain.CleanPublishFailure(e instanceof IOException io ? io : new IOException(e)); // nothing published
    }
    Manifest m;
    try {
      m = chain.logAndApply(edit.applyTo(head.manifest(), entry, ctx.options().clock().millis()), List.of(out.merged().segmentId()));
    } catch (Exception e) {
      segs.stream().filter(sg -> sg != out.merged()).forEach(Segment::release);
      throw e;
    }
    ctx.segmentIds().settle(out.merged().segmentId());
    segs.replaceAll(Segment::asReference); // the head holds logical references: reads pin
    PublishedSnapshot snap = new PublishedSnapshot(m, segs, liveness);
    if (!memTables.installHead(snap, lifecycle::isClosed)) {
      snap.release();
      return abort(out, "fork '" + entry.name() + "' closed");
    }
    head.release();
    published.incrementAndGet();
    bytesWritten.addAndGet(out.written().sizeBytes());
    writeController.wake();
    watchers.announce(m);
    try {
      ctx.options().compactionHooks().at(entry.name(), CompactionHooks.Step.PUBLISHED);
    } catch (Exception e) {
      log.debug("fork={} compaction hook at PUBLISHED threw: {}", entry.name(), e.toString());
    }
    log.info(
        "fork={} compaction published {}: {} segments ({} bytes) -> 1 ({} bytes), head now {} segments",
        entry.name(), m.getId(), out.runIds().size(), out.bytesRead(), out.written().sizeBytes(), segs.size());
    return new CompactionResult(
        entry.name(), Optional.of(m), headSegs.size(), segs.size(), out.bytesRead(), out.written().sizeBytes(), null);
  }

  /** The liveness of the head with the run replaced by the merged segment (class comment). */
  private LivenessMap rebase(PublishedSnapshot head, CompactionOutput out, int runStart) throws IOException {
    Set<Long> keepIds = new HashSet<>();
    head.segments().forEach(s -> keepIds.add(s.segmentId()));
    keepIds.removeAll(out.runIds());
    LivenessMap liveness = head.liveness().retainOnly(keepIds);
    for (int i = runStart - 1; i >= 0; i--) {
      Segment newer = head.segments().get(i);
      if (!out.headIds().contains(newer.segmentId())) {
        liveness = liveness.withNewest(newer, List.of(out.merged()), ctx.segments());
      }
    }
    return liveness;
  }

  private CompactionResult abort(CompactionOutput out, String why) {
    aborted.incrementAndGet();
    writeController.wake();
    return new CompactionResult(entry.name(), Optional.empty(), out.headSegments(), out.headSegments(), out.bytesRead(), 0, why);
  }

  /** Deletes a compaction's segment that will not be published (its handle is released first). */
  void discard(CompactionOutput out) {
    chain.discardUnpublished(out.merged());
  }

  /** Records a failed compaction job for {@code Stats} ({@code last_error}). */
  void failed(Throwable t) {
    lastError = "compaction failed: " + t.getMessage();
    lastErrorTimeMs = ctx.options().clock().millis();
    writeController.wake();
  }

  long publishedCount() {
    return published.get();
  }

  long abortedCount() {
    return aborted.get();
  }

  long bytesWritten() {
    return bytesWritten.get();
  }

  String lastError() {
    return lastError;
  }

  long lastErrorTimeMs() {
    return lastErrorTimeMs;
  }
}
