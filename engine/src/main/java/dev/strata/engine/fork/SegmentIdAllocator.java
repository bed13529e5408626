package dev.strata.engine.fork;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hands out segment ids (unique across forks and restarts) and remembers which ones belong to
 * flushes still in flight, so garbage collection never deletes a segment that is written but not
 * yet published.
 *
 * <p>Protocol: {@link #allocate} puts the id in flight; the flush calls {@link #settle} after its
 * manifest lists the id (the fork's referenced set has it) or after it discarded the segment. GC
 * lists the disk, then reads {@link #inFlight()}, then the referenced sets: a segment on disk is
 * then in one of the two, whatever it did in between. Thread-safe.
 */
public final class SegmentIdAllocator {
  private final AtomicLong next;
  private final Set<Long> inFlight = ConcurrentHashMap.newKeySet();

  /** Starts handing out ids at {@code first}. */
  public SegmentIdAllocator(long first) {
    this.next = new AtomicLong(first);
  }

  /** A new id, marked in flight. */
  public long allocate() {
    long id = next.getAndIncrement();
    inFlight.add(id);
    return id;
  }

  /** The id is now referenced by a manifest, or its segment was discarded. */
  public void settle(long id) {
    inFlight.remove(id);
  }

  /** Ids of segments being written or waiting for publication. */
  public Set<Long> inFlight() {
    return Set.copyOf(inFlight);
  }

  /** Makes sure ids below {@code atLeast} are never handed out (recovery). */
  public void advanceTo(long atLeast) {
    next.accumulateAndGet(atLeast, Math::max);
  }
}
