package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Schemas and documents shared by the segment tests. */
final class TestData {
  private TestData() {}

  /** title TEXT, body TEXT/english, tag KEYWORD, n LONG, x DOUBLE, note STORED. */
  static final CollectionSchema BOOKS =
      new CollectionSchema(
          List.of(
              FieldSpec.of("title", FieldKind.TEXT),
              new FieldSpec("body", FieldKind.TEXT, "english"),
              FieldSpec.of("tag", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG),
              FieldSpec.of("x", FieldKind.DOUBLE),
              FieldSpec.of("note", FieldKind.STORED)));

  /** A document from alternating field names and values (String, Long, Double, List, ...). */
  static Document doc(String id, Object... kv) {
    Map<String, FieldValue> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], value(kv[i + 1]));
    }
    return new Document(id, m);
  }

  @SuppressWarnings("unchecked")
  static FieldValue value(Object o) {
    return switch (o) {
      case FieldValue v -> v;
      case String s -> new FieldValue.Str(s);
      case Long l -> new FieldValue.Int64(l);
      case Integer i -> new FieldValue.Int64(i);
      case Double d -> new FieldValue.Float64(d);
      case Boolean b -> new FieldValue.Bool(b);
      case byte[] b -> new FieldValue.Bytes(b);
      case List<?> l -> new FieldValue.StrList((List<String>) l);
      default -> throw new IllegalArgumentException("unsupported test value " + o);
    };
  }

  static SegmentEntry put(String collection, long lsn, Document d) {
    return SegmentEntry.put(collection, lsn, d);
  }

  static SegmentEntry del(String collection, long lsn, String id) {
    return SegmentEntry.tombstone(collection, lsn, id);
  }

  /** Writes and ingests a segment. */
  /**
   * Waits for the store's background deletions: obsolete segments are deleted by its deleter
   * thread, not by the thread that marks or releases them.
   */
  static void awaitDeletions(SegmentStore store) {
    try {
      if (!store.awaitDeletions(30_000)) {
        throw new AssertionError("obsolete-segment deletions still pending after 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  static WrittenSegment writeAndIngest(
      SegmentStore store,
      long id,
      List<SegmentEntry> entries,
      Map<String, CollectionSchema> schemas)
      throws java.io.IOException {
    WrittenSegment w = store.write(id, entries, schemas);
    store.ingest(w);
    return w;
  }
}
