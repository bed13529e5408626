package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.SortedDocValuesField;
import org.apache.lucene.document.SortedNumericDocValuesField;
import org.apache.lucene.document.SortedSetDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.NumericUtils;

/**
 * Builds the Lucene document of each put for one {@link IndexWriter}, reusing the same {@link
 * Field} instances from one document to the next (Lucene's advice for indexing speed: "re-use the
 * Field instances across documents", {@code IndexWriter.addDocument} consumes a document fully
 * before it returns). The fields are those {@link DocumentIndexer} describes: {@code _key}, {@code
 * _collection}, {@code _id} and the indexed schema fields, named by {@link LuceneFields#field}.
 *
 * <p>Per Lucene field name it keeps as many instances as the largest number of values one document
 * had in that field (TEXT and KEYWORD fields may hold string lists), so after the first documents
 * indexing allocates no {@code Field}, no {@code BytesRef} for the key and no document list.
 *
 * <p>Not thread-safe: one builder per writing thread and {@code IndexWriter}; the list returned by
 * {@link #build} is valid until the next call.
 */
final class LuceneDocumentBuilder {
  private final StringField key = new StringField(LuceneFields.KEY, new BytesRef(), Field.Store.NO);
  private final BytesRef keyRef = new BytesRef();
  private final StringField collection = new StringField(LuceneFields.COLLECTION, "", Field.Store.NO);
  private final StringField id = new StringField(LuceneFields.ID, "", Field.Store.NO);
  private final SortedDocValuesField idValues = new SortedDocValuesField(LuceneFields.ID, new BytesRef());

  /** Reusable instances per Lucene field name, in the order a document uses them. */
  private final Map<String, Slots> slots = new HashMap<>();

  /** Names of schema fields per collection, cached: {@code collection/field} strings are built once. */
  private final Map<String, Map<String, String>> names = new HashMap<>();

  private final List<IndexableField> doc = new ArrayList<>();

  /** The instances of one Lucene field name; {@code used} counts those taken by the current doc. */
  private static final class Slots {
    final List<Field> primary = new ArrayList<>();
    final List<Field> docValues = new ArrayList<>();
    int used;
  }

  /**
   * The Lucene document of a put, in fields owned by this builder (valid until the next call).
   *
   * @param document a document {@link DocumentIndexer#validate} accepted against {@code schema}
   *     (the segment writer checks every document before it writes anything; a value of the wrong
   *     type would fail here with a {@link ClassCastException})
   * @param key the document's RocksDB key; its bytes after the {@link SegmentFormat#PREFIX_BYTES}
   *     segment prefix are the {@code _key} term ({@link SegmentFormat#keySuffix})
   */
  List<IndexableField> build(String collectionName, Document document, CollectionSchema schema, byte[] key) {
    doc.clear();
    slots.values().forEach(s -> s.used = 0);
    keyRef.bytes = key;
    keyRef.offset = SegmentFormat.PREFIX_BYTES;
    keyRef.length = key.length - SegmentFormat.PREFIX_BYTES;
    this.key.setBytesValue(keyRef);
    collection.setStringValue(collectionName);
    id.setStringValue(document.id());
    idValues.setBytesValue(new BytesRef(document.id()));
    doc.add(this.key);
    doc.add(collection);
    doc.add(id);
    doc.add(idValues);
    Map<String, String> luceneNames = names.computeIfAbsent(collectionName, c -> new HashMap<>());
    for (Map.Entry<String, FieldValue> e : document.fields().entrySet()) {
      Optional<FieldSpec> specOpt = schema.field(e.getKey());
      if (specOpt.isEmpty()) {
        continue;
      }
      FieldSpec spec = specOpt.get();
      FieldValue value = e.getValue(); // checked by DocumentIndexer.validate before the write began
      String name = luceneNames.computeIfAbsent(spec.name(), f -> LuceneFields.field(collectionName, f));
      switch (spec.kind()) {
        case STORED -> {}
        case TEXT -> {
          for (String s : DocumentIndexer.strings(value)) {
            Slots sl = slots(name);
            if (sl.used == sl.primary.size()) {
              sl.primary.add(new TextField(name, "", Field.Store.NO));
            }
            Field f = sl.primary.get(sl.used++);
            f.setStringValue(s);
            doc.add(f);
          }
        }
        case KEYWORD -> {
          for (String s : DocumentIndexer.strings(value)) {
            Slots sl = slots(name);
            if (sl.used == sl.primary.size()) {
              sl.primary.add(new StringField(name, "", Field.Store.NO));
              sl.docValues.add(new SortedSetDocValuesField(name, new BytesRef()));
            }
            Field f = sl.primary.get(sl.used);
            Field dv = sl.docValues.get(sl.used++);
            f.setStringValue(s);
            dv.setBytesValue(new BytesRef(s));
            doc.add(f);
            doc.add(dv);
          }
        }
        case LONG -> {
          long v = ((FieldValue.Int64) value).value();
          Slots sl = slots(name);
          if (sl.primary.isEmpty()) {
            sl.primary.add(new LongPoint(name, 0L));
            sl.docValues.add(new SortedNumericDocValuesField(name, 0L));
          }
          Field p = sl.primary.get(0);
          Field dv = sl.docValues.get(0);
          p.setLongValue(v);
          dv.setLongValue(v);
          doc.add(p);
          doc.add(dv);
        }
        case DOUBLE -> {
          double v =
              value instanceof FieldValue.Int64 l
                  ? (double) l.value()
                  : ((FieldValue.Float64) value).value();
          Slots sl = slots(name);
          if (sl.primary.isEmpty()) {
            sl.primary.add(new DoublePoint(name, 0d));
            sl.docValues.add(new SortedNumericDocValuesField(name, 0L));
          }
          Field p = sl.primary.get(0);
          Field dv = sl.docValues.get(0);
          p.setDoubleValue(v);
          dv.setLongValue(NumericUtils.doubleToSortableLong(v));
          doc.add(p);
          doc.add(dv);
        }
      }
    }
    return doc;
  }

  private Slots slots(String luceneName) {
    return slots.computeIfAbsent(luceneName, n -> new Slots());
  }
}
