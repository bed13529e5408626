package dev.strata.engine.model;

/**
 * The newest version of one key as the L0 buffer or a segment holds it: a document, or a tombstone
 * (document == null), with the LSN of the WAL record that wrote it.
 *
 * @param lsn WAL LSN of the write
 * @param document the document, or null for a tombstone
 */
public record DocumentVersion(long lsn, Document document) {

  /** True if this version deletes the key. */
  public boolean isTombstone() {
    return document == null;
  }
}
