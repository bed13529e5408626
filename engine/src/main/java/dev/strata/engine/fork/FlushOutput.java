package dev.strata.engine.fork;

import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.WrittenSegment;
import java.util.Set;

/**
 * What a flush's stream phase hands to the finalizer: the new segment (ingested and pinned), or
 * none when the frozen buffer held only collection definitions.
 *
 * <p>The liveness part is the heavy half of the new manifest's liveness, computed in the stream
 * phase against the head it saw ({@code baseSegmentIds}); the finalizer only patches it for
 * segments published since.
 *
 * @param segment pinned handle of the new segment, or null
 * @param written its statistics, or null
 * @param liveness the seen head's liveness plus the documents the new segment shadows in it
 * @param baseSegmentIds the segments of the head the stream phase saw
 */
record FlushOutput(
    Segment segment, WrittenSegment written, LivenessMap liveness, Set<Long> baseSegmentIds) {
  static FlushOutput empty() {
    return new FlushOutput(null, null, LivenessMap.empty(), Set.of());
  }
}
