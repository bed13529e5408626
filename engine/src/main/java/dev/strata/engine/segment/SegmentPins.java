package dev.strata.engine.segment;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Pins on several segments at once, for a read that touches them all (a search or a scan over a
 * snapshot, a flush's liveness pass): the downloads of the remote ones are started together, then
 * each is pinned. Close it when the read is done (try-with-resources). Not thread-safe; owned by one
 * read.
 */
public final class SegmentPins implements AutoCloseable {
  private final List<SegmentPin> pins;

  private SegmentPins(List<SegmentPin> pins) {
    this.pins = pins;
  }

  /**
   * Pins every one of {@code segments} (held by the caller).
   *
   * @throws SegmentFetchException if one is remote and cannot be fetched (no pin stays taken)
   * @throws IOException if a local index cannot be opened (no pin stays taken)
   */
  public static SegmentPins of(List<Segment> segments) throws IOException {
    for (Segment s : segments) {
      if (!s.isLocal()) {
        s.prefetch();
      }
    }
    List<SegmentPin> pins = new ArrayList<>(segments.size());
    try {
      for (Segment s : segments) {
        pins.add(s.pin());
      }
    } catch (IOException | RuntimeException e) {
      pins.forEach(SegmentPin::close);
      throw e;
    }
    return new SegmentPins(pins);
  }

  /** Gives every pin back. Idempotent. */
  @Override
  public void close() {
    pins.forEach(SegmentPin::close);
  }
}
