package dev.strata.engine.model;

import com.google.protobuf.ByteString;
import java.util.Objects;

/**
 * A document in its stored form: its id and the bytes of its fields as a {@code
 * strata.engine.DocumentBody} (format 2, {@code records.proto}). The body is what a Write encodes
 * once and what the WAL record, the L0 arena and the segment's SST value carry unchanged; it is
 * byte for byte the public API's {@code strata.v1.Document} without its id, so a server builds a
 * Get answer by putting the id field in front of it, without decoding.
 *
 * <p>Decode ({@link #decode}) only where fields are needed: Lucene indexing at flush, filters,
 * answers that reshape a document.
 *
 * <p>Immutable and thread-safe. The body may be a view of a larger array (an L0 arena chunk, a
 * RocksDB value, a WAL record): it is never written again, and holding the document keeps that
 * array alive.
 */
public final class EncodedDocument {
  private final String id;
  private final ByteString body;

  private EncodedDocument(String id, ByteString body) {
    this.id = Objects.requireNonNull(id, "id");
    this.body = Objects.requireNonNull(body, "body");
  }

  /**
   * Wraps an id and a body without checking either: for bodies the engine already holds (L0,
   * segments) or that will be checked before use ({@code SegmentStore.validate} on the write path).
   */
  public static EncodedDocument wrap(String id, ByteString body) {
    return new EncodedDocument(id, body);
  }

  /** The canonical stored form of {@code doc} (fields sorted by the UTF-8 bytes of their names). */
  public static EncodedDocument of(Document doc) {
    DocumentBodyWriter w = new DocumentBodyWriter(doc.id(), 16 * doc.fields().size() + 16);
    doc.fields().forEach(w::put);
    return w.build();
  }

  /** The document id (1..512 UTF-8 bytes, no NUL, once validated). */
  public String id() {
    return id;
  }

  /** The body: the bytes of a {@code strata.engine.DocumentBody}. A read-only view, not a copy. */
  public ByteString body() {
    return body;
  }

  /** Size of the body in bytes. */
  public int bodySize() {
    return body.size();
  }

  /**
   * The decoded document (a {@link Document} with its fields in a sorted map).
   *
   * @throws IllegalArgumentException if the body is not a valid {@code DocumentBody}
   */
  public Document decode() {
    return DocumentCodec.decodeBody(id, body);
  }

  /** Equal if the ids and the body bytes are equal (bodies are canonical, so equal fields). */
  @Override
  public boolean equals(Object o) {
    return o instanceof EncodedDocument e && id.equals(e.id) && body.equals(e.body);
  }

  @Override
  public int hashCode() {
    return 31 * id.hashCode() + body.hashCode();
  }

  @Override
  public String toString() {
    return "EncodedDocument[" + id + ", " + body.size() + " bytes]";
  }
}
