package dev.strata.engine.segment;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import java.util.Objects;

/**
 * One key of a segment: a document version (put or tombstone) of {@code id} in {@code collection}.
 * The input of {@link SegmentStore#write} and what {@link SegmentStore#scan} returns. Immutable.
 *
 * @param collection collection name ({@link dev.strata.engine.model.Names#requireValidCollection})
 * @param id document id ({@link Document#validateId}: 1..512 UTF-8 bytes, no NUL)
 * @param version the version: its LSN and the document's stored form, or none for a tombstone
 */
public record SegmentEntry(String collection, String id, DocumentVersion version) {

  /**
   * Cheap checks only, because scans build one entry per key: the collection name and the id are
   * fully validated by {@link SegmentStore#write} before anything is written.
   *
   * @throws IllegalArgumentException if a put's document carries another id
   * @throws NullPointerException if an argument is null
   */
  public SegmentEntry {
    Objects.requireNonNull(collection, "collection");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(version, "version");
    if (version.stored() != null && !version.stored().id().equals(id)) {
      throw new IllegalArgumentException(
          "entry id '" + id + "' differs from its document's id '" + version.stored().id() + "'");
    }
  }

  /** A put of {@code document} at {@code lsn}. */
  public static SegmentEntry put(String collection, long lsn, Document document) {
    return new SegmentEntry(collection, document.id(), DocumentVersion.of(lsn, document));
  }

  /** A tombstone of {@code id} at {@code lsn}. */
  public static SegmentEntry tombstone(String collection, long lsn, String id) {
    return new SegmentEntry(collection, id, new DocumentVersion(lsn, null));
  }
}
