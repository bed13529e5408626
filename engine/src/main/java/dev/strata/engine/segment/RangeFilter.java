package dev.strata.engine.segment;

import java.util.Objects;

/**
 * A range filter on a LONG or DOUBLE field, applied as a non-scoring FILTER clause over the field's
 * points. Immutable.
 *
 * @param field a LONG or DOUBLE field of the collection's schema
 * @param lower lower bound, or null for none; a {@link Long} (or other integral type) for a LONG
 *     field, any number for a DOUBLE field
 * @param upper upper bound, or null for none
 * @param lowerInclusive whether {@code lower} itself matches
 * @param upperInclusive whether {@code upper} itself matches
 */
public record RangeFilter(
    String field, Number lower, Number upper, boolean lowerInclusive, boolean upperInclusive) {
  /**
   * @throws NullPointerException if {@code field} is null (the kind of the bounds is checked
   *     against the schema at search time)
   */
  public RangeFilter {
    Objects.requireNonNull(field, "field");
  }

  /** {@code lower <= field <= upper} on a LONG field; null bounds are open. */
  public static RangeFilter longs(String field, Long lower, Long upper) {
    return new RangeFilter(field, lower, upper, true, true);
  }

  /** {@code lower <= field <= upper} on a DOUBLE field; null bounds are open. */
  public static RangeFilter doubles(String field, Double lower, Double upper) {
    return new RangeFilter(field, lower, upper, true, true);
  }
}
