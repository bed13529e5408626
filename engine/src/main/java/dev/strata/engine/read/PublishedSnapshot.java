package dev.strata.engine.read;

import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SnapshotSearcher;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A published snapshot opened for reading: its manifest, a pinned handle on each of its segments
 * (newest first) and its liveness map. Immutable; shared by reference between the fork's head and
 * any number of readers, and reference counted (like LevelDB's {@code Version} and Pebble's {@code
 * readState}): the creator holds the first reference; when the last is released, the shared
 * searcher ({@link #searcher()}) is closed and the segment handles are released, which lets GC
 * delete segments no manifest refers to any more.
 *
 * <p>Thread-safe.
 */
public final class PublishedSnapshot {
  private final Manifest manifest;
  private final List<Segment> segments;
  private final LivenessMap liveness;
  private final AtomicInteger refs = new AtomicInteger(1);
  /** Built by the first search, closed with the last reference; see {@link #searcher()}. */
  private final AtomicReference<SnapshotSearcher> searcher = new AtomicReference<>();
  /** Segment ids, newest first (for MultiGet). */
  private final List<Long> segmentIds;

  /**
   * Takes ownership of one reference to each of {@code segmentsNewestFirst}.
   *
   * @param manifest the published manifest
   * @param segmentsNewestFirst acquired handles, in the manifest's order
   * @param liveness dead documents per segment for this manifest
   */
  public PublishedSnapshot(Manifest manifest, List<Segment> segmentsNewestFirst, LivenessMap liveness) {
    this.manifest = manifest;
    this.segments = List.copyOf(segmentsNewestFirst);
    this.liveness = liveness;
    List<Long> ids = new ArrayList<>(segments.size());
    for (Segment seg : segments) {
      ids.add(seg.segmentId());
    }
    this.segmentIds = List.copyOf(ids);
  }

  /**
   * Opens a published manifest for reading: acquires a handle on each of its segments and takes
   * {@code liveness} as its liveness, or rebuilds it from the segments if null (a read of every
   * segment's keys). The caller holds the returned snapshot's one reference.
   *
   * @throws IllegalStateException if a segment was retired (its manifest expired meanwhile) or its
   *     index cannot be opened; no handle stays acquired then
   */
  public static PublishedSnapshot open(SegmentStore store, Manifest manifest, LivenessMap liveness) {
    List<Segment> segs = new ArrayList<>();
    try {
      for (SegmentRef ref : manifest.getSegmentsList()) {
        segs.add(store.acquire(Long.parseUnsignedLong(ref.getSegmentId(), 16)));
      }
      LivenessMap live = liveness != null ? liveness : LivenessMap.rebuild(segs, store);
      return new PublishedSnapshot(manifest, segs, live);
    } catch (IOException | RuntimeException e) {
      segs.forEach(Segment::release);
      throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
    }
  }

  /** The manifest. */
  public Manifest manifest() {
    return manifest;
  }

  /** Snapshot id. */
  public String id() {
    return manifest.getId();
  }

  /** Every WAL record of the fork with LSN ≤ this is reflected. */
  public long coveredLsn() {
    return manifest.getCoveredLsn();
  }

  /** Segment handles, newest first. Valid while a reference is held. */
  public List<Segment> segments() {
    return segments;
  }

  /** Dead documents per segment. */
  public LivenessMap liveness() {
    return liveness;
  }

  /**
   * Takes a reference unless the snapshot was already released for good.
   *
   * @return false if the count had reached 0 (the caller must re-read the current snapshot)
   */
  public boolean tryAcquire() {
    while (true) {
      int n = refs.get();
      if (n == 0) {
        return false;
      }
      if (refs.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  /**
   * The snapshot's shared Lucene view, built on the first call (no I/O: a wrapper per segment) and
   * used by every query at this snapshot until the last reference is released, which closes it
   * before the segment handles go. Call it only while holding a reference.
   *
   * @throws IllegalStateException if the snapshot was released for good
   */
  public SnapshotSearcher searcher() {
    SnapshotSearcher s = searcher.get();
    if (s != null) {
      return s;
    }
    if (refs.get() <= 0) {
      throw new IllegalStateException("snapshot " + id() + " is released");
    }
    SnapshotSearcher built = SnapshotSearcher.open(segments, liveness);
    if (searcher.compareAndSet(null, built)) {
      return built;
    }
    built.close(); // another reader built it first
    return searcher.get();
  }

  /** Gives back one reference; the last one closes the searcher and releases every segment handle. */
  public void release() {
    int n = refs.decrementAndGet();
    if (n == 0) {
      SnapshotSearcher view = searcher.getAndSet(null);
      if (view != null) {
        view.close();
      }
      for (Segment s : segments) {
        s.release();
      }
    } else if (n < 0) {
      throw new IllegalStateException("snapshot " + id() + " released more often than acquired");
    }
  }

  /**
   * The newest version of a key in this snapshot's segments (newest first; the first hit wins, a
   * tombstone included), or null. Not decoded: a put's body is a view of the segment's value.
   */
  public DocumentVersion get(SegmentStore store, String collection, String id) {
    for (Segment s : segments) {
      DocumentVersion v = store.get(s.segmentId(), collection, id);
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  /**
   * As {@link #get} for several ids, with one RocksDB {@code MultiGet} per segment for the ids
   * still unresolved: fills the null slots of {@code out} (puts and tombstones), leaving null the
   * ids no segment holds. Slots already set (e.g. from L0) are not looked up.
   */
  public void get(SegmentStore store, String collection, List<String> ids, DocumentVersion[] out) {
    store.multiGet(segmentIds, collection, ids, out);
  }
}
