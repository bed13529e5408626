package dev.strata.engine.segment;

import dev.strata.engine.model.Document;

/**
 * One search hit. Immutable.
 *
 * @param id the document id
 * @param score BM25 score of the query string (1.0 for match-all); computed even when sorted by a
 *     field
 * @param segmentId the segment holding the live version that matched
 * @param document that version, read from the same segment
 */
public record SearchHit(String id, float score, long segmentId, Document document) {}
