package dev.strata.engine.model;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import dev.strata.engine.proto.StoredValue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Writes one document's fields in the canonical stored form, a {@code strata.engine.DocumentBody}
 * (see {@code records.proto}): the encoding a Write does once. Fields may be put in any order;
 * the body comes out sorted by the unsigned UTF-8 bytes of the names (already sorted input, the
 * usual case, costs no sort and no copy).
 *
 * <p>Wire format: {@link StoredForm}, one protobuf map entry per field.
 *
 * <p>Each value is written field by field from the caller's data, so nothing but the one kind
 * reaches the body (an API {@code Value}'s unknown fields, for instance, are dropped here).
 *
 * <p>Not thread-safe; one use: {@link #build} hands the buffer over.
 */
public final class DocumentBodyWriter {
  private final String id;
  private byte[] buf;
  private int pos;
  /** Per field: start of its entry, start and length of its name in {@link #buf}. */
  private int[] entryStart = new int[8];
  private int[] nameStart = new int[8];
  private int[] nameLength = new int[8];
  private int count;
  private boolean sorted = true;
  private boolean built;

  /**
   * @param id the document's id (not part of the body)
   * @param expectedBodyBytes a size hint: e.g. the API message's serialized size
   */
  public DocumentBodyWriter(String id, int expectedBodyBytes) {
    this.id = id;
    this.buf = new byte[Math.max(16, expectedBodyBytes)];
  }

  /** Adds a string field. */
  public DocumentBodyWriter putString(String name, String value) {
    int size = CodedOutputStream.computeStringSize(StoredForm.KIND_STRING, value);
    try {
      beginEntry(name, size).writeString(StoredForm.KIND_STRING, value);
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds a 64-bit integer field. */
  public DocumentBodyWriter putLong(String name, long value) {
    int size = CodedOutputStream.computeInt64Size(StoredForm.KIND_LONG, value);
    try {
      beginEntry(name, size).writeInt64(StoredForm.KIND_LONG, value);
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds a double field (any bits: NaN, infinities and -0.0 are kept as they are). */
  public DocumentBodyWriter putDouble(String name, double value) {
    int size = CodedOutputStream.computeDoubleSize(StoredForm.KIND_DOUBLE, value);
    try {
      beginEntry(name, size).writeDouble(StoredForm.KIND_DOUBLE, value);
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds a boolean field. */
  public DocumentBodyWriter putBool(String name, boolean value) {
    int size = CodedOutputStream.computeBoolSize(StoredForm.KIND_BOOL, value);
    try {
      beginEntry(name, size).writeBool(StoredForm.KIND_BOOL, value);
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds a bytes field. */
  public DocumentBodyWriter putBytes(String name, ByteString value) {
    int size = CodedOutputStream.computeBytesSize(StoredForm.KIND_BYTES, value);
    try {
      beginEntry(name, size).writeBytes(StoredForm.KIND_BYTES, value);
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds a string-list field (the order of the strings is kept). */
  public DocumentBodyWriter putStringList(String name, List<String> values) {
    int inner = 0;
    for (String s : values) {
      inner += CodedOutputStream.computeStringSize(StoredForm.LIST_VALUES, s);
    }
    int listSize = inner;
    int size = CodedOutputStream.computeTagSize(StoredForm.KIND_STRING_LIST)
        + CodedOutputStream.computeUInt32SizeNoTag(listSize)
        + listSize;
    try {
      CodedOutputStream out = beginEntry(name, size);
      out.writeTag(StoredForm.KIND_STRING_LIST, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      out.writeUInt32NoTag(listSize);
      for (String s : values) {
        out.writeString(StoredForm.LIST_VALUES, s);
      }
    } catch (IOException e) {
      throw sizeMismatch(e);
    }
    return this;
  }

  /** Adds an engine value. */
  public DocumentBodyWriter put(String name, FieldValue value) {
    return switch (value) {
      case FieldValue.Str s -> putString(name, s.value());
      case FieldValue.Int64 l -> putLong(name, l.value());
      case FieldValue.Float64 d -> putDouble(name, d.value());
      case FieldValue.Bool b -> putBool(name, b.value());
      case FieldValue.Bytes b -> putBytes(name, ByteString.copyFrom(b.value()));
      case FieldValue.StrList l -> putStringList(name, l.values());
    };
  }

  /**
   * Adds a stored value as it is (format-1 conversion).
   *
   * @throws IllegalArgumentException if it has no kind
   */
  public DocumentBodyWriter put(String name, StoredValue value) {
    return switch (value.getKindCase()) {
      case STRING_VALUE -> putString(name, value.getStringValue());
      case LONG_VALUE -> putLong(name, value.getLongValue());
      case DOUBLE_VALUE -> putDouble(name, value.getDoubleValue());
      case BOOL_VALUE -> putBool(name, value.getBoolValue());
      case BYTES_VALUE -> putBytes(name, value.getBytesValue());
      case STRING_LIST -> putStringList(name, value.getStringList().getValuesList());
      case KIND_NOT_SET -> throw new IllegalArgumentException("field '" + name + "' has no value kind");
    };
  }

  /**
   * The document: its body sorted by name, sharing this writer's buffer when the fields came sorted.
   *
   * @throws IllegalArgumentException if a name was put twice
   * @throws IllegalStateException if called twice
   */
  public EncodedDocument build() {
    if (built) {
      throw new IllegalStateException("build() was called already");
    }
    built = true;
    if (sorted) {
      return EncodedDocument.wrap(id, UnsafeByteOperations.unsafeWrap(buf, 0, pos));
    }
    Integer[] order = new Integer[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> compareNames(a, b));
    byte[] out = new byte[pos];
    int o = 0;
    for (int k = 0; k < count; k++) {
      int i = order[k];
      if (k > 0 && compareNames(order[k - 1], i) == 0) {
        throw new IllegalArgumentException(
            "document '" + id + "': field '" + nameOf(i) + "' is given twice");
      }
      int end = i + 1 < count ? entryStart[i + 1] : pos;
      System.arraycopy(buf, entryStart[i], out, o, end - entryStart[i]);
      o += end - entryStart[i];
    }
    return EncodedDocument.wrap(id, UnsafeByteOperations.unsafeWrap(out));
  }

  /** Writes the entry's framing and name; returns a stream positioned for the value's fields. */
  private CodedOutputStream beginEntry(String name, int valueSize) throws IOException {
    if (built) {
      throw new IllegalStateException("build() was called already");
    }
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    int nameFieldSize =
        1 + CodedOutputStream.computeUInt32SizeNoTag(nameBytes.length) + nameBytes.length;
    int entrySize =
        nameFieldSize + 1 + CodedOutputStream.computeUInt32SizeNoTag(valueSize) + valueSize;
    int total = 1 + CodedOutputStream.computeUInt32SizeNoTag(entrySize) + entrySize;
    ensureCapacity(total);
    if (count == entryStart.length) {
      entryStart = Arrays.copyOf(entryStart, 2 * count);
      nameStart = Arrays.copyOf(nameStart, 2 * count);
      nameLength = Arrays.copyOf(nameLength, 2 * count);
    }
    CodedOutputStream out = CodedOutputStream.newInstance(buf, pos, total);
    out.writeUInt32NoTag(StoredForm.ENTRY);
    out.writeUInt32NoTag(entrySize);
    out.writeUInt32NoTag(StoredForm.ENTRY_KEY);
    out.writeUInt32NoTag(nameBytes.length);
    entryStart[count] = pos;
    nameStart[count] = pos + out.getTotalBytesWritten();
    nameLength[count] = nameBytes.length;
    out.writeRawBytes(nameBytes);
    out.writeUInt32NoTag(StoredForm.ENTRY_VALUE);
    out.writeUInt32NoTag(valueSize);
    if (count > 0 && sorted && compareNames(count - 1, count) >= 0) {
      sorted = false;
    }
    count++;
    pos += total;
    return out;
  }

  private int compareNames(int a, int b) {
    return Arrays.compareUnsigned(
        buf, nameStart[a], nameStart[a] + nameLength[a], buf, nameStart[b], nameStart[b] + nameLength[b]);
  }

  private String nameOf(int i) {
    return new String(buf, nameStart[i], nameLength[i], StandardCharsets.UTF_8);
  }

  private void ensureCapacity(int more) {
    if (buf.length - pos < more) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
    }
  }

  /** Encoding into an array of the exact size cannot fail unless a size computation is wrong. */
  private static IllegalStateException sizeMismatch(IOException e) {
    return new IllegalStateException("encoding into a sized array failed: a size computation is wrong", e);
  }
}
