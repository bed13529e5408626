package dev.strata.engine.model;

import java.util.Objects;

/**
 * One field of a collection schema. Immutable.
 *
 * @param name field name, 1..128 chars of {@code [A-Za-z0-9_.-]}
 * @param kind how it is indexed
 * @param analyzer Lucene analyzer name for TEXT fields, "" for the default (standard)
 */
public record FieldSpec(String name, FieldKind kind, String analyzer) {
  public FieldSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(kind, "kind");
    analyzer = analyzer == null ? "" : analyzer;
    if (!name.matches("[A-Za-z0-9_.-]{1,128}") || name.startsWith("_")) {
      throw new IllegalArgumentException(
          "field name must be 1..128 chars of [A-Za-z0-9_.-], not starting with '_': " + name);
    }
  }

  /** A field with the default analyzer. */
  public static FieldSpec of(String name, FieldKind kind) {
    return new FieldSpec(name, kind, "");
  }
}
