package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.read.MergingScan;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentSearcher;
import dev.strata.engine.segment.SegmentStore;
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
 * <p>Thread-safe, lock-free; called from RPC threads.
 */
final class ForkReader {
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
   * The newest version of a document at the head.
   *
   * @return the version, or null if absent or deleted
   * @throws StrataException NOT_FOUND if the collection does not exist
   */
  DocumentVersion get(String collection, String id) {
    collections.require(forkName, collection);
    ReadState s = memTables.current();
    DocumentVersion v = s.active().get(collection, id);
    if (v == null) {
      for (L0Buffer b : s.frozenNewestFirst()) {
        v = b.get(collection, id);
        if (v != null) {
          break;
        }
      }
    }
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
    try {
      if (snap != null) {
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
      CollectionRegistry.Collection c =
          snap.manifest().getCollectionsList().stream()
              .filter(d -> d.getName().equals(collection))
              .findFirst()
              .map(CollectionRegistry::fromDef)
              .orElse(null);
      if (c == null) {
        collections.require(forkName, collection);
        return new SearchResult(List.of(), 0); // created after this snapshot: nothing flushed yet
      }
      try {
        return SegmentSearcher.search(snap.segments(), snap.liveness(), collection, c.schema(), query, segments);
      } catch (IllegalArgumentException e) {
        throw StrataException.invalid(e.getMessage());
      } catch (IOException e) {
        throw StrataException.of(StrataException.Kind.IO_ERROR, "search failed: " + e.getMessage(), e);
      }
    } finally {
      if (ownRef) {
        snap.release();
      }
    }
  }
}
