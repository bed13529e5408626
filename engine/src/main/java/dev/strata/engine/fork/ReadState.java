package dev.strata.engine.fork;

import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.read.PublishedSnapshot;
import java.util.ArrayList;
import java.util.List;

/**
 * What a read at a fork's head needs, as one immutable value swapped by reference (Pebble's {@code
 * readState}): the active L0 buffer, the frozen buffers still in flight (newest first), and the head
 * snapshot (null before the fork's first flush). Replaced under the fork's flush lock; read without
 * any lock.
 */
record ReadState(L0Buffer active, List<L0Buffer> frozenNewestFirst, PublishedSnapshot head) {
  ReadState {
    frozenNewestFirst = List.copyOf(frozenNewestFirst);
  }

  /** After a rotate: {@code fresh} is active, the old active buffer is the newest frozen one. */
  ReadState rotated(L0Buffer fresh) {
    List<L0Buffer> frozen = new ArrayList<>(frozenNewestFirst.size() + 1);
    frozen.add(active);
    frozen.addAll(frozenNewestFirst);
    return new ReadState(fresh, frozen, head);
  }

  /** After a publish: {@code snapshot} is the head and {@code flushed} leaves the read path. */
  ReadState published(PublishedSnapshot snapshot, L0Buffer flushed) {
    List<L0Buffer> frozen = new ArrayList<>(frozenNewestFirst);
    if (flushed != null) {
      frozen.remove(flushed);
    }
    return new ReadState(active, frozen, snapshot);
  }

  /**
   * The buffer whose LSN range holds {@code lsn}, or null if this state has none: a rotate may
   * have frozen the active buffer below {@code lsn} and not yet published the state with the
   * fresh one (the caller then re-reads under the flush lock).
   */
  L0Buffer bufferFor(long lsn) {
    if (active.covers(lsn)) {
      return active;
    }
    for (L0Buffer b : frozenNewestFirst) {
      if (b.covers(lsn)) {
        return b;
      }
    }
    return null;
  }

  /** Bytes held by the active and frozen buffers. */
  long l0Bytes() {
    long n = active.sizeBytes();
    for (L0Buffer b : frozenNewestFirst) {
      n += b.sizeBytes();
    }
    return n;
  }

  /**
   * Bytes of the arena chunks the active and frozen buffers hold: {@link #l0Bytes()} plus the
   * unused ends of their chunks, the memory L0 takes (what the memory budget accounts).
   */
  long l0ReservedBytes() {
    long n = active.reservedBytes();
    for (L0Buffer b : frozenNewestFirst) {
      n += b.reservedBytes();
    }
    return n;
  }
}
