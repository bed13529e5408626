package dev.strata.engine.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.proto.StoredDocument;
import dev.strata.engine.proto.StoredValue;
import dev.strata.engine.proto.StringListValue;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Converts documents to and from their stored protobuf form ({@code strata.engine.StoredDocument},
 * see {@code records.proto}). Stateless and thread-safe.
 */
public final class DocumentCodec {
  private DocumentCodec() {}

  /** The protobuf form of a document's fields (the id is not included: it lives in the key). */
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
    Map<String, FieldValue> fields = new LinkedHashMap<>();
    for (Map.Entry<String, StoredValue> e : proto.getFieldsMap().entrySet()) {
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

  /** Encoded bytes of a document's fields (deterministic: fields are sorted by name). */
  public static byte[] encode(Document doc) {
    return toProto(doc).toByteArray();
  }

  /**
   * Decodes {@link #encode} output.
   *
   * @throws IllegalArgumentException if the bytes are not a stored document
   */
  public static Document decode(String id, byte[] bytes) {
    try {
      return fromProto(id, StoredDocument.parseFrom(bytes));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("corrupt stored document '" + id + "'", e);
    }
  }
}
