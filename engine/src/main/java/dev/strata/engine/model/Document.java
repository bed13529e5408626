package dev.strata.engine.model;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A document: an id (UTF-8, 1..512 bytes) and its fields, sorted by name. Immutable and
 * thread-safe.
 *
 * @param id the document id within its collection
 * @param fields field name to value, unmodifiable and sorted by name
 */
public record Document(String id, Map<String, FieldValue> fields) {

  /** Longest id accepted, in UTF-8 bytes (SPEC §1). */
  public static final int MAX_ID_BYTES = 512;

  /**
   * @throws IllegalArgumentException if the id is empty or longer than {@link #MAX_ID_BYTES}
   */
  public Document {
    validateId(id);
    fields = Collections.unmodifiableMap(new TreeMap<>(fields));
  }

  /** Checks an id: 1..512 UTF-8 bytes, no NUL (NUL separates key parts on disk). */
  public static void validateId(String id) {
    Objects.requireNonNull(id, "id");
    int n = id.getBytes(StandardCharsets.UTF_8).length;
    if (n == 0 || n > MAX_ID_BYTES) {
      throw new IllegalArgumentException(
          "document id must be 1.." + MAX_ID_BYTES + " UTF-8 bytes, got " + n);
    }
    if (id.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("document id must not contain NUL");
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      // An unpaired surrogate would encode as '?' and collide with another id on disk.
      if (Character.isHighSurrogate(c)
          ? i + 1 >= id.length() || !Character.isLowSurrogate(id.charAt(++i))
          : Character.isLowSurrogate(c)) {
        throw new IllegalArgumentException("document id is not well-formed UTF-16 (unpaired surrogate)");
      }
    }
  }

  /** Approximate size in bytes (id + field names + values), used for L0 accounting. */
  public int sizeBytes() {
    int n = 32 + 2 * id.length();
    for (Map.Entry<String, FieldValue> e : fields.entrySet()) {
      n += 32 + 2 * e.getKey().length() + e.getValue().sizeBytes();
    }
    return n;
  }
}
