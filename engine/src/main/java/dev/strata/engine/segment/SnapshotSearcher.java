package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Names;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiReader;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.SortedDocValues;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopFieldCollector;
import org.apache.lucene.search.TopFieldCollectorManager;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.search.TotalHits;

/**
 * The Lucene view of one published snapshot, built once and shared by every query at that
 * snapshot (Lucene's {@code SearcherManager} idea, keyed by snapshot instead of refreshed): one
 * {@link IndexSearcher} over a {@link MultiReader} of the snapshot's segments, each seen through a
 * {@link LivenessFilteredReader} of the snapshot's {@link LivenessMap}, and per collection the
 * query set-up — the per-field analyzer and a small pool of {@link SchemaQueryParser}s (a parser is
 * not thread-safe, but can be reused one parse at a time). A query then costs its own parse,
 * scoring, and one RocksDB {@code MultiGet} for the documents of its hits.
 *
 * <h2>Life cycle</h2>
 *
 * The owner (a {@code PublishedSnapshot}) builds it on the first search and {@link #close}s it when
 * its last reference is released, before the segment handles go. The searcher holds no file of its
 * own: the segments' readers belong to their handles ({@link Segment}); the wrappers and the
 * multi-reader are plain objects ({@code closeSubReaders=false}), so closing drops references only.
 * {@link #openCount()} counts searchers built and not yet closed, for leak tests.
 *
 * <p>Thread-safe: the searcher, the readers and the caches may be used by any number of threads at
 * once; the parser pool hands each parser to one thread at a time.
 */
public final class SnapshotSearcher implements Closeable {
  /** Parsers kept per collection: more concurrent queries build a parser and drop it after. */
  private static final int PARSERS_PER_COLLECTION = 8;

  private static final AtomicInteger OPEN = new AtomicInteger();

  /** Segments with at least one live document, in leaf order. */
  private final List<Segment> leafSegments;
  /** Null when no segment has a live document. */
  private final MultiReader multi;
  private final IndexSearcher searcher;
  private final ConcurrentHashMap<String, CollectionSearch> collections = new ConcurrentHashMap<>();
  private final AtomicInteger closed = new AtomicInteger();

  private SnapshotSearcher(List<Segment> leafSegments, MultiReader multi) {
    this.leafSegments = leafSegments;
    this.multi = multi;
    if (multi == null) {
      this.searcher = null;
    } else {
      this.searcher = new IndexSearcher(multi);
      // Live docs differ per snapshot while segment cores are shared: no query cache (see
      // LivenessFilteredReader).
      searcher.setQueryCache(null);
    }
    OPEN.incrementAndGet();
  }

  /**
   * Builds the view of a snapshot's segments. Cheap: no I/O, a wrapper per segment.
   *
   * @param newestFirst the snapshot's segments, held for as long as this searcher is open
   * @param liveness the snapshot's liveness map
   */
  public static SnapshotSearcher open(List<Segment> newestFirst, LivenessMap liveness) {
    List<IndexReader> readers = new ArrayList<>();
    List<Segment> leafSegments = new ArrayList<>();
    for (Segment s : newestFirst) {
      CodecReader leaf = s.leafReader();
      if (leaf == null) {
        continue;
      }
      int live = liveness.liveDocCount(s.segmentId(), leaf.maxDoc());
      if (live == 0) {
        continue;
      }
      readers.add(new LivenessFilteredReader(leaf, liveness.liveDocs(s.segmentId()), live));
      leafSegments.add(s);
    }
    if (readers.isEmpty()) {
      return new SnapshotSearcher(List.of(), null);
    }
    try {
      // closeSubReaders=false: closing the MultiReader drops its references to the wrappers; the
      // shared segment readers stay open (they belong to the Segment handles).
      return new SnapshotSearcher(List.copyOf(leafSegments), new MultiReader(readers.toArray(new IndexReader[0]), false));
    } catch (IOException e) {
      throw new UncheckedIOException(e); // MultiReader only declares it
    }
  }

  /** Searchers built and not closed yet, process-wide (for leak tests and diagnostics). */
  public static int openCount() {
    return OPEN.get();
  }

  /**
   * The cached query set-up of {@code collection}, or null if no query ran on it yet (then call
   * {@link #collection(String, CollectionSchema)} with the snapshot's schema).
   */
  public CollectionSearch collection(String collection) {
    return collections.get(collection);
  }

  /**
   * The query set-up of {@code collection} under {@code schema}, cached for the snapshot. A schema
   * that differs from the cached one (not possible for one snapshot) gets a set-up of its own that
   * is not cached.
   *
   * @throws IllegalArgumentException if the collection name is invalid or a TEXT field names an
   *     unknown analyzer
   */
  public CollectionSearch collection(String collection, CollectionSchema schema) {
    CollectionSearch c = collections.get(collection);
    if (c != null && c.schema.equals(schema)) {
      return c;
    }
    Names.requireValidCollection(collection);
    CollectionSearch fresh = new CollectionSearch(collection, schema);
    if (c == null) {
      CollectionSearch raced = collections.putIfAbsent(collection, fresh);
      return raced != null && raced.schema.equals(schema) ? raced : fresh;
    }
    return fresh;
  }

  /** Drops the view (idempotent). Queries running on it finish normally. */
  @Override
  public void close() {
    if (closed.compareAndSet(0, 1)) {
      OPEN.decrementAndGet();
      collections.values().forEach(CollectionSearch::close);
      if (multi != null) {
        try {
          multi.close();
        } catch (IOException e) {
          throw new UncheckedIOException(e); // it closes nothing but references (see the class comment)
        }
      }
    }
  }

  /** Searches one collection of the snapshot; reused by every query of that collection. */
  public final class CollectionSearch {
    private final String collection;
    private final CollectionSchema schema;
    private final Analyzer analyzer;
    private final AtomicReferenceArray<SchemaQueryParser> idle = new AtomicReferenceArray<>(PARSERS_PER_COLLECTION);
    private final SegmentSearcher.QueryStringParser parser = this::parse;
    /** See {@link #onlyThisCollection()}; null until the first search. */
    private volatile Boolean onlyThisCollection;

    private CollectionSearch(String collection, CollectionSchema schema) {
      this.collection = collection;
      this.schema = schema;
      this.analyzer = Analyzers.forCollections(Map.of(collection, schema));
    }

    /** The collection's schema in this snapshot. */
    public CollectionSchema schema() {
      return schema;
    }

    /**
     * Runs {@code query}: the top {@code query.limit()} live hits and the number of live matches
     * (exact up to {@link SegmentSearcher#TOTAL_HITS_THRESHOLD} for a scored query, exact for
     * match-all). The hits' documents are read with one RocksDB {@code MultiGet}, undecoded
     * (their stored form, a view of the segment's value).
     *
     * @throws IllegalArgumentException if the query string does not parse, or a filter or sort
     *     names a field that is missing or of the wrong kind
     * @throws SegmentCorruptionException if a matching Lucene document has no put in its segment
     * @throws IOException if an index or RocksDB cannot be read
     */
    public SearchResult search(SearchQuery query, SegmentStore store) throws IOException {
      if (searcher == null) {
        SegmentSearcher.buildQuery(collection, schema, query, parser, false); // bad input still fails
        SegmentSearcher.buildSort(collection, schema, query.sort());
        return new SearchResult(List.of(), 0);
      }
      Query q = SegmentSearcher.buildQuery(collection, schema, query, parser, !onlyThisCollection());
      Sort sort = SegmentSearcher.buildSort(collection, schema, query.sort());
      TopDocs top;
      try {
        // Counting every match of a scored query turns off Lucene's skipping of blocks that cannot
        // make the top k (block-max WAND): past the threshold the count is a lower bound. A
        // match-all query keeps an exact count (collection document counts rely on it; Lucene
        // counts it without scoring).
        int threshold = SegmentSearcher.isMatchAll(query) ? Integer.MAX_VALUE : SegmentSearcher.TOTAL_HITS_THRESHOLD;
        if (sort == null) {
          top = searcher.search(q, new TopScoreDocCollectorManager(query.limit(), threshold));
        } else {
          top = searcher.search(q, new TopFieldCollectorManager(sort, query.limit(), null, threshold));
          TopFieldCollector.populateScores(top.scoreDocs, searcher, q);
        }
      } catch (IndexSearcher.TooManyClauses e) {
        throw new IllegalArgumentException(
            "query is too complex: " + e.getMessage() + " (query " + SegmentSearcher.excerpt(query.queryString()) + ")", e);
      }
      return new SearchResult(
          hits(top.scoreDocs, store),
          top.totalHits.value(),
          top.totalHits.relation() == TotalHits.Relation.GREATER_THAN_OR_EQUAL_TO);
    }

    /**
     * Whether every Lucene document of the snapshot's searched segments (live or shadowed) belongs
     * to this collection: its {@code _collection} term's document frequency equals the segment's
     * maxDoc in every leaf. Then the collection filter matches everything and is left out. Computed
     * on the first search (a terms-dictionary seek per segment) and kept: the snapshot's segments
     * never change. A race computes it twice with the same answer.
     */
    private boolean onlyThisCollection() throws IOException {
      Boolean only = onlyThisCollection;
      if (only == null) {
        Term term = new Term(LuceneFields.COLLECTION, collection);
        boolean all = true;
        for (LeafReaderContext leaf : multi.leaves()) {
          if (leaf.reader().docFreq(term) != leaf.reader().maxDoc()) {
            all = false;
            break;
          }
        }
        onlyThisCollection = only = all;
      }
      return only;
    }

    /** The hits with their documents, read from their own segments in one MultiGet. */
    private List<SearchHit> hits(ScoreDoc[] scoreDocs, SegmentStore store) throws IOException {
      int n = scoreDocs.length;
      if (n == 0) {
        return List.of();
      }
      List<LeafReaderContext> leaves = multi.leaves();
      long[] segmentIds = new long[n];
      String[] idOf = new String[n];
      // Visit the hits in doc order (doc in the high bits, hit index in the low), so that one
      // forward-only _id doc-values iterator per segment serves all of that segment's hits.
      long[] byDoc = new long[n];
      for (int i = 0; i < n; i++) {
        byDoc[i] = ((long) scoreDocs[i].doc << 32) | i;
      }
      Arrays.sort(byDoc);
      SortedDocValues idValues = null;
      int idValuesLeaf = -1;
      for (long packed : byDoc) {
        int i = (int) packed;
        int doc = (int) (packed >>> 32);
        LeafReaderContext ctx = leaves.get(ReaderUtil.subIndex(doc, leaves));
        if (ctx.ord != idValuesLeaf) {
          idValues = DocValues.getSorted(ctx.reader(), LuceneFields.ID);
          idValuesLeaf = ctx.ord;
        }
        segmentIds[i] = leafSegments.get(ctx.ord).segmentId();
        idOf[i] = SegmentSearcher.idOf(segmentIds[i], idValues, doc - ctx.docBase);
      }
      List<String> ids = Arrays.asList(idOf);
      DocumentVersion[] versions;
      try {
        versions = store.getEach(segmentIds, collection, ids);
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
      List<SearchHit> hits = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        DocumentVersion v = versions[i];
        if (v == null || v.isTombstone()) {
          throw new SegmentCorruptionException(
              segmentIds[i], "Lucene document for '" + collection + "/" + ids.get(i) + "' has no put in RocksDB");
        }
        hits.add(new SearchHit(ids.get(i), scoreDocs[i].score, segmentIds[i], v.stored()));
      }
      return hits;
    }

    /** Parses with a pooled parser (one parse at a time per parser). */
    private Query parse(SearchQuery query) throws ParseException {
      SchemaQueryParser p = take();
      try {
        return p.parse(query.queryString());
      } finally {
        give(p);
      }
    }

    private SchemaQueryParser take() {
      for (int i = 0; i < PARSERS_PER_COLLECTION; i++) {
        SchemaQueryParser p = idle.getAndSet(i, null);
        if (p != null) {
          return p;
        }
      }
      return new SchemaQueryParser(collection, schema, analyzer);
    }

    private void give(SchemaQueryParser p) {
      for (int i = 0; i < PARSERS_PER_COLLECTION; i++) {
        if (idle.compareAndSet(i, null, p)) {
          return;
        }
      }
    }

    private void close() {
      // The wrapper's delegates are the shared analyzers (Analyzers): this frees the wrapper only.
      analyzer.close();
    }
  }
}
