package dev.strata.engine.fork;

import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.WrittenSegment;

/**
 * What a flush's stream phase hands to the finalizer: the new segment (ingested and pinned), or
 * none when the frozen buffer held only collection definitions.
 *
 * @param segment pinned handle of the new segment, or null
 * @param written its statistics, or null
 */
record FlushOutput(Segment segment, WrittenSegment written) {
  static FlushOutput empty() {
    return new FlushOutput(null, null);
  }
}
