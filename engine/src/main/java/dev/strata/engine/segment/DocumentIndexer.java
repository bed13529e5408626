package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.SortedNumericDocValuesField;
import org.apache.lucene.document.SortedSetDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.util.NumericUtils;

/**
 * How a document maps to the Lucene fields of its segment index (built by {@link
 * LuceneDocumentBuilder}), and the checks that it can be mapped. Stateless and thread-safe.
 *
 * <p>Per schema field kind (values of fields the schema does not name, and of STORED fields, are
 * not indexed: the document body lives in RocksDB):
 *
 * <ul>
 *   <li>TEXT: a string or a string list; each value an analyzed {@link TextField} (not stored).
 *   <li>KEYWORD: a string or a string list; each value a {@link StringField} plus a {@link
 *       SortedSetDocValuesField} (filter, sort by the smallest value). At most {@value
 *       IndexWriter#MAX_TERM_LENGTH} UTF-8 bytes per value, Lucene's term limit.
 *   <li>LONG: a 64-bit integer; a {@link LongPoint} plus a {@link SortedNumericDocValuesField}.
 *   <li>DOUBLE: a double, or an integer (indexed as the nearest double; the stored document keeps
 *       the integer); a {@link DoublePoint} plus a {@link SortedNumericDocValuesField} of {@link
 *       NumericUtils#doubleToSortableLong}.
 * </ul>
 */
public final class DocumentIndexer {
  private DocumentIndexer() {}

  /**
   * Checks that every value of {@code doc} fits its schema field, so that indexing it cannot fail.
   * Call it before the write is applied anywhere (WAL, L0): a document accepted here is always
   * indexable by {@link SegmentStore#write}.
   *
   * @throws IllegalArgumentException naming the document, the field, the expected and the actual
   *     type, or the field's analyzer if it is unknown
   */
  public static void validate(Document doc, CollectionSchema schema) {
    for (Map.Entry<String, FieldValue> e : doc.fields().entrySet()) {
      Optional<FieldSpec> spec = schema.field(e.getKey());
      if (spec.isPresent()) {
        validateValue(doc.id(), spec.get(), e.getValue());
      }
    }
  }

  /**
   * Checks a schema: TEXT analyzers are supported, other kinds name no analyzer.
   *
   * @throws IllegalArgumentException naming the field
   */
  public static void validateSchema(CollectionSchema schema) {
    for (FieldSpec spec : schema.fields()) {
      if (spec.kind() == FieldKind.TEXT) {
        if (!Analyzers.isKnown(spec.analyzer())) {
          throw new IllegalArgumentException(
              "field '"
                  + spec.name()
                  + "': unknown analyzer '"
                  + spec.analyzer()
                  + "'; supported: "
                  + String.join(", ", Analyzers.names()));
        }
      } else if (!spec.analyzer().isEmpty()) {
        throw new IllegalArgumentException(
            "field '"
                + spec.name()
                + "' is "
                + spec.kind()
                + ": only TEXT fields take an analyzer");
      }
    }
  }

  private static void validateValue(String docId, FieldSpec spec, FieldValue value) {
    switch (spec.kind()) {
      case STORED -> {}
      case TEXT -> {
        List<String> strings = strings(value);
        if (strings == null) {
          throw wrongType(docId, spec, "a string or a string list", value);
        }
        if ("keyword".equals(spec.analyzer())) {
          requireTermLength(docId, spec, strings);
        }
      }
      case KEYWORD -> {
        List<String> strings = strings(value);
        if (strings == null) {
          throw wrongType(docId, spec, "a string or a string list", value);
        }
        requireTermLength(docId, spec, strings);
      }
      case LONG -> {
        if (!(value instanceof FieldValue.Int64)) {
          throw wrongType(docId, spec, "an integer", value);
        }
      }
      case DOUBLE -> {
        if (!(value instanceof FieldValue.Float64) && !(value instanceof FieldValue.Int64)) {
          throw wrongType(docId, spec, "a double or an integer", value);
        }
      }
    }
  }

  private static void requireTermLength(String docId, FieldSpec spec, List<String> strings) {
    for (String s : strings) {
      int n = s.getBytes(StandardCharsets.UTF_8).length;
      if (n > IndexWriter.MAX_TERM_LENGTH) {
        throw new IllegalArgumentException(
            "document '"
                + docId
                + "': field '"
                + spec.name()
                + "' ("
                + spec.kind()
                + ") has a value of "
                + n
                + " UTF-8 bytes; at most "
                + IndexWriter.MAX_TERM_LENGTH
                + " are indexable as one term");
      }
    }
  }

  private static IllegalArgumentException wrongType(
      String docId, FieldSpec spec, String expected, FieldValue actual) {
    return new IllegalArgumentException(
        "document '"
            + docId
            + "': field '"
            + spec.name()
            + "' is "
            + spec.kind()
            + " and needs "
            + expected
            + ", got "
            + typeName(actual));
  }

  /** A short name of a value's type, for messages. */
  static String typeName(FieldValue v) {
    return switch (v) {
      case FieldValue.Str s -> "a string";
      case FieldValue.Int64 l -> "an integer";
      case FieldValue.Float64 d -> "a double";
      case FieldValue.Bool b -> "a boolean";
      case FieldValue.Bytes b -> "bytes";
      case FieldValue.StrList l -> "a string list";
    };
  }

  /** The strings of a string or string-list value, or null for any other type. */
  static List<String> strings(FieldValue v) {
    return switch (v) {
      case FieldValue.Str s -> List.of(s.value());
      case FieldValue.StrList l -> l.values();
      default -> null;
    };
  }
}
