package dev.strata.engine.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.proto.DocumentBody;
import dev.strata.engine.proto.StoredDocument;
import dev.strata.engine.proto.StoredValue;
import dev.strata.engine.proto.StringListValue;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Converts documents between the engine model and their stored protobuf forms (see {@code
 * records.proto}): format 2, the {@code DocumentBody} every Write stores now ({@link
 * EncodedDocument}, written by {@link DocumentBodyWriter}), and format 1, the {@code StoredDocument}
 * of older WAL records and segment values, which is read and converted to format 2. Stateless and
 * thread-safe.
 */
public final class DocumentCodec {
  private DocumentCodec() {}

  /**
   * The format-1 protobuf of a document's fields (the id is not included: it lives in the key).
   * Nothing writes format 1 any more; tests use it to build data as older versions wrote it.
   */
  public static StoredDocument toProto(Document doc) {
    StoredDocument.Builder b = StoredDocument.newBuilder();
    for (Map.Entry<String, FieldValue> e : doc.fields().entrySet()) {
      b.putFields(e.getKey(), toProto(e.getValue()));
    }
    return b.build();
  }

  /** One value in protobuf form. */
  public static StoredValue toProto(FieldValue v) {
    return switch (v) {
      case FieldValue.Str s -> StoredValue.newBuilder().setStringValue(s.value()).build();
      case FieldValue.Int64 l -> StoredValue.newBuilder().setLongValue(l.value()).build();
      case FieldValue.Float64 d -> StoredValue.newBuilder().setDoubleValue(d.value()).build();
      case FieldValue.Bool bo -> StoredValue.newBuilder().setBoolValue(bo.value()).build();
      case FieldValue.Bytes by ->
          StoredValue.newBuilder().setBytesValue(ByteString.copyFrom(by.value())).build();
      case FieldValue.StrList sl ->
          StoredValue.newBuilder()
              .setStringList(StringListValue.newBuilder().addAllValues(sl.values()))
              .build();
    };
  }

  /**
   * The document with id {@code id} and the fields of {@code proto}.
   *
   * @throws IllegalArgumentException if a value has no kind set
   */
  public static Document fromProto(String id, StoredDocument proto) {
    return fromFields(id, proto.getFieldsMap());
  }

  private static Document fromFields(String id, Map<String, StoredValue> stored) {
    Map<String, FieldValue> fields = new LinkedHashMap<>();
    for (Map.Entry<String, StoredValue> e : stored.entrySet()) {
      fields.put(e.getKey(), fromProto(e.getValue()));
    }
    return new Document(id, fields);
  }

  /** One value from protobuf form. */
  public static FieldValue fromProto(StoredValue v) {
    return switch (v.getKindCase()) {
      case STRING_VALUE -> new FieldValue.Str(v.getStringValue());
      case LONG_VALUE -> new FieldValue.Int64(v.getLongValue());
      case DOUBLE_VALUE -> new FieldValue.Float64(v.getDoubleValue());
      case BOOL_VALUE -> new FieldValue.Bool(v.getBoolValue());
      case BYTES_VALUE -> new FieldValue.Bytes(v.getBytesValue().toByteArray());
      case STRING_LIST -> new FieldValue.StrList(v.getStringList().getValuesList());
      case KIND_NOT_SET -> throw new IllegalArgumentException("stored value has no kind");
    };
  }

  /**
   * Decodes a format-2 body.
   *
   * @throws IllegalArgumentException if the bytes are not a {@code DocumentBody}, or a value has no
   *     kind
   */
  public static Document decodeBody(String id, ByteString body) {
    DocumentBody proto;
    try {
      proto = DocumentBody.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("corrupt stored document '" + id + "'", e);
    }
    return fromFields(id, proto.getFieldsMap());
  }

  /**
   * Converts a format-1 {@code StoredDocument} (older WAL records and segment values) to the
   * canonical format-2 document.
   *
   * @throws IllegalArgumentException if the bytes are not a {@code StoredDocument}, or a value has
   *     no kind
   */
  public static EncodedDocument fromFormat1(String id, ByteBuffer storedDocument) {
    try {
      return fromFormat1(id, StoredDocument.parseFrom(storedDocument));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("corrupt stored document '" + id + "' (format 1)", e);
    }
  }

  /** Converts a parsed format-1 document to the canonical format-2 document. */
  public static EncodedDocument fromFormat1(String id, StoredDocument storedDocument) {
    DocumentBodyWriter w = new DocumentBodyWriter(id, storedDocument.getSerializedSize() + 16);
    storedDocument.getFieldsMap().forEach(w::put);
    return w.build();
  }
}
