package dev.strata.engine.segment;

import java.util.Objects;

/**
 * Sort search hits by a field's doc values instead of by score. LONG and DOUBLE sort numerically,
 * KEYWORD by the smallest of its values in UTF-8 byte order. Documents without the field come last
 * in either direction; ties are broken by document id. Immutable.
 *
 * @param field a LONG, DOUBLE or KEYWORD field of the collection's schema
 * @param descending largest first if true
 */
public record SortSpec(String field, boolean descending) {
  /**
   * @throws NullPointerException if {@code field} is null
   */
  public SortSpec {
    Objects.requireNonNull(field, "field");
  }
}
