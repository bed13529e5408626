package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.apache.lucene.index.SortedDocValues;
import org.apache.lucene.index.Term;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.SortedNumericSelector;
import org.apache.lucene.search.SortedNumericSortField;
import org.apache.lucene.search.SortedSetSelector;
import org.apache.lucene.search.SortedSetSortField;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.util.BytesRef;

/**
 * Full-text search over the segments of one manifest: the query language (parse, filters, sort)
 * and a one-off search. Stateless and thread-safe.
 *
 * <p>One {@link IndexSearcher} runs over a {@code MultiReader} of the segments' Lucene segments,
 * each wrapped in a {@link LivenessFilteredReader} that applies the manifest's {@link LivenessMap}:
 * a document shadowed by a newer segment (updated or deleted) neither matches nor counts. BM25
 * statistics are those of the manifest's segments (shadowed documents included, as Lucene does for
 * deleted documents until a merge). The {@code _collection} filter is applied unless every document
 * of the searched segments belongs to the collection (then it would match everything). Hits map back
 * to ids through the {@code _id} doc values; the hits' documents are read from their own segments
 * (where they are live by construction) with one {@code MultiGet}. A published snapshot keeps that
 * view open for all its queries ({@link SnapshotSearcher}); {@link #search} builds it for one query.
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
    try (SnapshotSearcher s = SnapshotSearcher.open(newestFirst, liveness)) {
      return s.collection(collection, schema).search(query, store);
    }
  }

  /**
   * The id of Lucene document {@code doc} of a segment, from its {@code _id} doc values.
   *
   * @param ids that segment's {@code _id} values, positioned before {@code doc} (forward only)
   */
  static String idOf(long segmentId, SortedDocValues ids, int doc) throws IOException {
    if (!ids.advanceExact(doc)) {
      throw new SegmentCorruptionException(segmentId, "Lucene doc " + doc + " has no _id");
    }
    return ids.lookupOrd(ids.ordValue()).utf8ToString();
  }

  /** A query-string parser of one collection. */
  @FunctionalInterface
  interface QueryStringParser {
    Query parse(SearchQuery query) throws ParseException;
  }

  /**
   * The full query: the string parsed by {@code parser} (unless it matches all) plus the
   * collection, keyword and range filters.
   *
   * @param collectionFilter whether to add the {@code _collection} filter; false only when every
   *     Lucene document of the searched segments belongs to {@code collection} (then the filter
   *     matches everything and would only cost a conjunction per scored document, and turn Lucene's
   *     MaxScore scorer into its slower filtered variant: the JFR profile of issue #13's third pass)
   */
  static Query buildQuery(
      String collection, CollectionSchema schema, SearchQuery query, QueryStringParser parser, boolean collectionFilter) {
    Query parsed = parse(query, parser);
    if (!collectionFilter && query.termFilters().isEmpty() && query.rangeFilters().isEmpty()) {
      return parsed;
    }
    BooleanQuery.Builder b = new BooleanQuery.Builder();
    b.add(parsed, BooleanClause.Occur.MUST);
    if (collectionFilter) {
      b.add(new TermQuery(new Term(LuceneFields.COLLECTION, collection)), BooleanClause.Occur.FILTER);
    }
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

  private static Query parse(SearchQuery query, QueryStringParser parser) {
    if (query.matchesAll()) {
      return MatchAllDocsQuery.INSTANCE;
    }
    try {
      return parser.parse(query);
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

  static Sort buildSort(String collection, CollectionSchema schema, SortSpec spec) {
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
