package dev.strata.engine.segment;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import java.io.UncheckedIOException;

/**
 * The newest version of one key as a reader serves it, without decoding what it does not need:
 * either the value bytes exactly as a segment stores them ({@link SegmentFormat}: kind, LSN, then
 * the encoded document), or — for a version still in an L0 buffer — the decoded {@link Document}
 * the buffer holds. A server copies {@link #encodedDocument() the encoded document} into its
 * response as it is; {@link #document(String)} decodes only when someone needs the fields.
 *
 * <p>Immutable once built; the byte array is never written after construction and must not be
 * written by callers (it is exposed without a copy so a response can be written straight from
 * it). Thread-safe.
 */
public final class StoredVersion {
  private final long lsn;
  /** The segment's value (header included), or null for a version from L0. */
  private final byte[] value;
  /** The L0 document, or null for a segment value or a tombstone. */
  private final Document document;
  private final boolean tombstone;
  /** The segment the value came from (for error messages), or -1 for L0. */
  private final long segmentId;

  private StoredVersion(long lsn, byte[] value, Document document, boolean tombstone, long segmentId) {
    this.lsn = lsn;
    this.value = value;
    this.document = document;
    this.tombstone = tombstone;
    this.segmentId = segmentId;
  }

  /** A version held in an L0 buffer (decoded already). */
  public static StoredVersion of(DocumentVersion v) {
    return new StoredVersion(v.lsn(), null, v.document(), v.isTombstone(), -1);
  }

  /**
   * A version as segment {@code segmentId} stores it: {@code value} is the RocksDB value ({@link
   * SegmentFormat}), taken without a copy.
   *
   * @param id the document id (for error messages)
   * @throws SegmentCorruptionException if the header is not a valid put or tombstone header
   */
  public static StoredVersion ofValue(long segmentId, String id, byte[] value) throws SegmentCorruptionException {
    if (value.length < SegmentFormat.VALUE_HEADER_BYTES
        || (value[0] != SegmentFormat.KIND_PUT && value[0] != SegmentFormat.KIND_TOMBSTONE)
        || (value[0] == SegmentFormat.KIND_TOMBSTONE && value.length != SegmentFormat.VALUE_HEADER_BYTES)) {
      // The full decoder names the exact problem.
      SegmentFormat.decodeValue(segmentId, id, value);
      throw new SegmentCorruptionException(segmentId, "value of '" + id + "' has a bad header");
    }
    boolean tomb = value[0] == SegmentFormat.KIND_TOMBSTONE;
    return new StoredVersion(SegmentFormat.getLong(value, 1), tomb ? null : value, null, tomb, segmentId);
  }

  /** The LSN of the WAL record that wrote this version (in its origin fork's WAL). */
  public long lsn() {
    return lsn;
  }

  /** True if this version deletes the key. */
  public boolean isTombstone() {
    return tombstone;
  }

  /** True if the document is available as stored bytes ({@link #encodedDocument()}). */
  public boolean isEncoded() {
    return value != null;
  }

  /**
   * The array holding the encoded document (a segment value): the bytes from {@link
   * #encodedOffset()} for {@link #encodedLength()} bytes are the document's fields in the segment
   * store's encoding ({@link dev.strata.engine.model.DocumentCodec}), never its id. Not a copy:
   * read it, never write it.
   *
   * @throws IllegalStateException if this version is a tombstone or comes from L0
   */
  public byte[] encodedDocument() {
    if (value == null) {
      throw new IllegalStateException(tombstone ? "a tombstone has no document" : "an L0 version is not encoded");
    }
    return value;
  }

  /** Where the encoded document starts in {@link #encodedDocument()}. */
  public int encodedOffset() {
    return SegmentFormat.VALUE_HEADER_BYTES;
  }

  /** Length of the encoded document in {@link #encodedDocument()}, bytes. */
  public int encodedLength() {
    return value == null ? 0 : value.length - SegmentFormat.VALUE_HEADER_BYTES;
  }

  /**
   * The document with id {@code id}, decoded if it is stored encoded; null for a tombstone.
   *
   * @throws UncheckedIOException wrapping a {@link SegmentCorruptionException} if the stored bytes
   *     do not decode
   */
  public Document document(String id) {
    if (tombstone) {
      return null;
    }
    if (document != null) {
      return document;
    }
    try {
      return SegmentFormat.decodeValue(segmentId, id, value).document();
    } catch (SegmentCorruptionException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** This version decoded, as {@link DocumentVersion}. */
  public DocumentVersion decoded(String id) {
    return new DocumentVersion(lsn, document(id));
  }
}
