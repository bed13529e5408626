package dev.strata.engine.model;

/** How a schema field is indexed (SPEC §1). */
public enum FieldKind {
  /** Analyzed, full-text searchable (Lucene {@code TextField}). */
  TEXT,
  /** Exact match and filterable (Lucene {@code StringField} + sorted-set doc values). */
  KEYWORD,
  /** 64-bit integer: range filters and sort (points + numeric doc values). */
  LONG,
  /** 64-bit float: range filters and sort (points + numeric doc values). */
  DOUBLE,
  /** Kept with the document, not indexed. */
  STORED
}
