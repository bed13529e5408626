package dev.strata.server;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import dev.strata.api.v1.Document;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.StoredVersion;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A response of Get, BatchGet or Search written straight from the documents' stored bytes: no
 * decoding into engine documents, no API {@link Document} objects, no intermediate byte array.
 * {@link #MARSHALLER} hands gRPC a {@link Drainable} stream that writes the message into the
 * transport's buffer, so each stored byte is copied once, from the RocksDB value into the frame.
 * The bytes are exactly those of the generated message ({@code GetResponse}, {@code
 * BatchGetResponse}, {@code SearchResponse}): clients see no difference.
 *
 * <h2>Documents</h2>
 *
 * An API {@code Document} is {@code id = 1} (string) and {@code fields = 2} (map entries of {@code
 * string key = 1; Value value = 2}). A segment stores a document's fields — never its id — in one of
 * two forms, told apart by the tag of each top-level entry ({@link DocumentBody}):
 *
 * <ul>
 *   <li>an API {@code Document} without its id: entries tagged {@code fields = 2}, copied as they
 *       are (pass-through);
 *   <li>the engine's {@code StoredDocument}: the same map entries (its {@code StoredValue} has
 *       {@code Value}'s field numbers and types) tagged {@code fields = 1}; each entry's one-byte tag
 *       is rewritten to {@code 2} while the entry is copied. Nothing is decoded.
 * </ul>
 *
 * Anything else (and every version still in L0, which holds decoded documents) is converted to an
 * API {@code Document} and written by protobuf. When every entry is already tagged 2 the stored
 * slice is written with one copy.
 *
 * <p>Immutable after construction; written once by the transport. Thread-safe.
 */
abstract class EncodedResponse {
  /** The serialized size of the message, bytes. */
  abstract int size();

  /** Writes the message: exactly {@link #size()} bytes. */
  abstract void writeTo(CodedOutputStream out) throws IOException;

  /** The message as bytes (tests and the non-draining read path). */
  final byte[] toByteArray() {
    byte[] b = new byte[size()];
    CodedOutputStream out = CodedOutputStream.newInstance(b);
    try {
      writeTo(out);
      out.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b;
  }

  /** The response marshaller of the methods whose responses are written this way. */
  static final MethodDescriptor.Marshaller<EncodedResponse> MARSHALLER =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(EncodedResponse value) {
          return new Stream(value);
        }

        @Override
        public EncodedResponse parse(InputStream stream) {
          try {
            return new Raw(stream.readAllBytes());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  /** {@code GetResponse { document = 1 }}. */
  static EncodedResponse get(String id, StoredVersion version) {
    DocumentBody doc = new DocumentBody(id, version);
    return new Sized(doc.fieldSize(1)) {
      @Override
      void writeTo(CodedOutputStream out) throws IOException {
        doc.writeField(1, out);
      }
    };
  }

  /** {@code BatchGetResponse { repeated BatchGetResult results = 1 }}, one per id, in order. */
  static EncodedResponse batchGet(List<String> ids, StoredVersion[] versions) {
    int n = ids.size();
    DocumentBody[] docs = new DocumentBody[n];
    int[] resultSizes = new int[n];
    int total = 0;
    for (int i = 0; i < n; i++) {
      // BatchGetResult { string id = 1; bool found = 2; Document document = 3; }
      int size = CodedOutputStream.computeStringSize(1, ids.get(i));
      if (versions[i] != null) {
        docs[i] = new DocumentBody(ids.get(i), versions[i]);
        size += CodedOutputStream.computeBoolSize(2, true) + docs[i].fieldSize(3);
      }
      resultSizes[i] = size;
      total += fieldSize(1, size);
    }
    return new Sized(total) {
      @Override
      void writeTo(CodedOutputStream out) throws IOException {
        for (int i = 0; i < n; i++) {
          writeHeader(out, 1, resultSizes[i]);
          out.writeString(1, ids.get(i));
          if (docs[i] != null) {
            out.writeBool(2, true);
            docs[i].writeField(3, out);
          }
        }
      }
    };
  }

  /**
   * {@code SearchResponse { repeated SearchHit hits = 1; int64 total_hits = 2; bool
   * total_hits_lower_bound = 3; string snapshot_id = 4; }}.
   */
  static EncodedResponse search(SearchResult result, String snapshotId) {
    List<SearchHit> hits = result.hits();
    int n = hits.size();
    DocumentBody[] docs = new DocumentBody[n];
    int[] hitSizes = new int[n];
    int total = 0;
    for (int i = 0; i < n; i++) {
      SearchHit h = hits.get(i);
      // SearchHit { string id = 1; float score = 2; Document document = 3; }
      docs[i] = new DocumentBody(h.id(), h.stored());
      int size = CodedOutputStream.computeStringSize(1, h.id()) + docs[i].fieldSize(3);
      if (Float.floatToRawIntBits(h.score()) != 0) {
        size += CodedOutputStream.computeFloatSize(2, h.score());
      }
      hitSizes[i] = size;
      total += fieldSize(1, size);
    }
    long totalHits = result.totalHits();
    boolean lowerBound = result.totalHitsLowerBound();
    if (totalHits != 0) {
      total += CodedOutputStream.computeInt64Size(2, totalHits);
    }
    if (lowerBound) {
      total += CodedOutputStream.computeBoolSize(3, true);
    }
    if (!snapshotId.isEmpty()) {
      total += CodedOutputStream.computeStringSize(4, snapshotId);
    }
    return new Sized(total) {
      @Override
      void writeTo(CodedOutputStream out) throws IOException {
        for (int i = 0; i < n; i++) {
          SearchHit h = hits.get(i);
          writeHeader(out, 1, hitSizes[i]);
          out.writeString(1, h.id());
          if (Float.floatToRawIntBits(h.score()) != 0) {
            out.writeFloat(2, h.score());
          }
          docs[i].writeField(3, out);
        }
        if (totalHits != 0) {
          out.writeInt64(2, totalHits);
        }
        if (lowerBound) {
          out.writeBool(3, true);
        }
        if (!snapshotId.isEmpty()) {
          out.writeString(4, snapshotId);
        }
      }
    };
  }

  /** Size of a length-delimited field (a nested message) of {@code size} bytes, tag included. */
  static int fieldSize(int field, int size) {
    return CodedOutputStream.computeTagSize(field) + CodedOutputStream.computeUInt32SizeNoTag(size) + size;
  }

  /** Writes the tag and length of a nested message of {@code size} bytes as field {@code field}. */
  static void writeHeader(CodedOutputStream out, int field, int size) throws IOException {
    out.writeTag(field, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    out.writeUInt32NoTag(size);
  }

  /** A response whose size is computed before it is written. */
  private abstract static class Sized extends EncodedResponse {
    private final int size;

    Sized(int size) {
      this.size = size;
    }

    @Override
    final int size() {
      return size;
    }
  }

  /** A response already in bytes (what {@link #MARSHALLER} parses). */
  private static final class Raw extends EncodedResponse {
    private final byte[] bytes;

    Raw(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override
    int size() {
      return bytes.length;
    }

    @Override
    void writeTo(CodedOutputStream out) throws IOException {
      out.writeRawBytes(bytes);
    }
  }

  /**
   * One document as an API {@code Document} message: its id, then its fields copied from the stored
   * bytes (or, for a version from L0 or an unknown stored form, converted).
   */
  static final class DocumentBody {
    /** Tag of API {@code Document.fields} (field 2, length-delimited). */
    static final int API_FIELDS_TAG = (2 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    /** Tag of the engine's {@code StoredDocument.fields} (field 1, length-delimited). */
    static final int STORED_FIELDS_TAG = (1 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;

    private final String id;
    /** The stored fields to copy, or null when {@link #converted} is used. */
    private final byte[] stored;
    private final int offset;
    private final int length;
    /** True if every stored entry already has the API's tag: the bytes go out in one copy. */
    private final boolean passThrough;
    /** The document built by protobuf, when the stored bytes cannot be copied. */
    private final Document converted;
    private final int size;

    DocumentBody(String id, StoredVersion v) {
      this.id = id;
      int form = v.isEncoded() ? storedForm(v.encodedDocument(), v.encodedOffset(), v.encodedLength()) : UNKNOWN;
      if (form != UNKNOWN) {
        this.stored = v.encodedDocument();
        this.offset = v.encodedOffset();
        this.length = v.encodedLength();
        this.passThrough = form == API_DOCUMENT;
        this.converted = null;
        // Both tags are one byte: the copied fields are as long as the stored ones.
        this.size = CodedOutputStream.computeStringSize(1, id) + length;
      } else {
        this.stored = null;
        this.offset = 0;
        this.length = 0;
        this.passThrough = false;
        this.converted = ApiConversions.document(v.document(id));
        this.size = converted.getSerializedSize();
      }
    }

    /** True if the bytes were copied, not converted (tests). */
    boolean copied() {
      return stored != null;
    }

    /** True if the bytes were copied in one piece, unchanged (tests). */
    boolean passedThrough() {
      return passThrough;
    }

    /** Size of the document as field {@code field} of its parent, tag and length included. */
    int fieldSize(int field) {
      return EncodedResponse.fieldSize(field, size);
    }

    /** Writes the document as field {@code field} of its parent. */
    void writeField(int field, CodedOutputStream out) throws IOException {
      writeHeader(out, field, size);
      if (converted != null) {
        converted.writeTo(out);
        return;
      }
      out.writeString(1, id);
      if (passThrough) {
        out.writeRawBytes(stored, offset, length);
        return;
      }
      // Each entry: its tag (rewritten to fields = 2 when it was the stored form's 1), then its
      // length and bytes as they are.
      int p = offset;
      int end = offset + length;
      while (p < end) {
        out.writeRawByte((byte) API_FIELDS_TAG);
        int start = p + 1;
        int entryEnd = entryEnd(stored, start, end);
        out.writeRawBytes(stored, start, entryEnd - start);
        p = entryEnd;
      }
    }

    /** {@link #storedForm}: not a form that can be copied. */
    static final int UNKNOWN = 0;
    /** {@link #storedForm}: the engine's StoredDocument (entries tagged 1: tags rewritten). */
    static final int STORED_DOCUMENT = 1;
    /** {@link #storedForm}: an API Document without its id (entries tagged 2: copied as they are). */
    static final int API_DOCUMENT = 2;

    /**
     * Which form {@code [offset, offset + length)} has: a sequence of one-byte-tagged,
     * length-delimited {@code fields} entries, all tagged 2 ({@link #API_DOCUMENT}) or some tagged 1
     * ({@link #STORED_DOCUMENT}), ending exactly at the end; {@link #UNKNOWN} otherwise. The framing
     * is checked, the entries are not decoded.
     */
    static int storedForm(byte[] b, int offset, int length) {
      int p = offset;
      int end = offset + length;
      boolean rewrite = false;
      while (p < end) {
        int tag = b[p];
        if (tag != API_FIELDS_TAG && tag != STORED_FIELDS_TAG) {
          return UNKNOWN;
        }
        rewrite |= tag == STORED_FIELDS_TAG;
        int next = entryEnd(b, p + 1, end);
        if (next < 0) {
          return UNKNOWN;
        }
        p = next;
      }
      return rewrite ? STORED_DOCUMENT : API_DOCUMENT;
    }

    /**
     * The end of the entry whose length varint starts at {@code p}: after the varint and the bytes
     * it counts; -1 if that runs past {@code end} or the varint is malformed.
     */
    private static int entryEnd(byte[] b, int p, int end) {
      long len = 0;
      int shift = 0;
      while (true) {
        if (p >= end || shift > 28) {
          return -1;
        }
        byte x = b[p++];
        len |= (long) (x & 0x7f) << shift;
        if (x >= 0) {
          break;
        }
        shift += 7;
      }
      long entryEnd = p + len;
      return entryEnd > end ? -1 : (int) entryEnd;
    }
  }

  /**
   * What gRPC reads: drained straight into the transport's buffer ({@link Drainable}), with its
   * length known up front ({@link KnownLength}); read byte by byte only if drained is not possible.
   */
  private static final class Stream extends InputStream implements Drainable, KnownLength {
    private EncodedResponse message;
    private ByteArrayInputStream partial;

    Stream(EncodedResponse message) {
      this.message = message;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      if (message != null) {
        int n = message.size();
        CodedOutputStream out = CodedOutputStream.newInstance(target, Math.max(64, Math.min(n, 4096)));
        message.writeTo(out);
        out.flush();
        message = null;
        return n;
      }
      if (partial != null) {
        int n = partial.available();
        partial.transferTo(target);
        partial = null;
        return n;
      }
      return 0;
    }

    @Override
    public int available() {
      if (message != null) {
        return message.size();
      }
      return partial == null ? 0 : partial.available();
    }

    @Override
    public int read() {
      return bytes().read();
    }

    @Override
    public int read(byte[] b, int off, int len) {
      return bytes().read(b, off, len);
    }

    private ByteArrayInputStream bytes() {
      if (partial == null) {
        partial = new ByteArrayInputStream(message == null ? new byte[0] : message.toByteArray());
        message = null;
      }
      return partial;
    }
  }
}
