package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Snapshots other than the head, opened for reads at a snapshot (LevelDB's {@code TableCache} one
 * level up): opening one pins its segments and rebuilds its liveness, so the last few are kept open
 * and shared by reference. Each cached snapshot holds one reference of its own; a reader takes
 * another and releases it when done.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>At most {@link #MAX_OPENED} snapshots are cached; beyond that the oldest entries are
 *       released (a reader still holding one keeps it open until it releases).
 *   <li>An expired snapshot is never cached: retention {@link #forget}s it, and one that expired
 *       while it was being opened is released right after the caller's reference is taken.
 *   <li>The cache's reference is released exactly once: whoever removes the entry from the map
 *       releases it.
 * </ol>
 *
 * <p>Thread-safe: a concurrent map and the snapshots' own atomic reference counts; no lock.
 */
final class SnapshotCache {
  /** Old snapshots kept open for reads; more are opened on demand and released here. */
  static final int MAX_OPENED = 8;

  private final SnapshotChain chain;
  private final SegmentStore segments;
  private final ConcurrentHashMap<String, PublishedSnapshot> opened = new ConcurrentHashMap<>();

  SnapshotCache(SnapshotChain chain, SegmentStore segments) {
    this.chain = chain;
    this.segments = segments;
  }

  /**
   * A retained snapshot of the fork with a reference taken for the caller (who releases it).
   *
   * @throws StrataException NOT_FOUND if it does not exist or has expired
   */
  PublishedSnapshot acquire(String snapshotId) {
    long seq = chain.seqOf(snapshotId);
    while (true) {
      PublishedSnapshot cached = opened.get(snapshotId);
      if (cached != null) {
        if (cached.tryAcquire()) {
          return cached;
        }
        opened.remove(snapshotId, cached);
        continue;
      }
      Manifest m;
      try {
        m = chain.load(seq);
      } catch (IOException e) {
        throw StrataException.notFound("snapshot '" + snapshotId + "' does not exist: " + e.getMessage());
      }
      PublishedSnapshot snap;
      try {
        snap = PublishedSnapshot.open(segments, m, null);
      } catch (IllegalStateException e) {
        // Its manifest expired and GC retired a segment between the load and the acquire.
        throw StrataException.notFound("snapshot '" + snapshotId + "' has expired: " + e.getMessage());
      }
      snap.tryAcquire(); // the caller's reference, taken before the cache can evict it
      PublishedSnapshot raced = opened.putIfAbsent(snapshotId, snap);
      if (raced != null) {
        snap.release();
        snap.release();
        continue;
      }
      if (!chain.isRetained(seq) && opened.remove(snapshotId, snap)) {
        // Retention expired it between the load and the cache insert: keep the caller's
        // reference (its segments stay until the caller releases), but never cache it.
        snap.release();
      }
      evictBeyondBound(snapshotId);
      return snap;
    }
  }

  /** Releases the cached entries of snapshots that expired (invariant 2). */
  void forget(Collection<String> snapshotIds) {
    for (String id : snapshotIds) {
      PublishedSnapshot s = opened.remove(id);
      if (s != null) {
        s.release();
      }
    }
  }

  /** Releases every cached snapshot (close). */
  void clear() {
    forget(List.copyOf(opened.keySet()));
  }

  /** Drops cached snapshots beyond the bound (not {@code keep}); readers holding one keep it. */
  private void evictBeyondBound(String keep) {
    for (String id : opened.keySet()) {
      if (opened.size() <= MAX_OPENED) {
        return;
      }
      if (!id.equals(keep)) {
        PublishedSnapshot s = opened.remove(id);
        if (s != null) {
          s.release();
        }
      }
    }
  }
}
