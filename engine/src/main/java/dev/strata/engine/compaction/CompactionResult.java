package dev.strata.engine.compaction;

import dev.strata.manifest.proto.Manifest;
import java.util.Optional;

/**
 * What one compaction did. Immutable.
 *
 * @param fork the fork's name
 * @param published the snapshot it published; empty if there was nothing to merge or it aborted
 * @param segmentsBefore segments in the head it started from
 * @param segmentsAfter segments in the head it published (= before when nothing was published)
 * @param bytesRead bytes of the merged segments' files (their manifest sizes)
 * @param bytesWritten bytes of the new segment's files
 * @param abortReason why it did not publish although it merged (e.g. the run left the head); null
 *     otherwise
 */
public record CompactionResult(
    String fork,
    Optional<Manifest> published,
    int segmentsBefore,
    int segmentsAfter,
    long bytesRead,
    long bytesWritten,
    String abortReason) {

  /** Nothing to merge. */
  public static CompactionResult nothing(String fork, int segments) {
    return new CompactionResult(fork, Optional.empty(), segments, segments, 0, 0, null);
  }
}
