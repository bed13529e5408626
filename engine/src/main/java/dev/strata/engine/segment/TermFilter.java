package dev.strata.engine.segment;

import java.util.List;
import java.util.Objects;

/**
 * An exact-match filter on a KEYWORD field: the document has at least one of {@code values} among
 * the field's values (an OR of terms, as the API's {@code TermFilter.values}). Applied as a
 * non-scoring FILTER clause (a Lucene {@code TermInSetQuery}). Immutable.
 *
 * @param field a KEYWORD field of the collection's schema
 * @param values the exact values (no analysis), 1..{@value #MAX_VALUES}; duplicates are harmless
 */
public record TermFilter(String field, List<String> values) {
  /** Most values of one filter (the API's limit). */
  public static final int MAX_VALUES = 1024;

  /**
   * @throws NullPointerException if an argument or a value is null
   * @throws IllegalArgumentException if there are no values or more than {@value #MAX_VALUES}
   */
  public TermFilter {
    Objects.requireNonNull(field, "field");
    values = List.copyOf(values);
    if (values.isEmpty() || values.size() > MAX_VALUES) {
      throw new IllegalArgumentException(
          "a term filter takes 1.." + MAX_VALUES + " values, got " + values.size());
    }
  }

  /** A filter on one value. */
  public TermFilter(String field, String value) {
    this(field, List.of(Objects.requireNonNull(value, "value")));
  }
}
