package dev.strata.engine.segment;

import java.util.List;

/**
 * The result of a search. Immutable.
 *
 * @param hits at most {@code limit} hits, in rank order
 * @param totalHits exact number of live matching documents
 */
public record SearchResult(List<SearchHit> hits, long totalHits) {
  /** Copies the hits. */
  public SearchResult {
    hits = List.copyOf(hits);
  }
}
