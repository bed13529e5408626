package dev.strata.engine.segment;

import java.util.Objects;

/**
 * An exact-match filter on a KEYWORD field: the document has {@code value} among the field's
 * values. Applied as a non-scoring FILTER clause. Immutable.
 *
 * @param field a KEYWORD field of the collection's schema
 * @param value the exact value (no analysis)
 */
public record TermFilter(String field, String value) {
  /**
   * @throws NullPointerException if an argument is null
   */
  public TermFilter {
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(value, "value");
  }
}
