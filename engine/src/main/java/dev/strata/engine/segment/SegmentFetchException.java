package dev.strata.engine.segment;

import java.io.IOException;

/**
 * A segment that is not on local disk could not be fetched from remote storage (the download
 * failed, or did not finish within the wait): the read that needed it fails, the segment stays
 * remote and a later read tries again. Read paths report it as UNAVAILABLE.
 */
public final class SegmentFetchException extends IOException {
  private static final long serialVersionUID = 1L;

  private final long segmentId;
  private final String reason;

  /**
   * @param segmentId the segment
   * @param reason what went wrong, for the message
   */
  public SegmentFetchException(long segmentId, String reason, Throwable cause) {
    super("segment " + SegmentFormat.hex(segmentId) + " is not on local disk and could not be fetched: " + reason, cause);
    this.segmentId = segmentId;
    this.reason = reason;
  }

  /** The segment. */
  public long segmentId() {
    return segmentId;
  }

  /** What went wrong, without the segment id. */
  public String reason() {
    return reason;
  }
}
