package dev.strata.engine.fork;

/**
 * One conflict of a merge. Immutable.
 *
 * @param kind a document or a collection's schema
 * @param collection the collection
 * @param id the document id; empty for a schema conflict
 * @param sourceLsn the LSN of the source's version (in the WAL of the fork that wrote it), 0 if
 *     unknown
 * @param targetLsn the LSN of the target's version, 0 if unknown
 * @param sourceDeleted the source deleted the document
 * @param targetDeleted the target deleted the document
 * @param detail for a schema conflict, how the schemas differ; else empty
 */
public record MergeConflict(
    Kind kind,
    String collection,
    String id,
    long sourceLsn,
    long targetLsn,
    boolean sourceDeleted,
    boolean targetDeleted,
    String detail) {

  /** What a conflict is about. */
  public enum Kind {
    /** A document changed on both sides since the base, to different results. */
    DOCUMENT,
    /** A collection both sides created, with different schemas: no strategy resolves it. */
    SCHEMA
  }
}
