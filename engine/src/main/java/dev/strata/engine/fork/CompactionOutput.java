package dev.strata.engine.fork;

import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.WrittenSegment;
import java.util.List;
import java.util.Set;

/**
 * A compaction job's finished work, handed to {@link Fork#publishCompaction}: the merged segment
 * (ingested, with one handle that moves into the published snapshot), its stats, and which head it
 * was computed from.
 *
 * @param merged the merged segment's handle
 * @param written its statistics
 * @param runIds the merged segments' ids, newest first: a contiguous run of that head
 * @param headIds every segment id of that head: segments newer than the run that are not in it
 *     were published since, and may shadow documents of the merged segment
 * @param headSegments how many segments that head had
 * @param bytesRead manifest sizes of the run's segments, bytes
 */
public record CompactionOutput(
    Segment merged, WrittenSegment written, List<Long> runIds, Set<Long> headIds, int headSegments, long bytesRead) {}
