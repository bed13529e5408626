package dev.strata.engine.segment;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.EncodedDocument;

/**
 * One search hit. Immutable.
 *
 * @param id the document id
 * @param score BM25 score of the query string (1.0 for match-all); computed even when sorted by a
 *     field
 * @param segmentId the segment holding the live version that matched
 * @param stored that version's stored form, read from the same segment (a view of its value)
 */
public record SearchHit(String id, float score, long segmentId, EncodedDocument stored) {

  /**
   * The hit's document, decoded (on every call).
   *
   * @throws IllegalArgumentException if the stored bytes do not decode
   */
  public Document document() {
    return stored.decode();
  }
}
