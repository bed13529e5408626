package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.Names;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
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
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.SortedNumericSelector;
import org.apache.lucene.search.SortedNumericSortField;
import org.apache.lucene.search.SortedSetSelector;
import org.apache.lucene.search.SortedSetSortField;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopFieldCollector;
import org.apache.lucene.search.TopFieldCollectorManager;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.search.TotalHits;
import org.apache.lucene.util.BytesRef;

/**
 * Full-text search over the segments of one manifest. Stateless and thread-safe.
 *
 * <p>One {@link IndexSearcher} runs over a {@link MultiReader} of the segments' Lucene segments,
 * each wrapped in a {@link LivenessFilteredReader} that applies the manifest's {@link LivenessMap}:
 * a document shadowed by a newer segment (updated or deleted) neither matches nor counts. BM25
 * statistics are those of the manifest's segments (shadowed documents included, as Lucene does for
 * deleted documents until a merge). The {@code _collection} filter is always applied. Hits map back
 * to ids through the {@code _id} doc values; each hit's document is read from its own segment with
 * {@link SegmentStore#get} (it is live there by construction).
 */
public final class SegmentSearcher {
  /**
   * Scored queries count matches exactly up to this many; beyond it {@link
   * SearchResult#totalHitsLowerBound()} is set (the API's {@code total_hits_lower_bound}).
   */
  public static final int TOTAL_HITS_THRESHOLD = 10_000;

  /** A query string that matches every document (null, blank or {@code *}). */
  static boolean isMatchAll(SearchQuery query) {
    String q = query.queryString();
    return q == null || q.isBlank() || q.strip().equals("*");
  }

  private SegmentSearcher() {}

  /**
   * Searches {@code collection} in the given segments.
   *
   * @param newestFirst the manifest's segments, newest first, held by the caller for the duration
   *     of the call
   * @param liveness the manifest's liveness map
   * @param schema the collection's schema
   * @return the top {@code query.limit()} live hits and the exact total number of live matches
   * @throws IllegalArgumentException if the query string does not parse (with the parser's
   *     message), or a filter or sort names a field that is missing or of the wrong kind
   * @throws SegmentCorruptionException if a matching Lucene document has no put in its segment
   * @throws IOException if an index or RocksDB cannot be read
   */
  public static SearchResult search(
      List<Segment> newestFirst,
      LivenessMap liveness,
      String collection,
      CollectionSchema schema,
      SearchQuery query,
      SegmentStore store)
      throws IOException {
    Names.requireValidCollection(collection);
    Query q = buildQuery(collection, schema, query);
    Sort sort = buildSort(collection, schema, query.sort());

    List<IndexReader> readers = new ArrayList<>();
    List<Segment> readerSegments = new ArrayList<>();
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
      readerSegments.add(s);
    }
    if (readers.isEmpty()) {
      return new SearchResult(List.of(), 0);
    }
    // closeSubReaders=false: closing the MultiReader only drops its references to the wrappers;
    // the shared segment readers stay open (they belong to the Segment handles).
    MultiReader multi = new MultiReader(readers.toArray(new IndexReader[0]), false);
    try {
      IndexSearcher searcher = new IndexSearcher(multi);
      searcher.setQueryCache(null);
      TopDocs top;
      try {
        // Counting every match of a scored query turns off Lucene's skipping of blocks that cannot
        // make the top k (block-max WAND): past the threshold the count is a lower bound. A
        // match-all query keeps an exact count (collection document counts rely on it; Lucene
        // counts it without scoring).
        int threshold = isMatchAll(query) ? Integer.MAX_VALUE : TOTAL_HITS_THRESHOLD;
        if (sort == null) {
          top = searcher.search(q, new TopScoreDocCollectorManager(query.limit(), threshold));
        } else {
          top =
              searcher.search(
                  q, new TopFieldCollectorManager(sort, query.limit(), null, threshold));
          TopFieldCollector.populateScores(top.scoreDocs, searcher, q);
        }
      } catch (IndexSearcher.TooManyClauses e) {
        throw new IllegalArgumentException("query is too complex: " + e.getMessage(), e);
      }
      List<LeafReaderContext> leaves = multi.leaves();
      List<SearchHit> hits = new ArrayList<>(top.scoreDocs.length);
      for (ScoreDoc sd : top.scoreDocs) {
        int leafIndex = ReaderUtil.subIndex(sd.doc, leaves);
        LeafReaderContext ctx = leaves.get(leafIndex);
        Segment segment = readerSegments.get(leafIndex);
        String id = idOf(segment.segmentId(), ctx, sd.doc - ctx.docBase);
        DocumentVersion v;
        try {
          v = store.get(segment.segmentId(), collection, id);
        } catch (UncheckedIOException e) {
          throw e.getCause();
        }
        if (v == null || v.isTombstone()) {
          throw new SegmentCorruptionException(
              segment.segmentId(),
              "Lucene document for '" + collection + "/" + id + "' has no put in RocksDB");
        }
        hits.add(new SearchHit(id, sd.score, segment.segmentId(), v.stored()));
      }
      return new SearchResult(
          hits,
          top.totalHits.value(),
          top.totalHits.relation() == TotalHits.Relation.GREATER_THAN_OR_EQUAL_TO);
    } finally {
      multi.close();
    }
  }

  private static String idOf(long segmentId, LeafReaderContext ctx, int doc) throws IOException {
    SortedDocValues ids = DocValues.getSorted(ctx.reader(), LuceneFields.ID);
    if (!ids.advanceExact(doc)) {
      throw new SegmentCorruptionException(segmentId, "Lucene doc " + doc + " has no _id");
    }
    return ids.lookupOrd(ids.ordValue()).utf8ToString();
  }

  /** The full query: the parsed string plus the collection, keyword and range filters. */
  static Query buildQuery(String collection, CollectionSchema schema, SearchQuery query) {
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    b.add(parse(collection, schema, query), BooleanClause.Occur.MUST);
    b.add(new TermQuery(new Term(LuceneFields.COLLECTION, collection)), BooleanClause.Occur.FILTER);
    for (TermFilter f : query.termFilters()) {
      FieldSpec s = require(collection, schema, f.field(), "a term filter", FieldKind.KEYWORD);
      String name = LuceneFields.field(collection, s.name());
      Query terms =
          f.values().size() == 1
              ? new TermQuery(new Term(name, f.values().get(0)))
              : new TermInSetQuery(name, f.values().stream().map(BytesRef::new).toList());
      b.add(terms, BooleanClause.Occur.FILTER);
    }
    for (RangeFilter f : query.rangeFilters()) {
      FieldSpec s =
          require(
              collection, schema, f.field(), "a range filter", FieldKind.LONG, FieldKind.DOUBLE);
      String name = LuceneFields.field(collection, s.name());
      Query range =
          s.kind() == FieldKind.LONG
              ? SchemaQueryParser.longRange(
                  name,
                  integral(f.field(), f.lower()),
                  integral(f.field(), f.upper()),
                  f.lowerInclusive(),
                  f.upperInclusive())
              : SchemaQueryParser.doubleRange(
                  name,
                  f.lower() == null ? null : f.lower().doubleValue(),
                  f.upper() == null ? null : f.upper().doubleValue(),
                  f.lowerInclusive(),
                  f.upperInclusive());
      b.add(range, BooleanClause.Occur.FILTER);
    }
    return b.build();
  }

  private static Query parse(String collection, CollectionSchema schema, SearchQuery query) {
    if (query.matchesAll()) {
      return MatchAllDocsQuery.INSTANCE;
    }
    // The wrapper is per search; the analyzers it delegates to (and their reusable token
    // streams) are shared, so closing it releases nothing shared.
    try (Analyzer analyzer = Analyzers.forCollections(Map.of(collection, schema))) {
      return new SchemaQueryParser(collection, schema, analyzer).parse(query.queryString());
    } catch (ParseException e) {
      // Lucene's message starts with the whole query ("Cannot parse '<query>': ..."): a rejected
      // 1 MB query must not come back in the error whole. Name it by a prefix and its length.
      String q = query.queryString();
      String m = e.getMessage() == null ? "" : e.getMessage();
      String echo = "Cannot parse '" + q + "': ";
      String why = m.startsWith(echo) ? m.substring(echo.length()) : m;
      // The lexer's complaints quote the token they choked on, which can be most of the query.
      throw new IllegalArgumentException("bad query string " + excerpt(q) + ": " + prefix(why, 200), e);
    } catch (IndexSearcher.TooManyClauses e) {
      throw new IllegalArgumentException(
          "query is too complex: " + e.getMessage() + " (query " + excerpt(query.queryString()) + ")", e);
    }
  }

  /** Longest query echoed whole in an error, chars. */
  static final int QUERY_ECHO_CHARS = 100;

  /** The query as an error names it: whole if short, else a prefix and its length. */
  static String excerpt(String query) {
    if (query.length() <= QUERY_ECHO_CHARS) {
      return "'" + query + "'";
    }
    return "of " + query.length() + " chars starting '" + prefix(query, QUERY_ECHO_CHARS) + "'";
  }

  /** At most {@code maxChars} of {@code s} ("..." marks a cut), never splitting a surrogate pair. */
  private static String prefix(String s, int maxChars) {
    if (s.length() <= maxChars) {
      return s;
    }
    int end = maxChars;
    if (Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end) + "...";
  }

  private static Long integral(String field, Number n) {
    if (n == null) {
      return null;
    }
    if (n instanceof Long || n instanceof Integer || n instanceof Short || n instanceof Byte) {
      return n.longValue();
    }
    double d = n.doubleValue();
    if (d == Math.rint(d) && d >= -0x1p63 && d < 0x1p63) {
      return (long) d;
    }
    throw new IllegalArgumentException(
        "range filter on LONG field '" + field + "' needs integer bounds, got " + n);
  }

  private static Sort buildSort(String collection, CollectionSchema schema, SortSpec spec) {
    if (spec == null) {
      return null;
    }
    FieldSpec s =
        require(
            collection,
            schema,
            spec.field(),
            "sorting",
            FieldKind.LONG,
            FieldKind.DOUBLE,
            FieldKind.KEYWORD);
    String name = LuceneFields.field(collection, s.name());
    boolean rev = spec.descending();
    // Missing values sort last in both directions.
    SortField primary =
        switch (s.kind()) {
          case LONG ->
              new SortedNumericSortField(
                  name,
                  SortField.Type.LONG,
                  rev,
                  SortedNumericSelector.Type.MIN,
                  rev ? Long.MIN_VALUE : Long.MAX_VALUE);
          case DOUBLE ->
              new SortedNumericSortField(
                  name,
                  SortField.Type.DOUBLE,
                  rev,
                  SortedNumericSelector.Type.MIN,
                  rev ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY);
          default ->
              new SortedSetSortField(
                  name,
                  rev,
                  SortedSetSelector.Type.MIN,
                  rev ? SortField.STRING_FIRST : SortField.STRING_LAST);
        };
    return new Sort(primary, new SortField(LuceneFields.ID, SortField.Type.STRING));
  }

  private static FieldSpec require(
      String collection, CollectionSchema schema, String field, String use, FieldKind... kinds) {
    FieldSpec s =
        schema
            .field(field)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "cannot use field '"
                            + field
                            + "' for "
                            + use
                            + ": it is not in the schema of collection '"
                            + collection
                            + "'"));
    for (FieldKind k : kinds) {
      if (s.kind() == k) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "cannot use field '"
            + field
            + "' for "
            + use
            + ": it is "
            + s.kind()
            + ", expected "
            + Arrays.toString(kinds));
  }
}
