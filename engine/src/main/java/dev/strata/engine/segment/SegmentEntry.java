package dev.strata.engine.segment;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Names;
import java.util.Objects;

/**
 * One key of a segment: a document version (put or tombstone) of {@code id} in {@code collection}.
 * The input of {@link SegmentStore#write} and what {@link SegmentStore#scan} returns. Immutable.
 *
 * @param collection collection name ({@link Names#requireValidCollection})
 * @param id document id ({@link Document#validateId}: 1..512 UTF-8 bytes, no NUL)
 * @param version the version: its LSN and the document, or a null document for a tombstone
 */
public record SegmentEntry(String collection, String id, DocumentVersion version) {

  /**
   * @throws IllegalArgumentException if the collection name or the id is invalid, or if a put's
   *     document carries another id
   * @throws NullPointerException if an argument is null
   */
  public SegmentEntry {
    Names.requireValidCollection(collection);
    Document.validateId(id);
    Objects.requireNonNull(version, "version");
    if (version.document() != null && !version.document().id().equals(id)) {
      throw new IllegalArgumentException(
          "entry id '" + id + "' differs from its document's id '" + version.document().id() + "'");
    }
  }

  /** A put of {@code document} at {@code lsn}. */
  public static SegmentEntry put(String collection, long lsn, Document document) {
    return new SegmentEntry(collection, document.id(), new DocumentVersion(lsn, document));
  }

  /** A tombstone of {@code id} at {@code lsn}. */
  public static SegmentEntry tombstone(String collection, long lsn, String id) {
    return new SegmentEntry(collection, id, new DocumentVersion(lsn, null));
  }
}
