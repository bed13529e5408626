package dev.strata.engine;

import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeRequest;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code MergeFork} across forks: resolves the two forks, the source snapshot (optionally after a
 * flush of the source) and the merge base ({@link MergeBase}), keeps retention away from both while
 * the merge runs, and hands the target side to {@link Fork#merge}. Afterwards the target's
 * manifests record the merge ({@code Manifest.merges}) and retention keeps the recorded source
 * snapshot as it keeps a fork base ({@link #mergeSources}): it is the base of the next merge.
 *
 * <p>Thread-safe; runs on the caller's thread (an RPC thread). Takes no lock.
 */
final class ForkMerges {
  private final ForkRegistry forks;
  private final SegmentStore segments;
  private final RetentionGate gate;
  private final EngineOptions options;

  ForkMerges(ForkRegistry forks, SegmentStore segments, RetentionGate gate, EngineOptions options) {
    this.forks = forks;
    this.segments = segments;
    this.gate = gate;
    this.options = options;
  }

  /**
   * Merges (see {@link StrataEngine#mergeFork}).
   *
   * @throws StrataException as {@link StrataEngine#mergeFork} says
   */
  MergeResult merge(MergeSpec spec) {
    Fork source = forks.fork(spec.source());
    Fork target = spec.target() == null || spec.target().isEmpty() ? parentOf(source) : forks.fork(spec.target());
    if (source.id().equals(target.id())) {
      throw StrataException.invalid("a fork cannot be merged into itself ('" + source.name() + "')");
    }
    if (spec.expectedTargetHead() != null && !spec.expectedTargetHead().isEmpty()) {
      String head = target.head().map(Manifest::getId).orElse("");
      if (!head.equals(spec.expectedTargetHead())) {
        throw StrataException.failedPrecondition(
            "merge refused: the target moved: fork '" + target.name() + "' has head snapshot '" + head
                + "', not the expected '" + spec.expectedTargetHead() + "'");
      }
    }
    if (spec.flushSource()) {
      awaitFlushed(source, spec.timeoutMs());
    }
    PublishedSnapshot sourceHead = source.acquireHead();
    if (sourceHead == null) {
      throw StrataException.failedPrecondition("fork '" + source.name() + "' has no snapshot yet: flush it first");
    }
    try {
      Manifest targetHead =
          target.head()
              .orElseThrow(() -> noAncestor(source, target));
      String baseId =
          MergeBase.find(sourceHead.manifest(), targetHead, MergeBase.of(forks)).orElseThrow(() -> noAncestor(source, target));
      gate.protect(sourceHead.id());
      boolean held = false;
      try {
        gate.protect(baseId);
        try {
          PublishedSnapshot base = open(baseId);
          try {
            MergeResult r =
                target.merge(
                    new MergeRequest(
                        sourceHead, base, spec.strategy(), spec.dryRun(), spec.pageAfterCollection(), spec.pageAfterId(),
                        spec.pageSize()));
            if (r.ticket() != null && r.outcome() == MergeResult.Outcome.THREE_WAY) {
              // Keep the source snapshot until the manifest that records the merge is published.
              String id = sourceHead.id();
              try {
                target.awaitTicket(r.ticket()).whenComplete((m, e) -> gate.unprotect(id));
                held = true;
              } catch (StrataException gone) {
                // the target is gone or read-only: nothing will record the merge
              }
            }
            return r;
          } finally {
            base.release();
          }
        } finally {
          gate.unprotect(baseId);
        }
      } finally {
        if (!held) {
          gate.unprotect(sourceHead.id());
        }
      }
    } finally {
      sourceHead.release();
    }
  }

  /** The source snapshot ids every fork's head records as merged (retention keeps them). */
  Set<String> mergeSources() {
    Set<String> out = new HashSet<>();
    for (Fork f : forks.openForks()) {
      f.head().ifPresent(m -> m.getMergesList().stream().map(MergeRef::getSourceSnapshotId).forEach(out::add));
    }
    return out;
  }

  /** The fork the source was created from (the owner of its base snapshot). */
  private Fork parentOf(Fork source) {
    String base = source.entry().baseSnapshotId();
    if (base.isEmpty()) {
      throw StrataException.invalid("fork '" + source.name() + "' was not created from another fork: name the target");
    }
    return forks
        .forkById(Fork.forkIdOf(base))
        .orElseThrow(
            () -> StrataException.notFound(
                "fork '" + source.name() + "' was created from a fork that no longer exists: name the target"));
  }

  private static StrataException noAncestor(Fork source, Fork target) {
    return StrataException.failedPrecondition(
        "forks '" + source.name() + "' and '" + target.name() + "' have no retained common ancestor to merge from");
  }

  /**
   * A retained snapshot opened for its documents only (segments pinned, no liveness: the merge reads
   * documents, never searches it), so opening it reads nothing.
   */
  private PublishedSnapshot open(String snapshotId) {
    Manifest m =
        forks.findManifest(snapshotId).orElseThrow(() -> StrataException.notFound("snapshot '" + snapshotId + "' has expired"));
    List<Segment> segs = new ArrayList<>();
    try {
      for (SegmentRef r : m.getSegmentsList()) {
        segs.add(segments.acquire(Long.parseUnsignedLong(r.getSegmentId(), 16)));
      }
    } catch (IOException | RuntimeException e) {
      segs.forEach(Segment::release);
      throw StrataException.notFound("snapshot '" + snapshotId + "' has expired: " + e.getMessage());
    }
    return new PublishedSnapshot(m, segs, LivenessMap.empty());
  }

  /** Flushes {@code fork} and waits for the snapshot that covers every write acknowledged on it. */
  private void awaitFlushed(Fork fork, long timeoutMs) {
    FlushTicket t = fork.flush(options.writeStallTimeoutMs());
    try {
      fork.awaitTicket(t).get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw StrataException.of(
          StrataException.Kind.DEADLINE_EXCEEDED,
          "the flush of fork '" + fork.name() + "' before the merge did not publish within " + timeoutMs + " ms");
    } catch (ExecutionException e) {
      throw e.getCause() instanceof StrataException se
          ? se
          : StrataException.of(StrataException.Kind.IO_ERROR, e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
  }
}
