package dev.strata.engine.segment;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.FixedBitSet;

/**
 * Which Lucene documents of a manifest's segments are still live: a document of segment S is dead
 * (shadowed) when a segment newer than S in the same manifest has its key, as a put or as a
 * tombstone. Searches apply it as Lucene live docs ({@link SegmentSearcher}), so a document
 * replaced or deleted later never appears, and its old text no longer matches.
 *
 * <p>Immutable and thread-safe; one per published manifest, shared by every search at that
 * manifest. Copy-on-write: {@link #withNewest} clones the bitset of every segment it changes and
 * shares the others, so a published bitset is never mutated. Segments with no dead documents have
 * no entry ({@link #liveDocs} returns null: all live).
 *
 * <p>Cost: {@link #withNewest} reads every key of the newest segment once (a RocksDB scan of its
 * key prefix, without values, so tombstones count too) and, per older segment with documents, asks
 * that segment's {@link SegmentKeyFilter} (a Bloom filter on the heap, about 1 % false positives)
 * and only when it says "maybe" does one {@code TermsEnum.seekExact} on the {@code _key} term (keys
 * in sorted order, so the terms dictionary blocks are visited in order). A key new to every older
 * segment therefore costs one hash per older segment, not a terms lookup.
 */
public final class LivenessMap {
  private static final LivenessMap EMPTY = new LivenessMap(Map.of());

  /** One segment's live docs; the bitset is never mutated once in a published map. */
  private record Entry(FixedBitSet live, int liveCount) {}

  private final Map<Long, Entry> entries;

  private LivenessMap(Map<Long, Entry> entries) {
    this.entries = entries;
  }

  /** The map of a manifest with no shadowed documents (e.g. no segments, or one). */
  public static LivenessMap empty() {
    return EMPTY;
  }

  /**
   * The liveness after {@code newest} is added on top of {@code olderNewestFirst}: every document
   * of an older segment whose key {@code newest} holds (put or tombstone) is dead, in addition to
   * those already dead in this map. This map is unchanged.
   *
   * @param newest the new segment (held by the caller)
   * @param olderNewestFirst the manifest's other segments (held by the caller); order does not
   *     matter here, only that they are all older than {@code newest}
   * @throws IOException if RocksDB or a Lucene index cannot be read
   */
  public LivenessMap withNewest(Segment newest, List<Segment> olderNewestFirst, SegmentStore store)
      throws IOException {
    return withNewest(newest, olderNewestFirst, store, true);
  }

  /**
   * {@link #withNewest(Segment, List, SegmentStore)}, with the key filters asked first or not: the
   * answer must not depend on it (the filters only skip lookups that would find nothing), which
   * {@code LivenessKeyFilterPropertyTest} checks by comparing both.
   */
  LivenessMap withNewest(Segment newest, List<Segment> olderNewestFirst, SegmentStore store, boolean keyFilters)
      throws IOException {
    Builder b = new Builder(entries, keyFilters);
    b.shadow(newest, olderNewestFirst, store);
    return b.build();
  }

  /**
   * The liveness of a manifest rebuilt from scratch, e.g. after a restart: as if each segment had
   * been added with {@link #withNewest}, oldest first.
   *
   * @param newestFirst the manifest's segments, newest first (held by the caller)
   * @throws IOException if RocksDB or a Lucene index cannot be read
   */
  public static LivenessMap rebuild(List<Segment> newestFirst, SegmentStore store)
      throws IOException {
    Builder b = new Builder(Map.of(), true);
    for (int i = newestFirst.size() - 2; i >= 0; i--) {
      b.shadow(newestFirst.get(i), newestFirst.subList(i + 1, newestFirst.size()), store);
    }
    return b.build();
  }

  /**
   * The live docs to apply to segment {@code segmentId}'s Lucene segment: a read-only view, or null
   * if every document is live (Lucene's convention for {@code LeafReader.getLiveDocs()}).
   */
  public Bits liveDocs(long segmentId) {
    Entry e = entries.get(segmentId);
    return e == null ? null : e.live.asReadOnlyBits();
  }

  /** Number of live documents of a segment that has {@code maxDoc} documents. */
  public int liveDocCount(long segmentId, int maxDoc) {
    Entry e = entries.get(segmentId);
    return e == null ? maxDoc : e.liveCount;
  }

  /**
   * An identity token of segment {@code segmentId}'s live docs in this map: the same object in two
   * maps means the same live docs (entries are copy-on-write), so counts derived from them can be
   * reused. Null when every document is live.
   */
  public Object liveDocsToken(long segmentId) {
    return entries.get(segmentId);
  }

  /** Number of shadowed documents of a segment (0 if none or unknown). */
  public int deadDocCount(long segmentId) {
    Entry e = entries.get(segmentId);
    return e == null ? 0 : e.live.length() - e.liveCount;
  }

  /** The segments that have at least one dead document. */
  public Set<Long> segmentsWithDeadDocs() {
    return Collections.unmodifiableSet(entries.keySet());
  }

  /**
   * A map in which a document is dead if it is dead in this map or in {@code other} (live docs
   * AND-ed per segment). Used by the finalizer to combine the liveness a flush's stream phase
   * computed against an older head with the current head's. Neither map changes.
   */
  public LivenessMap and(LivenessMap other) {
    if (other.entries.isEmpty()) {
      return this;
    }
    if (entries.isEmpty()) {
      return other;
    }
    Map<Long, Entry> m = new HashMap<>(entries);
    for (Map.Entry<Long, Entry> e : other.entries.entrySet()) {
      Entry mine = m.get(e.getKey());
      if (mine == null) {
        m.put(e.getKey(), e.getValue());
      } else if (mine != e.getValue()) {
        FixedBitSet live = mine.live.clone();
        live.and(e.getValue().live);
        m.put(e.getKey(), new Entry(live, live.cardinality()));
      }
    }
    return new LivenessMap(Map.copyOf(m));
  }

  /**
   * A map with only the entries of {@code segmentIds}: after a compaction or expiry removed
   * segments from the manifest. Shares the remaining bitsets.
   */
  public LivenessMap retainOnly(Set<Long> segmentIds) {
    Map<Long, Entry> m = new HashMap<>();
    for (Map.Entry<Long, Entry> e : entries.entrySet()) {
      if (segmentIds.contains(e.getKey())) {
        m.put(e.getKey(), e.getValue());
      }
    }
    return m.size() == entries.size() ? this : new LivenessMap(Map.copyOf(m));
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("LivenessMap{");
    List<Long> ids = new ArrayList<>(entries.keySet());
    Collections.sort(ids);
    for (long id : ids) {
      Entry e = entries.get(id);
      sb.append(SegmentFormat.hex(id))
          .append('=')
          .append(e.liveCount)
          .append('/')
          .append(e.live.length())
          .append(' ');
    }
    return sb.append('}').toString();
  }

  /**
   * Accumulates shadowing; each bitset of the base map is cloned at most once (on first change), so
   * a rebuild over many segments does not copy per step.
   */
  private static final class Builder {
    private final Map<Long, Entry> base;
    private final Map<Long, FixedBitSet> changed = new HashMap<>();
    private final Map<Long, Integer> liveCounts = new HashMap<>();
    private final boolean keyFilters;

    Builder(Map<Long, Entry> base, boolean keyFilters) {
      this.base = base;
      this.keyFilters = keyFilters;
    }

    /** One older segment's lookup state for a shadowing pass. */
    private static final class Target {
      final long segmentId;
      final CodecReader leaf;
      final SegmentKeyFilter filter;
      final TermsEnum terms;
      PostingsEnum postings;

      Target(long segmentId, CodecReader leaf, SegmentKeyFilter filter, TermsEnum terms) {
        this.segmentId = segmentId;
        this.leaf = leaf;
        this.filter = filter;
        this.terms = terms;
      }
    }

    void shadow(Segment newest, List<Segment> older, SegmentStore store) throws IOException {
      List<Target> targets = new ArrayList<>();
      for (Segment s : older) {
        if (s.segmentId() == newest.segmentId()) {
          continue;
        }
        CodecReader leaf = s.leafReader();
        if (leaf == null) {
          continue; // tombstones only: nothing to shadow
        }
        Terms t = leaf.terms(LuceneFields.KEY);
        if (t != null) {
          targets.add(new Target(s.segmentId(), leaf, keyFilters ? s.keyFilter() : null, t.iterator()));
        }
      }
      if (targets.isEmpty()) {
        return;
      }
      BytesRef term = new BytesRef();
      try (RangeCursor keys = store.segmentKeys(newest.segmentId())) {
        while (keys.next()) {
          byte[] key = keys.key();
          term.bytes = key;
          term.offset = SegmentFormat.PREFIX_BYTES;
          term.length = key.length - SegmentFormat.PREFIX_BYTES;
          for (Target t : targets) {
            // The filter answers "certainly absent" for a key new to that segment, the usual case.
            if (t.filter != null && !t.filter.mightContain(term)) {
              continue;
            }
            if (t.terms.seekExact(term)) {
              t.postings = t.terms.postings(t.postings, PostingsEnum.NONE);
              for (int doc = t.postings.nextDoc();
                  doc != DocIdSetIterator.NO_MORE_DOCS;
                  doc = t.postings.nextDoc()) {
                kill(t.segmentId, t.leaf.maxDoc(), doc);
              }
            }
          }
        }
      }
    }

    private void kill(long segmentId, int maxDoc, int doc) {
      FixedBitSet bits = changed.get(segmentId);
      int live;
      if (bits == null) {
        Entry e = base.get(segmentId);
        if (e == null) {
          bits = new FixedBitSet(maxDoc);
          bits.set(0, maxDoc);
          live = maxDoc;
        } else {
          bits = e.live.clone();
          live = e.liveCount;
        }
        changed.put(segmentId, bits);
      } else {
        live = liveCounts.get(segmentId);
      }
      if (bits.getAndClear(doc)) {
        live--;
      }
      liveCounts.put(segmentId, live);
    }

    LivenessMap build() {
      if (changed.isEmpty()) {
        return base.isEmpty() ? EMPTY : new LivenessMap(base);
      }
      Map<Long, Entry> m = new HashMap<>(base);
      for (Map.Entry<Long, FixedBitSet> e : changed.entrySet()) {
        m.put(e.getKey(), new Entry(e.getValue(), liveCounts.get(e.getKey())));
      }
      return new LivenessMap(Map.copyOf(m));
    }
  }
}
