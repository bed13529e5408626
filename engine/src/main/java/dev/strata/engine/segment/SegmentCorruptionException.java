package dev.strata.engine.segment;

import java.io.IOException;

/**
 * A segment's stored bytes are not what the segment format allows (a bad value header, a document
 * that does not decode, a Lucene doc without its RocksDB key). Thrown by reads; {@link
 * SegmentStore#check} reports the same problems as text.
 */
public final class SegmentCorruptionException extends IOException {
  private static final long serialVersionUID = 1L;

  private final long segmentId;

  SegmentCorruptionException(long segmentId, String message) {
    super("segment " + SegmentFormat.hex(segmentId) + " is corrupt: " + message);
    this.segmentId = segmentId;
  }

  SegmentCorruptionException(long segmentId, String message, Throwable cause) {
    super("segment " + SegmentFormat.hex(segmentId) + " is corrupt: " + message, cause);
    this.segmentId = segmentId;
  }

  /** The segment whose data is corrupt. */
  public long segmentId() {
    return segmentId;
  }
}
