package dev.strata.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import dev.strata.api.v1.Document;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.model.EncodedDocument;
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
 * A response of Get, BatchGet or Search written straight from the documents' stored form: no
 * decoding, no API {@link Document} objects, no intermediate byte array. {@link #MARSHALLER} hands
 * gRPC a {@link Drainable} stream that writes the message into the transport's buffer, so each
 * stored byte is copied once, from the L0 arena or the RocksDB value into the frame. The bytes are
 * exactly those of the generated message ({@code GetResponse}, {@code BatchGetResponse}, {@code
 * SearchResponse}): clients see no difference.
 *
 * <p>Each document is written as {@link ApiConversions#documentBytes} would make it — the id field
 * in front of the stored body, which is byte for byte the rest of an API {@code Document} ({@code
 * DocumentBody}, format 2; format-1 segment values are converted when read) — but straight into
 * the output: its size is computed from the two parts ({@link #documentSize}), and no per-document
 * array or rope is built.
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
  static EncodedResponse get(EncodedDocument document) {
    ByteString idUtf8 = ByteString.copyFromUtf8(document.id());
    ByteString body = document.body();
    int docSize = documentSize(idUtf8, body);
    return new Sized(fieldSize(1, docSize)) {
      @Override
      void writeTo(CodedOutputStream out) throws IOException {
        writeDocument(out, 1, docSize, idUtf8, body);
      }
    };
  }

  /** {@code BatchGetResponse { repeated BatchGetResult results = 1 }}, one per id, in order. */
  static EncodedResponse batchGet(List<String> ids, EncodedDocument[] found) {
    int n = ids.size();
    // Each id in UTF-8 once: written as the result's id and as its document's id.
    ByteString[] idUtf8 = new ByteString[n];
    int[] docSizes = new int[n];
    int[] resultSizes = new int[n];
    int total = 0;
    for (int i = 0; i < n; i++) {
      // BatchGetResult { string id = 1; bool found = 2; Document document = 3; }
      idUtf8[i] = ByteString.copyFromUtf8(ids.get(i));
      int size = CodedOutputStream.computeBytesSize(1, idUtf8[i]);
      if (found[i] != null) {
        docSizes[i] = documentSize(idUtf8[i], found[i].body());
        size += CodedOutputStream.computeBoolSize(2, true) + fieldSize(3, docSizes[i]);
      }
      resultSizes[i] = size;
      total += fieldSize(1, size);
    }
    return new Sized(total) {
      @Override
      void writeTo(CodedOutputStream out) throws IOException {
        for (int i = 0; i < n; i++) {
          writeHeader(out, 1, resultSizes[i]);
          out.writeBytes(1, idUtf8[i]);
          if (found[i] != null) {
            out.writeBool(2, true);
            writeDocument(out, 3, docSizes[i], idUtf8[i], found[i].body());
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
    ByteString[] idUtf8 = new ByteString[n];
    int[] docSizes = new int[n];
    int[] hitSizes = new int[n];
    int total = 0;
    for (int i = 0; i < n; i++) {
      SearchHit h = hits.get(i);
      // SearchHit { string id = 1; float score = 2; Document document = 3; }
      idUtf8[i] = ByteString.copyFromUtf8(h.id());
      docSizes[i] = documentSize(idUtf8[i], h.stored().body());
      int size = CodedOutputStream.computeBytesSize(1, idUtf8[i]) + fieldSize(3, docSizes[i]);
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
          out.writeBytes(1, idUtf8[i]);
          if (Float.floatToRawIntBits(h.score()) != 0) {
            out.writeFloat(2, h.score());
          }
          writeDocument(out, 3, docSizes[i], idUtf8[i], h.stored().body());
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

  /**
   * Size of the API {@code Document} of a stored document, bytes: its id field ({@code string id =
   * 1}) and the stored body, which is byte for byte the rest of the message ({@link
   * ApiConversions#documentBytes} as a size, without building the rope).
   */
  static int documentSize(ByteString idUtf8, ByteString body) {
    return CodedOutputStream.computeBytesSize(Document.ID_FIELD_NUMBER, idUtf8) + body.size();
  }

  /**
   * Writes that document as field {@code field}: tag, length, the id field, then the stored body
   * straight from its buffer (no per-document head array or rope).
   */
  static void writeDocument(CodedOutputStream out, int field, int docSize, ByteString idUtf8, ByteString body)
      throws IOException {
    writeHeader(out, field, docSize);
    out.writeBytes(Document.ID_FIELD_NUMBER, idUtf8);
    out.writeRawBytes(body);
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
