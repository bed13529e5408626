package dev.strata.engine.segment;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A search over one collection. Immutable.
 *
 * @param queryString Lucene classic query-parser syntax over all TEXT fields of the schema (default
 *     operator OR); {@code field:term} names a TEXT or KEYWORD field, {@code field:[a TO b]} and
 *     {@code field:n} also work on LONG/DOUBLE fields; null, empty or {@code *} matches every
 *     document
 * @param termFilters exact-match filters on KEYWORD fields (all must match)
 * @param rangeFilters range filters on LONG/DOUBLE fields (all must match)
 * @param limit number of hits to return, 1..{@value #MAX_LIMIT}
 * @param sort sort by a field, or null to sort by BM25 score (best first)
 */
public record SearchQuery(
    String queryString,
    List<TermFilter> termFilters,
    List<RangeFilter> rangeFilters,
    int limit,
    SortSpec sort) {

  /** Largest accepted {@link #limit()}. */
  public static final int MAX_LIMIT = 10_000;

  /**
   * @throws IllegalArgumentException if {@code limit} is outside 1..{@value #MAX_LIMIT}
   */
  public SearchQuery {
    termFilters = termFilters == null ? List.of() : List.copyOf(termFilters);
    rangeFilters = rangeFilters == null ? List.of() : List.copyOf(rangeFilters);
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be 1.." + MAX_LIMIT + ", got " + limit);
    }
  }

  /** A query string alone, scored, top {@code limit}. */
  public static SearchQuery of(String queryString, int limit) {
    return new SearchQuery(queryString, List.of(), List.of(), limit, null);
  }

  /** A copy with one more keyword filter. */
  public SearchQuery withTerm(String field, String value) {
    List<TermFilter> t = new ArrayList<>(termFilters);
    t.add(new TermFilter(field, value));
    return new SearchQuery(queryString, t, rangeFilters, limit, sort);
  }

  /** A copy with one more range filter. */
  public SearchQuery withRange(RangeFilter range) {
    List<RangeFilter> r = new ArrayList<>(rangeFilters);
    r.add(Objects.requireNonNull(range));
    return new SearchQuery(queryString, termFilters, r, limit, sort);
  }

  /** A copy sorted by {@code field}. */
  public SearchQuery sortedBy(String field, boolean descending) {
    return new SearchQuery(
        queryString, termFilters, rangeFilters, limit, new SortSpec(field, descending));
  }

  /** True if the query string matches everything. */
  public boolean matchesAll() {
    return queryString == null || queryString.isBlank() || queryString.strip().equals("*");
  }
}
