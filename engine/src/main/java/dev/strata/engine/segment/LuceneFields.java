package dev.strata.engine.segment;

/**
 * Names of the Lucene fields of a segment index. Stateless.
 *
 * <p>One Lucene index holds the documents of every collection in the segment, and Lucene requires a
 * field name to have one schema (index options, doc-values type, point dimensions) across the whole
 * index. Two collections may use the same field name with different kinds, so schema fields are
 * namespaced: {@code <collection>/<field>}. Neither collection names ({@code [a-z0-9._-]}) nor
 * field names ({@code [A-Za-z0-9_.-]}) contain '/', and schema field names never start with '_', so
 * the internal fields below cannot collide with them.
 */
final class LuceneFields {
  /** StringField, term = key suffix (collection UTF-8 | 0x00 | id UTF-8): liveness lookups. */
  static final String KEY = "_key";

  /** StringField, the collection name: every search filters on it. */
  static final String COLLECTION = "_collection";

  /** StringField + SortedDocValuesField, the document id: maps hits back, ties of sorts. */
  static final String ID = "_id";

  private LuceneFields() {}

  /** The Lucene name of schema field {@code field} of {@code collection}. */
  static String field(String collection, String field) {
    return collection + "/" + field;
  }
}
