package dev.strata.engine.segment;

import dev.strata.engine.model.Document;

/**
 * One search hit. Immutable.
 *
 * @param id the document id
 * @param score BM25 score of the query string (1.0 for match-all); computed even when sorted by a
 *     field
 * @param segmentId the segment holding the live version that matched
 * @param stored that version as the segment stores it (a put), read from the same segment
 */
public record SearchHit(String id, float score, long segmentId, StoredVersion stored) {
  /**
   * The hit's document, decoded from {@link #stored()} (each call decodes again).
   *
   * @throws java.io.UncheckedIOException if the stored bytes do not decode
   */
  public Document document() {
    return stored.document(id);
  }
}
