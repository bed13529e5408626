package dev.strata.engine.segment;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A read's hold on a segment's local files, from {@link Segment#pin()}: while it is open the
 * segment is materialized (its RocksDB rows and Lucene index on local disk, its reader open) and
 * the segment cache does not evict it. A {@link Segment} handle alone is only a logical reference
 * (the segment is not deleted); a pin is what a read takes for its duration, as Neon's resident
 * layers in use. Close it exactly once (try-with-resources); further closes are no-ops.
 *
 * <p>Thread-safe. Never blocks.
 */
public final class SegmentPin implements AutoCloseable {
  /** The pin of a store that never evicts: nothing to give back. */
  static final SegmentPin NONE = new SegmentPin(null, null);

  private final SegmentCache cache;
  private final SharedSegment shared;
  private final AtomicBoolean closed = new AtomicBoolean();

  SegmentPin(SegmentCache cache, SharedSegment shared) {
    this.cache = cache;
    this.shared = shared;
  }

  /** Gives the pin back; the segment becomes evictable again when no other pin is held. */
  @Override
  public void close() {
    if (cache != null && closed.compareAndSet(false, true)) {
      cache.unpin(shared);
    }
  }
}
