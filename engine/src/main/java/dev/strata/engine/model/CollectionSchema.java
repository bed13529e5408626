package dev.strata.engine.model;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The schema of one collection: its indexed fields. Fields not named here are stored only.
 * Immutable; the fields keep the order they were given in at creation (the API's {@code
 * Collection.fields} promise; the WAL record and the manifest store them in that order), while
 * equality is by the set of field specs, whatever their order.
 */
public final class CollectionSchema {
  private final Map<String, FieldSpec> fields;
  /** The same fields keyed by the UTF-8 bytes of their names, for checks that scan stored bytes. */
  private final Map<ByteString, FieldSpec> fieldsByUtf8Name;

  /**
   * @param specs the fields, in creation order
   * @throws IllegalArgumentException if a field name repeats
   */
  public CollectionSchema(List<FieldSpec> specs) {
    Map<String, FieldSpec> m = new LinkedHashMap<>();
    for (FieldSpec s : specs) {
      if (m.put(s.name(), s) != null) {
        throw new IllegalArgumentException("field '" + s.name() + "' is defined twice");
      }
    }
    this.fields = Collections.unmodifiableMap(m);
    Map<ByteString, FieldSpec> byUtf8 = new HashMap<>();
    m.forEach((name, spec) -> byUtf8.put(ByteString.copyFromUtf8(name), spec));
    this.fieldsByUtf8Name = Collections.unmodifiableMap(byUtf8);
  }

  /** The fields, in creation order. */
  public List<FieldSpec> fields() {
    return List.copyOf(fields.values());
  }

  /** The spec of a field, if the schema names it. */
  public Optional<FieldSpec> field(String name) {
    return Optional.ofNullable(fields.get(name));
  }

  /**
   * The spec of the field whose name has these UTF-8 bytes, or null if the schema does not name it:
   * the lookup of a check that scans a stored document without decoding its names.
   */
  public FieldSpec fieldByUtf8Name(ByteString utf8Name) {
    return fieldsByUtf8Name.get(utf8Name);
  }

  /**
   * Describes how {@code other} differs from this schema, for a FAILED_PRECONDITION message.
   *
   * @return an empty string if equal
   */
  public String describeDifference(CollectionSchema other) {
    List<String> diffs = new ArrayList<>();
    for (FieldSpec s : fields.values()) {
      FieldSpec o = other.fields.get(s.name());
      if (o == null) {
        diffs.add("field '" + s.name() + "' is missing (existing: " + s.kind() + ")");
      } else if (!o.equals(s)) {
        diffs.add(
            "field '" + s.name() + "' is " + describe(o) + " but the collection has " + describe(s));
      }
    }
    for (FieldSpec o : other.fields.values()) {
      if (!fields.containsKey(o.name())) {
        diffs.add("field '" + o.name() + "' (" + o.kind() + ") is not in the collection");
      }
    }
    return String.join("; ", diffs);
  }

  private static String describe(FieldSpec s) {
    return s.analyzer().isEmpty() ? s.kind().toString() : s.kind() + "/" + s.analyzer();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CollectionSchema c && fields.equals(c.fields);
  }

  @Override
  public int hashCode() {
    return fields.hashCode();
  }

  @Override
  public String toString() {
    return "CollectionSchema" + fields.values();
  }
}
