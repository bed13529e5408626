package dev.strata.engine.segment;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.StoredForm;
import java.io.IOException;
import org.apache.lucene.index.IndexWriter;

/**
 * Checks a document in its stored form against its collection's schema by scanning the body's
 * bytes with a protobuf {@link CodedInputStream}: no decoded document, no map, no field object.
 * The same rules as {@link DocumentIndexer#validate}, plus the canonical form of {@code
 * DocumentBody} (see {@code records.proto}), so a body accepted here always decodes and always
 * indexes: a flush can never fail on a document the write path let in.
 *
 * <p>Checked, in one pass: the body holds only map entries (field 2); each entry is its name (1)
 * then its value (2); names are valid UTF-8 and strictly increasing by their unsigned bytes (so no
 * name twice); each value holds exactly one known kind with its wire type; every string (values,
 * list elements) is valid UTF-8; and a field the schema names has a kind its {@link FieldKind}
 * accepts (TEXT and KEYWORD: a string or a string list; LONG: an integer; DOUBLE: a double or an
 * integer), with KEYWORD values, and TEXT values under the keyword analyzer, at most {@value
 * IndexWriter#MAX_TERM_LENGTH} UTF-8 bytes (Lucene's term limit).
 *
 * <p>Allocates only the small views the stream hands out for names and strings (aliased, never
 * copied) and, on a failure, the exception. Stateless and thread-safe.
 */
public final class EncodedDocumentValidator {
  private EncodedDocumentValidator() {}

  /**
   * Checks {@code doc} against {@code schema}.
   *
   * @throws IllegalArgumentException naming the document, the field and what is wrong with it
   */
  public static void validate(EncodedDocument doc, CollectionSchema schema) {
    String id = doc.id();
    CodedInputStream in = doc.body().newCodedInput();
    in.enableAliasing(true);
    try {
      ByteString previous = null;
      int tag;
      while ((tag = in.readTag()) != 0) {
        if (tag != StoredForm.ENTRY) {
          throw malformed(id, "unexpected field " + WireFormat.getTagFieldNumber(tag) + " in the document");
        }
        int entryLimit = in.pushLimit(in.readRawVarint32());
        if (in.readTag() != StoredForm.ENTRY_KEY) {
          throw malformed(id, "a field entry does not start with its name");
        }
        ByteString name = in.readBytes();
        if (!name.isValidUtf8()) {
          throw malformed(id, "a field name is not valid UTF-8");
        }
        if (previous != null && ByteString.unsignedLexicographicalComparator().compare(previous, name) >= 0) {
          throw malformed(
              id,
              "field '" + name.toStringUtf8() + "' is out of order or repeated (names must be strictly"
                  + " increasing by their UTF-8 bytes)");
        }
        previous = name;
        if (in.readTag() != StoredForm.ENTRY_VALUE) {
          throw malformed(id, "field '" + name.toStringUtf8() + "' has no value");
        }
        int valueLimit = in.pushLimit(in.readRawVarint32());
        checkValue(in, id, name, schema.fieldByUtf8Name(name));
        if (!in.isAtEnd()) {
          throw malformed(id, "field '" + name.toStringUtf8() + "' holds more than one value kind");
        }
        in.popLimit(valueLimit);
        if (!in.isAtEnd()) {
          throw malformed(id, "field '" + name.toStringUtf8() + "' has extra data after its value");
        }
        in.popLimit(entryLimit);
      }
    } catch (IOException e) {
      throw malformed(id, e.getMessage());
    }
  }

  private static void checkValue(CodedInputStream in, String id, ByteString name, FieldSpec spec)
      throws IOException {
    int tag = in.readTag();
    int kind = WireFormat.getTagFieldNumber(tag);
    int wireType = WireFormat.getTagWireType(tag);
    if (tag == 0) {
      throw malformed(id, "field '" + name.toStringUtf8() + "' has a value with no kind set");
    }
    boolean stringy = kind == StoredForm.KIND_STRING || kind == StoredForm.KIND_STRING_LIST;
    if (spec != null) {
      switch (spec.kind()) {
        case STORED -> {}
        case TEXT, KEYWORD -> {
          if (!stringy) {
            throw wrongType(id, spec, "a string or a string list", kind);
          }
        }
        case LONG -> {
          if (kind != StoredForm.KIND_LONG) {
            throw wrongType(id, spec, "an integer", kind);
          }
        }
        case DOUBLE -> {
          if (kind != StoredForm.KIND_DOUBLE && kind != StoredForm.KIND_LONG) {
            throw wrongType(id, spec, "a double or an integer", kind);
          }
        }
      }
    }
    boolean termLimited =
        spec != null
            && (spec.kind() == FieldKind.KEYWORD
                || (spec.kind() == FieldKind.TEXT && "keyword".equals(spec.analyzer())));
    switch (kind) {
      case StoredForm.KIND_STRING -> {
        requireWireType(id, name, wireType, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        checkString(in.readBytes(), id, name, termLimited ? spec : null);
      }
      case StoredForm.KIND_LONG, StoredForm.KIND_BOOL -> {
        requireWireType(id, name, wireType, WireFormat.WIRETYPE_VARINT);
        in.readRawVarint64();
      }
      case StoredForm.KIND_DOUBLE -> {
        requireWireType(id, name, wireType, WireFormat.WIRETYPE_FIXED64);
        in.readRawLittleEndian64();
      }
      case StoredForm.KIND_BYTES -> {
        requireWireType(id, name, wireType, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        in.skipRawBytes(in.readRawVarint32());
      }
      case StoredForm.KIND_STRING_LIST -> {
        requireWireType(id, name, wireType, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        int listLimit = in.pushLimit(in.readRawVarint32());
        int t;
        while ((t = in.readTag()) != 0) {
          if (t != StoredForm.LIST_ELEMENT) {
            throw malformed(id, "field '" + name.toStringUtf8() + "': a string list holds a field other than its strings");
          }
          checkString(in.readBytes(), id, name, termLimited ? spec : null);
        }
        in.popLimit(listLimit);
      }
      default -> throw malformed(id, "field '" + name.toStringUtf8() + "' has an unknown value kind " + kind);
    }
  }

  private static void checkString(ByteString s, String id, ByteString name, FieldSpec termLimited) {
    if (!s.isValidUtf8()) {
      throw malformed(id, "field '" + name.toStringUtf8() + "' has a string that is not valid UTF-8");
    }
    if (termLimited != null && s.size() > IndexWriter.MAX_TERM_LENGTH) {
      throw new IllegalArgumentException(
          "document '"
              + id
              + "': field '"
              + termLimited.name()
              + "' ("
              + termLimited.kind()
              + ") has a value of "
              + s.size()
              + " UTF-8 bytes; at most "
              + IndexWriter.MAX_TERM_LENGTH
              + " are indexable as one term");
    }
  }

  private static void requireWireType(String id, ByteString name, int actual, int expected) {
    if (actual != expected) {
      throw malformed(id, "field '" + name.toStringUtf8() + "' has a value of the wrong wire type " + actual);
    }
  }

  private static IllegalArgumentException wrongType(String id, FieldSpec spec, String expected, int kind) {
    return new IllegalArgumentException(
        "document '"
            + id
            + "': field '"
            + spec.name()
            + "' is "
            + spec.kind()
            + " and needs "
            + expected
            + ", got "
            + typeName(kind));
  }

  /** The same names as {@link DocumentIndexer#typeName}, by stored value kind. */
  private static String typeName(int kind) {
    return switch (kind) {
      case StoredForm.KIND_STRING -> "a string";
      case StoredForm.KIND_LONG -> "an integer";
      case StoredForm.KIND_DOUBLE -> "a double";
      case StoredForm.KIND_BOOL -> "a boolean";
      case StoredForm.KIND_BYTES -> "bytes";
      case StoredForm.KIND_STRING_LIST -> "a string list";
      default -> "an unknown kind " + kind;
    };
  }

  private static IllegalArgumentException malformed(String id, String what) {
    return new IllegalArgumentException("document '" + id + "': malformed stored form: " + what);
  }
}
