package dev.strata.engine.read;

import dev.strata.engine.StrataException;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentFetchException;
import dev.strata.engine.segment.SegmentPin;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SnapshotSearcher;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.io.UncheckedIOException;
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
 * <p>With a remote segment source the handles are logical references ({@link
 * SegmentStore#acquireReference}): a segment may be evicted from local disk while the snapshot
 * holds it, and each read pins what it touches for its duration ({@link Segment#pin()}): a point
 * Get only the segments whose row filter may hold the key, a scan or a search all of them.
 *
 * <p>Thread-safe.
 */
public final class PublishedSnapshot {
  private final Manifest manifest;
  private final List<Segment> segments;
  private final LivenessMap liveness;
  private final AtomicInteger refs = new AtomicInteger(1);
  /** Built by the first search, closed with the last reference; see {@link #searcher()}. */
  private final AtomicReference<View> searcher = new AtomicReference<>();

  /** A searcher and the segment epochs its readers belong to. */
  private record View(SnapshotSearcher searcher, int[] epochs) {}
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
   * Opens a published manifest for reading: acquires a (logical) handle on each of its segments and
   * takes {@code liveness} as its liveness, or rebuilds it from the segments if null (a read of
   * every segment's keys, with every segment pinned meanwhile: remote ones are fetched). The caller
   * holds the returned snapshot's one reference.
   *
   * @throws IllegalStateException if a segment was retired (its manifest expired meanwhile), its
   *     index cannot be opened, or (to rebuild the liveness) it cannot be fetched; no handle stays
   *     acquired then
   */
  public static PublishedSnapshot open(SegmentStore store, Manifest manifest, LivenessMap liveness) {
    List<Segment> segs = new ArrayList<>();
    try {
      for (SegmentRef ref : manifest.getSegmentsList()) {
        segs.add(store.acquireReference(Long.parseUnsignedLong(ref.getSegmentId(), 16)));
      }
      LivenessMap live = liveness;
      if (live == null) {
        try (SegmentPins pins = SegmentPins.of(segs)) {
          live = LivenessMap.rebuild(segs, store);
        }
      }
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
    while (true) {
      View v = searcher.get();
      if (v != null && (v.epochs == null || java.util.Arrays.equals(v.epochs, epochs()))) {
        return v.searcher;
      }
      if (refs.get() <= 0) {
        throw new IllegalStateException("snapshot " + id() + " is released");
      }
      // With a remote source a segment evicted and fetched again has a new reader: the caller pins
      // every segment, so the epochs cannot change while it searches; an old view is unused then
      // (whoever searched it held pins on the old epochs, which an eviction waited out).
      int[] epochs = epochs();
      SnapshotSearcher built = SnapshotSearcher.open(segments, liveness);
      View fresh = new View(built, epochs);
      if (searcher.compareAndSet(v, fresh)) {
        if (v != null) {
          v.searcher.close();
        }
        return built;
      }
      built.close(); // another reader built it first
    }
  }

  private int[] epochs() {
    int[] e = new int[segments.size()];
    for (int i = 0; i < e.length; i++) {
      e[i] = segments.get(i).epoch();
    }
    return e;
  }

  /**
   * Pins every segment of the snapshot for a read that touches them all (a scan, a search): remote
   * ones are fetched first (in parallel). Close the result when the read is done.
   *
   * @throws StrataException UNAVAILABLE if a segment cannot be fetched now
   * @throws UncheckedIOException if a local index cannot be opened
   */
  public SegmentPins pinAll() {
    try {
      return SegmentPins.of(segments);
    } catch (SegmentFetchException e) {
      throw unavailable(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private StrataException unavailable(SegmentFetchException e) {
    return StrataException.of(StrataException.Kind.UNAVAILABLE, "snapshot " + id() + ": " + e.getMessage(), e);
  }

  /** Gives back one reference; the last one closes the searcher and releases every segment handle. */
  public void release() {
    int n = refs.decrementAndGet();
    if (n == 0) {
      View view = searcher.getAndSet(null);
      if (view != null) {
        view.searcher.close();
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
    if (!store.fetchesRemote()) {
      for (Segment s : segments) {
        DocumentVersion v = store.get(s.segmentId(), collection, id);
        if (v != null) {
          return v;
        }
      }
      return null;
    }
    for (Segment s : segments) {
      if (!s.mayHold(collection, id)) {
        continue; // remote, and its row filter rules the key out: no fetch
      }
      try (SegmentPin pin = s.pin()) {
        DocumentVersion v = store.get(s.segmentId(), collection, id);
        if (v != null) {
          return v;
        }
      } catch (SegmentFetchException e) {
        throw unavailable(e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
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
    if (!store.fetchesRemote()) {
      store.multiGet(segmentIds, collection, ids, out);
      return;
    }
    // Pin the segments that may hold one of the unresolved ids; the others hold none of them, so
    // leaving them out of the newest-first walk changes no answer.
    List<Segment> touched = new ArrayList<>();
    List<Long> touchedIds = new ArrayList<>();
    for (Segment s : segments) {
      for (int i = 0; i < out.length; i++) {
        if (out[i] == null && s.mayHold(collection, ids.get(i))) {
          touched.add(s);
          touchedIds.add(s.segmentId());
          break;
        }
      }
    }
    try (SegmentPins pins = SegmentPins.of(touched)) {
      store.multiGet(touchedIds, collection, ids, out);
    } catch (SegmentFetchException e) {
      throw unavailable(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
