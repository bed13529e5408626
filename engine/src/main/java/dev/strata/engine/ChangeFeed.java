package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.RetainedSnapshot;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.engine.segment.CloseableIterator;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A fork's change feed ({@code WatchChanges}): the document-level changes of each published
 * snapshot after a position, in snapshot order.
 *
 * <h2>What a snapshot changed</h2>
 *
 * A {@link Cursor} holds the state the consumer has (a snapshot's segment list, its segments
 * pinned, so neither retention nor GC can take them while the cursor lives). For the next retained
 * snapshot N:
 *
 * <ul>
 *   <li><b>Same segments</b> (a flush of definitions only, a fork's first snapshot): nothing.
 *   <li><b>A compaction</b> right after the cursor: nothing (same documents, fewer segments).
 *   <li><b>A flush</b>: N's segments are the cursor's with one new segment in front. Its entries
 *       are the changes, read from that segment alone: each put, and each tombstone of a key the
 *       cursor's state holds. Cost: one segment scan plus a point read per tombstone.
 *   <li><b>Anything else</b> (a fast-forward merge; snapshots expired in between, so N is not the
 *       cursor's successor): {@link SnapshotDiff} between the cursor's state and N — exact, at the
 *       cost of reading both.
 * </ul>
 *
 * A flush's segment holds the newest version per key of its L0 buffer, so a snapshot's changes are
 * its net effect. Applying them in order to the state at the position gives the state at each
 * snapshot; that is the feed's contract, tested against Scan at the head.
 *
 * <h2>Positions</h2>
 *
 * A position is a snapshot id of the fork (or the fork's base snapshot: from its creation on). It
 * opens while that snapshot is retained ({@code FAILED_PRECONDITION} naming the oldest retained
 * snapshot otherwise): retention's count and age, the space bound (which expires old untagged
 * snapshots early), and tags (a tagged position never expires) decide how long.
 *
 * <p>A cursor is confined to one thread at a time; the feed itself is stateless and thread-safe.
 */
public final class ChangeFeed {
  private final SegmentStore store;

  ChangeFeed(SegmentStore store) {
    this.store = store;
  }

  /**
   * One change of a snapshot.
   *
   * @param snapshotId the snapshot that made it
   * @param document the new version in its stored form (bytes as the segment holds them, never
   *     decoded here), or null for a delete
   * @param lsn the LSN of the write (in the WAL of the fork that wrote it), 0 if unknown
   */
  public record Change(String snapshotId, long seq, String collection, String id, EncodedDocument document, long lsn) {}

  /** Receives a feed's output; each method returns false to stop. */
  public interface Sink {
    /** One change of the snapshot being read. */
    boolean change(Change c);

    /** Every change of {@code snapshot} was delivered (none, for some snapshots). */
    boolean snapshotDone(Manifest snapshot);
  }

  /**
   * A consumer's position: the state of one snapshot, its segments pinned. Close it to let them go.
   * Not thread-safe.
   */
  public static final class Cursor implements AutoCloseable {
    private final Fork fork;
    private long seq;
    private String snapshotId;
    private List<SegmentRef> refs;
    private List<Segment> pinned;

    private Cursor(Fork fork, long seq, String snapshotId, List<SegmentRef> refs, List<Segment> pinned) {
      this.fork = fork;
      this.seq = seq;
      this.snapshotId = snapshotId;
      this.refs = refs;
      this.pinned = pinned;
    }

    /** The snapshot whose changes were delivered last (the position to resume from). */
    public String snapshotId() {
      return snapshotId;
    }

    /** The fork. */
    public Fork fork() {
      return fork;
    }

    /** Releases the pinned segments. Idempotent. */
    @Override
    public void close() {
      pinned.forEach(Segment::release);
      pinned = List.of();
    }
  }

  /**
   * Opens a cursor at {@code afterSnapshotId}.
   *
   * @throws StrataException INVALID_ARGUMENT (a snapshot of another fork, malformed), FAILED_PRECONDITION
   *     if the position is no longer retained (the message names the oldest retained snapshot)
   */
  Cursor open(Fork fork, String afterSnapshotId) {
    String id = afterSnapshotId;
    boolean fromBase = !fork.entry().baseSnapshotId().isEmpty() && id.equals(fork.entry().baseSnapshotId());
    if (!fromBase && !Fork.forkIdOf(id).equals(fork.id())) {
      throw StrataException.invalid(
          "snapshot '" + id + "' is not of fork '" + fork.name() + "' (id " + fork.id() + ") nor its base snapshot");
    }
    if (!fromBase) {
      long seq;
      try {
        seq = Long.parseLong(id.substring(id.lastIndexOf('-') + 1));
      } catch (NumberFormatException e) {
        throw StrataException.invalid("malformed snapshot id '" + id + "'");
      }
      long head = fork.head().map(Manifest::getSeq).orElse(0L);
      if (seq > head) {
        throw StrataException.invalid(
            "snapshot '" + id + "' is not published yet: fork '" + fork.name() + "' is at seq " + head);
      }
    }
    String probe = fromBase ? Fork.snapshotId(fork.id(), 1) : id;
    Manifest m;
    try {
      m = fork.loadSnapshot(probe);
    } catch (StrataException e) {
      throw expired(fork, id);
    }
    List<Segment> pins = pin(m).orElseThrow(() -> expired(fork, id));
    return new Cursor(fork, fromBase ? 0 : m.getSeq(), id, m.getSegmentsList(), pins);
  }

  private StrataException expired(Fork fork, String id) {
    String oldest =
        fork.retainedSnapshots().stream().min(Comparator.comparingLong(RetainedSnapshot::seq)).map(RetainedSnapshot::id).orElse("");
    return StrataException.failedPrecondition(
        "change feed position '" + id + "' has expired on fork '" + fork.name() + "': the oldest retained snapshot is '"
            + oldest + "'; read the state at a retained snapshot (Scan at it) and watch from there, and tag"
            + " positions that must outlive retention");
  }

  /**
   * Delivers the changes of every retained snapshot after the cursor, up to the fork's head at the
   * time of the call, moving the cursor past each snapshot once its changes are delivered.
   *
   * @param collection only this collection, or null/empty for all
   * @return false if the sink stopped
   * @throws StrataException IO_ERROR if a segment cannot be read
   */
  boolean advance(Cursor cursor, String collection, Sink sink) {
    List<RetainedSnapshot> later = new ArrayList<>();
    for (RetainedSnapshot r : cursor.fork.retainedSnapshots()) {
      if (r.seq() > cursor.seq) {
        later.add(r);
      }
    }
    later.sort(Comparator.comparingLong(RetainedSnapshot::seq));
    for (RetainedSnapshot r : later) {
      Manifest next;
      try {
        next = cursor.fork.loadSnapshot(r.id());
      } catch (StrataException expiredMeanwhile) {
        continue; // the next one is diffed against the cursor's state, which is pinned
      }
      List<Segment> pins = pin(next).orElse(null);
      if (pins == null) {
        continue;
      }
      boolean more;
      try {
        more = changes(cursor, next, pins, collection, sink) && sink.snapshotDone(next);
      } catch (RuntimeException e) {
        pins.forEach(Segment::release);
        throw e;
      }
      cursor.close();
      cursor.seq = next.getSeq();
      cursor.snapshotId = next.getId();
      cursor.refs = next.getSegmentsList();
      cursor.pinned = pins;
      if (!more) {
        return false;
      }
    }
    return true;
  }

  /** Delivers what {@code next} changed relative to the cursor's state (class comment). */
  private boolean changes(Cursor cursor, Manifest next, List<Segment> pins, String collection, Sink sink) {
    List<String> before = ids(cursor.refs);
    List<String> after = ids(next.getSegmentsList());
    if (after.equals(before)) {
      return true;
    }
    boolean successor = next.hasParentSeq() && next.getParentSeq() == cursor.seq;
    if (successor && next.getOrigin() == ManifestOrigin.MANIFEST_ORIGIN_COMPACTION) {
      return true;
    }
    if (after.size() == before.size() + 1 && after.subList(1, after.size()).equals(before)) {
      return newSegment(cursor, next, pins.get(0), collection, sink);
    }
    // Views over the pinned segments (the cursor and this method own the references). Collections
    // only ever grow, so next's list names every collection of both states.
    PublishedSnapshot from = new PublishedSnapshot(next, cursor.pinned, LivenessMap.empty());
    PublishedSnapshot to = new PublishedSnapshot(next, pins, LivenessMap.empty());
    boolean[] more = {true};
    SnapshotDiff.diff(
        from,
        to,
        store,
        e -> {
          if (collection != null && !collection.isEmpty() && !collection.equals(e.collection())) {
            return true;
          }
          SegmentEntry v = e.newVersion();
          more[0] =
              sink.change(
                  new Change(
                      next.getId(), next.getSeq(), e.collection(), e.id(), v == null ? null : v.version().stored(),
                      v == null ? 0 : v.version().lsn()));
          return more[0];
        });
    return more[0];
  }

  /** A flush's changes: the entries of its one new segment (class comment). */
  private boolean newSegment(Cursor cursor, Manifest next, Segment fresh, String collection, Sink sink) {
    for (CollectionDef d : next.getCollectionsList()) {
      if (collection != null && !collection.isEmpty() && !collection.equals(d.getName())) {
        continue;
      }
      try (CloseableIterator<SegmentEntry> it = store.scan(fresh.segmentId(), d.getName(), "")) {
        while (it.hasNext()) {
          SegmentEntry e = it.next();
          DocumentVersion v = e.version();
          if (v.isTombstone() && !liveIn(cursor.pinned, d.getName(), e.id())) {
            continue; // a delete of a key the consumer does not have
          }
          if (!sink.change(new Change(next.getId(), next.getSeq(), d.getName(), e.id(), v.stored(), v.lsn()))) {
            return false;
          }
        }
      }
    }
    return true;
  }

  private boolean liveIn(List<Segment> newestFirst, String collection, String id) {
    for (Segment s : newestFirst) {
      DocumentVersion v = store.get(s.segmentId(), collection, id);
      if (v != null) {
        return !v.isTombstone();
      }
    }
    return false;
  }

  /** Pins every segment of {@code m}, or empty if one is gone (the snapshot expired meanwhile). */
  private Optional<List<Segment>> pin(Manifest m) {
    List<Segment> segs = new ArrayList<>();
    try {
      for (SegmentRef r : m.getSegmentsList()) {
        segs.add(store.acquire(Long.parseUnsignedLong(r.getSegmentId(), 16)));
      }
      return Optional.of(segs);
    } catch (IOException | RuntimeException e) {
      segs.forEach(Segment::release);
      return Optional.empty();
    }
  }

  private static List<String> ids(List<SegmentRef> refs) {
    List<String> out = new ArrayList<>(refs.size());
    refs.forEach(r -> out.add(r.getSegmentId()));
    return out;
  }
}
