package dev.strata.engine.segment;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;

/**
 * Live documents per collection of a snapshot: for each segment, the documents of each collection
 * (postings of its {@code _collection} term) that the snapshot's {@link LivenessMap} keeps.
 *
 * <p>A segment's counts depend only on the segment and its live docs, so they are cached by
 * segment with the {@link LivenessMap#liveDocsToken} they were counted under: a publication
 * recounts only the new segment and the segments it shadowed something in, not the whole snapshot.
 *
 * <p>Not thread-safe: one per fork, used by its finalizer only.
 */
public final class LiveDocCounter {
  /** Counts of one segment under one liveness. */
  private record Counted(Object token, Map<String, Long> perCollection) {}

  private final Map<Long, Counted> cache = new HashMap<>();

  /**
   * Live documents per collection over {@code segments} under {@code liveness}; collections with no
   * live document are absent. Forgets the cached counts of segments not in {@code segments}.
   *
   * @param segments held by the caller
   * @throws IOException if an index cannot be read
   */
  public Map<String, Long> count(List<Segment> segments, LivenessMap liveness) throws IOException {
    Map<Long, Counted> next = new HashMap<>();
    Map<String, Long> out = new HashMap<>();
    for (Segment s : segments) {
      Object token = liveness.liveDocsToken(s.segmentId());
      Counted c = cache.get(s.segmentId());
      if (c == null || c.token() != token) {
        c = new Counted(token, countSegment(s, liveness.liveDocs(s.segmentId())));
      }
      next.put(s.segmentId(), c);
      c.perCollection().forEach((coll, n) -> out.merge(coll, n, Long::sum));
    }
    cache.clear();
    cache.putAll(next);
    return out;
  }

  /** Live documents per collection of one segment: postings of each {@code _collection} term. */
  static Map<String, Long> countSegment(Segment segment, Bits liveDocs) throws IOException {
    Map<String, Long> out = new HashMap<>();
    CodecReader leaf = segment.leafReader();
    if (leaf == null) {
      return out;
    }
    Terms terms = leaf.terms(LuceneFields.COLLECTION);
    if (terms == null) {
      return out;
    }
    TermsEnum te = terms.iterator();
    PostingsEnum postings = null;
    for (BytesRef term = te.next(); term != null; term = te.next()) {
      postings = te.postings(postings, PostingsEnum.NONE);
      long n = 0;
      for (int doc = postings.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = postings.nextDoc()) {
        if (liveDocs == null || liveDocs.get(doc)) {
          n++;
        }
      }
      if (n > 0) {
        out.put(term.utf8ToString(), n);
      }
    }
    return out;
  }
}
