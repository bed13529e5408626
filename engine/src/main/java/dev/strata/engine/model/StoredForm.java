package dev.strata.engine.model;

import com.google.protobuf.WireFormat;
import dev.strata.engine.proto.DocumentBody;
import dev.strata.engine.proto.StoredValue;
import dev.strata.engine.proto.StringListValue;

/**
 * The wire layout of a document's stored form ({@code strata.engine.DocumentBody}, format 2; see
 * {@code records.proto}), as the numbers that its writer ({@link DocumentBodyWriter}) and the code
 * that scans it without a decode ({@code EncodedDocumentValidator}, the WAL's record scanner)
 * share. Taken from the generated classes, so they cannot drift from the .proto file.
 *
 * <pre>
 * body  := entry*                                 entries sorted by name bytes, no name twice
 * entry := ENTRY varint(len) ENTRY_KEY varint(n) name[n] ENTRY_VALUE varint(m) value[m]
 * value := exactly one of: KIND_STRING string | KIND_LONG varint | KIND_DOUBLE fixed64
 *          | KIND_BOOL varint | KIND_BYTES bytes | KIND_STRING_LIST (LIST_ELEMENT string)*
 * </pre>
 */
public final class StoredForm {
  /** Value kind: a UTF-8 string (wire type 2). */
  public static final int KIND_STRING = StoredValue.STRING_VALUE_FIELD_NUMBER;
  /** Value kind: a 64-bit integer (wire type 0). */
  public static final int KIND_LONG = StoredValue.LONG_VALUE_FIELD_NUMBER;
  /** Value kind: a double (wire type 1). */
  public static final int KIND_DOUBLE = StoredValue.DOUBLE_VALUE_FIELD_NUMBER;
  /** Value kind: a boolean (wire type 0). */
  public static final int KIND_BOOL = StoredValue.BOOL_VALUE_FIELD_NUMBER;
  /** Value kind: bytes (wire type 2). */
  public static final int KIND_BYTES = StoredValue.BYTES_VALUE_FIELD_NUMBER;
  /** Value kind: a string list (wire type 2, a message of repeated strings). */
  public static final int KIND_STRING_LIST = StoredValue.STRING_LIST_FIELD_NUMBER;
  /** Field number of one string of a string list. */
  public static final int LIST_VALUES = StringListValue.VALUES_FIELD_NUMBER;

  /** The tag of one map entry of the body. */
  public static final int ENTRY = tag(DocumentBody.FIELDS_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  /** The tag of an entry's name (a protobuf map entry's key is field 1). */
  public static final int ENTRY_KEY = tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  /** The tag of an entry's value (a protobuf map entry's value is field 2). */
  public static final int ENTRY_VALUE = tag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  /** The tag of one string of a string list. */
  public static final int LIST_ELEMENT = tag(LIST_VALUES, WireFormat.WIRETYPE_LENGTH_DELIMITED);

  private StoredForm() {}

  /** A protobuf tag: field number << 3 | wire type (what {@code WireFormat.makeTag}, not public, does). */
  public static int tag(int field, int wireType) {
    return field << 3 | wireType;
  }
}
