package dev.strata.engine.model;

/**
 * The newest version of one key as the L0 buffer or a segment holds it: a document in its stored
 * form, or a tombstone ({@code stored == null}), with the LSN of the WAL record that wrote it.
 * Immutable.
 *
 * @param lsn WAL LSN of the write
 * @param stored the document's stored form (its body a view of L0 or segment bytes, not a copy),
 *     or null for a tombstone
 */
public record DocumentVersion(long lsn, EncodedDocument stored) {

  /** A put of a decoded document (encoded here). */
  public static DocumentVersion of(long lsn, Document document) {
    return new DocumentVersion(lsn, EncodedDocument.of(document));
  }

  /** A tombstone at {@code lsn}. */
  public static DocumentVersion tombstone(long lsn) {
    return new DocumentVersion(lsn, null);
  }

  /** True if this version deletes the key. */
  public boolean isTombstone() {
    return stored == null;
  }

  /**
   * The decoded document, or null for a tombstone. Decodes on every call: read {@link #stored()}
   * where the bytes will do.
   *
   * @throws IllegalArgumentException if the stored bytes do not decode
   */
  public Document document() {
    return stored == null ? null : stored.decode();
  }
}
