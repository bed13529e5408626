package dev.strata.server;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Live documents per collection of a snapshot. Manifests record them ({@code
 * CollectionDef.live_doc_count}, counted at publication), so every RPC reads the same exact numbers
 * from the manifest. Manifests written before that field existed are counted once with a match-all
 * search of each collection and cached by snapshot id — snapshots never change, so an entry never
 * goes stale. Thread-safe.
 */
final class CollectionCounts {
  private static final int MAX_ENTRIES = 1024;

  /** Snapshot id → collection → live documents. Guarded by itself. */
  private final Map<String, Map<String, Long>> cache =
      new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Map<String, Long>> eldest) {
          return size() > MAX_ENTRIES;
        }
      };

  /** The counts a manifest records, or null if it predates them. */
  static Map<String, Long> recorded(Manifest m) {
    Map<String, Long> out = new LinkedHashMap<>();
    for (CollectionDef d : m.getCollectionsList()) {
      if (!d.hasLiveDocCount()) {
        return null;
      }
      out.put(d.getName(), d.getLiveDocCount());
    }
    return out;
  }

  /** Counts of an acquired snapshot (computed at most once per snapshot id). */
  Map<String, Long> count(Fork fork, PublishedSnapshot snapshot) {
    Map<String, Long> recorded = recorded(snapshot.manifest());
    if (recorded != null) {
      return recorded;
    }
    Map<String, Long> cached = cached(snapshot.id());
    if (cached != null) {
      return cached;
    }
    Map<String, Long> out = new LinkedHashMap<>();
    for (CollectionDef d : snapshot.manifest().getCollectionsList()) {
      out.put(d.getName(), fork.search(d.getName(), SearchQuery.of(null, 1), snapshot).totalHits());
    }
    synchronized (cache) {
      cache.put(snapshot.id(), Map.copyOf(out));
    }
    return out;
  }

  /** Cached counts of a snapshot, or null. */
  Map<String, Long> cached(String snapshotId) {
    synchronized (cache) {
      return cache.get(snapshotId);
    }
  }

  /**
   * Counts of {@code m} if they are cheap to have: cached, or {@code m} is its fork's head (then
   * counted now). Null otherwise: counting an older snapshot would open it, so list views leave
   * that to GetSnapshot.
   */
  Map<String, Long> ifCheap(StrataEngine engine, Manifest m) {
    Map<String, Long> recorded = recorded(m);
    if (recorded != null) {
      return recorded;
    }
    Map<String, Long> cached = cached(m.getId());
    if (cached != null) {
      return cached;
    }
    Optional<Fork> owner = engine.forkById(m.getForkId());
    if (owner.isEmpty()) {
      return null;
    }
    PublishedSnapshot head = owner.get().acquireHead();
    if (head == null) {
      return null;
    }
    try {
      return head.id().equals(m.getId()) ? count(owner.get(), head) : null;
    } finally {
      head.release();
    }
  }

  /** Counts of {@code fork}'s head snapshot; empty before its first flush. */
  Map<String, Long> head(Fork fork) {
    PublishedSnapshot head = fork.acquireHead();
    if (head == null) {
      return Map.of();
    }
    try {
      return count(fork, head);
    } finally {
      head.release();
    }
  }
}
