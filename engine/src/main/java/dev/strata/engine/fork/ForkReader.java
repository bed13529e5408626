package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.read.MergingScan;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SnapshotSearcher;
import dev.strata.manifest.proto.CollectionDef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork's read path (SPEC §3): Get and Scan at the head read the active L0 buffer, then the
 * frozen ones (newest first), then the head snapshot's segments (newest first), the first version
 * found winning and a tombstone hiding older ones; at a snapshot they read only its segments.
 * Search runs over a published snapshot only.
 *
 * <p>Readers never block writers or flushes: each read takes one {@link ReadState} value and a
 * reference on the snapshot it reads, so a compaction or a drop cannot delete segments under it.
 *
 * <p>Thread-safe, lock-free; called from RPC threads (the server's transport threads for Get and
 * BatchGet: no read here waits for another thread, and the only I/O is RocksDB's point reads),
 * except with a remote segment source: a read then pins the segments it touches, and one that was
 * evicted is fetched first by the cache's download threads, which the read waits for (bounded; a
 * failure or timeout is UNAVAILABLE).
 */
public final class ForkReader {
  private static final Logger log = LoggerFactory.getLogger(ForkReader.class);

  private final String forkName;
  private final SegmentStore segments;
  private final CollectionRegistry collections;
  private final MemTables memTables;

  ForkReader(String forkName, SegmentStore segments, CollectionRegistry collections, MemTables memTables) {
    this.forkName = forkName;
    this.segments = segments;
    this.collections = collections;
    this.memTables = memTables;
  }

  /**
   * The newest live version of a document at the head, undecoded: its stored form is a view of the
   * L0 arena or of the segment's value, never a copy. One check of the collection.
   *
   * @return the version, or null if absent or deleted
   * @throws StrataException NOT_FOUND if the collection does not exist
   */
  public DocumentVersion get(String collection, String id) {
    collections.require(forkName, collection);
    DocumentVersion v = inL0(memTables.current(), collection, id);
    if (v == null) {
      PublishedSnapshot head = memTables.acquireHead();
      if (head != null) {
        try {
          v = head.get(segments, collection, id);
        } finally {
          head.release();
        }
      }
    }
    return v == null || v.isTombstone() ? null : v;
  }

  /**
   * The live versions of {@code ids} at the head (L0, then the head's segments with one RocksDB
   * {@code MultiGet} per segment) or at {@code snapshot} (its segments only), undecoded.
   *
   * @param snapshot a snapshot the caller holds a reference on (and whose manifest it checked holds
   *     the collection), or null for the head
   * @return one slot per id, in order: the live version, or null if absent or deleted
   * @throws StrataException NOT_FOUND if reading the head and the collection does not exist
   */
  public DocumentVersion[] get(String collection, List<String> ids, PublishedSnapshot snapshot) {
    DocumentVersion[] out = new DocumentVersion[ids.size()];
    PublishedSnapshot snap = snapshot;
    if (snap == null) {
      collections.require(forkName, collection);
      ReadState s = memTables.current();
      for (int i = 0; i < out.length; i++) {
        out[i] = inL0(s, collection, ids.get(i));
      }
      snap = memTables.acquireHead();
      if (snap == null) {
        return live(out);
      }
    }
    try {
      snap.get(segments, collection, ids, out);
    } finally {
      if (snapshot == null) {
        snap.release();
      }
    }
    return live(out);
  }

  /** The newest version in L0 (active, then frozen newest first), a tombstone included, or null. */
  private static DocumentVersion inL0(ReadState s, String collection, String id) {
    DocumentVersion v = s.active().get(collection, id);
    for (int b = 0; v == null && b < s.frozenNewestFirst().size(); b++) {
      v = s.frozenNewestFirst().get(b).get(collection, id);
    }
    return v;
  }

  private static DocumentVersion[] live(DocumentVersion[] versions) {
    for (int i = 0; i < versions.length; i++) {
      if (versions[i] != null && versions[i].isTombstone()) {
        versions[i] = null;
      }
    }
    return versions;
  }

  /**
   * Live documents of {@code collection} with id ≥ {@code startId}, in id order, at the head (L0 +
   * head segments) or at {@code snapshot} (its segments only), at most {@code limit}.
   *
   * @param snapshot a snapshot the caller holds a reference on, or null for the head
   * @throws StrataException NOT_FOUND if reading the head and the collection does not exist
   */
  List<SegmentEntry> scan(String collection, String startId, int limit, PublishedSnapshot snapshot) {
    List<Iterator<SegmentEntry>> sources = new ArrayList<>();
    List<AutoCloseable> toClose = new ArrayList<>();
    PublishedSnapshot snap = snapshot;
    boolean ownRef = false;
    if (snap == null) {
      collections.require(forkName, collection);
      ReadState s = memTables.current();
      sources.add(l0Source(s.active(), collection, startId));
      for (L0Buffer b : s.frozenNewestFirst()) {
        sources.add(l0Source(b, collection, startId));
      }
      snap = memTables.acquireHead();
      ownRef = snap != null;
    }
    SegmentPins pins = null;
    try {
      if (snap != null) {
        pins = snap.pinAll(); // remote segments are fetched first (UNAVAILABLE if they cannot be)
        for (Segment seg : snap.segments()) {
          var it = segments.scan(seg.segmentId(), collection, startId);
          toClose.add(it);
          sources.add(it);
        }
      }
      return new MergingScan(sources).take(limit);
    } finally {
      for (AutoCloseable c : toClose) {
        try {
          c.close();
        } catch (Exception e) {
          log.warn("closing a segment scan failed: {}", e.toString());
        }
      }
      if (pins != null) {
        pins.close();
      }
      if (ownRef) {
        snap.release();
      }
    }
  }

  private static Iterator<SegmentEntry> l0Source(L0Buffer b, String collection, String startId) {
    return b.scan(collection, startId);
  }

  /**
   * Full-text search over a published snapshot (the head if {@code snapshot} is null).
   *
   * @throws StrataException NOT_FOUND if the collection is in neither the snapshot nor the fork;
   *     INVALID_ARGUMENT on a bad query; IO_ERROR if an index cannot be read
   */
  SearchResult search(String collection, SearchQuery query, PublishedSnapshot snapshot) {
    PublishedSnapshot snap = snapshot != null ? snapshot : memTables.acquireHead();
    boolean ownRef = snapshot == null && snap != null;
    try {
      if (snap == null) {
        collections.require(forkName, collection);
        return new SearchResult(List.of(), 0);
      }
      try (SegmentPins pins = snap.pinAll()) {
        SnapshotSearcher searcher = snap.searcher();
        SnapshotSearcher.CollectionSearch c = searcher.collection(collection);
        if (c == null) {
          CollectionSchema schema = schemaIn(snap, collection);
          if (schema == null) {
            collections.require(forkName, collection);
            return new SearchResult(List.of(), 0); // created after this snapshot: nothing flushed yet
          }
          c = searcher.collection(collection, schema);
        }
        return c.search(query, segments);
      }
    } catch (IllegalArgumentException e) {
      throw StrataException.invalid(e.getMessage());
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "search failed: " + e.getMessage(), e);
    } finally {
      if (ownRef) {
        snap.release();
      }
    }
  }

  /** The schema of {@code collection} in a snapshot's manifest, or null if it has none. */
  private static CollectionSchema schemaIn(PublishedSnapshot snap, String collection) {
    for (CollectionDef d : snap.manifest().getCollectionsList()) {
      if (d.getName().equals(collection)) {
        return CollectionRegistry.fromDef(d).schema();
      }
    }
    return null;
  }
}
