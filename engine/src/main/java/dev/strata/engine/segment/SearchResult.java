package dev.strata.engine.segment;

import java.util.List;

/**
 * The result of a search. Immutable.
 *
 * @param hits at most {@code limit} hits, in rank order
 * @param totalHits number of live matching documents: exact, unless {@code totalHitsLowerBound}
 * @param totalHitsLowerBound true when counting stopped early ({@link SegmentSearcher#TOTAL_HITS_THRESHOLD}
 *     matches or more, a scored query): {@code totalHits} is then a lower bound
 */
public record SearchResult(List<SearchHit> hits, long totalHits, boolean totalHitsLowerBound) {
  /** Copies the hits. */
  public SearchResult {
    hits = List.copyOf(hits);
  }

  /** An exact result. */
  public SearchResult(List<SearchHit> hits, long totalHits) {
    this(hits, totalHits, false);
  }
}
