package dev.strata.engine.fork;

import dev.strata.manifest.proto.Manifest;
import java.util.HashMap;
import java.util.Map;

/**
 * What retention and GC need of one retained manifest, kept in memory by its fork's {@link
 * SnapshotChain} so that neither reads a manifest file.
 *
 * @param id the snapshot id
 * @param seq its seq in the fork
 * @param createTimeMs when it was published, ms since the epoch
 * @param segmentBytes the bytes of every segment it refers to, by segment id (manifest sizes)
 */
public record RetainedSnapshot(String id, long seq, long createTimeMs, Map<Long, Long> segmentBytes) {
  /** The record of a published manifest. */
  static RetainedSnapshot of(Manifest m) {
    Map<Long, Long> bytes = new HashMap<>();
    m.getSegmentsList().forEach(r -> bytes.put(SnapshotEdit.segmentId(r), r.getSizeBytes()));
    return new RetainedSnapshot(m.getId(), m.getSeq(), m.getCreateTimeMs(), Map.copyOf(bytes));
  }
}
