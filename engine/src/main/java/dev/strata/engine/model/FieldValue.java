package dev.strata.engine.model;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One typed value of a document field. Immutable and thread-safe.
 *
 * <p>The variants mirror the public API's {@code strata.v1.Value}: string, 64-bit integer, 64-bit
 * float, boolean, bytes and a list of strings.
 */
public sealed interface FieldValue
    permits FieldValue.Str, FieldValue.Int64, FieldValue.Float64, FieldValue.Bool, FieldValue.Bytes,
        FieldValue.StrList {

  /** Approximate heap/encoded size in bytes, for L0 accounting. */
  int sizeBytes();

  /** A UTF-8 string. */
  record Str(String value) implements FieldValue {
    public Str {
      Objects.requireNonNull(value, "value");
    }

    @Override
    public int sizeBytes() {
      return 16 + 2 * value.length();
    }
  }

  /** A signed 64-bit integer. */
  record Int64(long value) implements FieldValue {
    @Override
    public int sizeBytes() {
      return 16;
    }
  }

  /** An IEEE-754 double. */
  record Float64(double value) implements FieldValue {
    @Override
    public int sizeBytes() {
      return 16;
    }
  }

  /** A boolean. */
  record Bool(boolean value) implements FieldValue {
    @Override
    public int sizeBytes() {
      return 16;
    }
  }

  /** Raw bytes; the array is copied in and never exposed mutable. */
  record Bytes(byte[] value) implements FieldValue {
    public Bytes {
      value = value.clone();
    }

    @Override
    public byte[] value() {
      return value.clone();
    }

    @Override
    public int sizeBytes() {
      return 16 + value.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Bytes b && Arrays.equals(value, b.value);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(value);
    }

    @Override
    public String toString() {
      return "Bytes[" + value.length + " bytes]";
    }
  }

  /** A list of strings (e.g. tags). */
  record StrList(List<String> values) implements FieldValue {
    public StrList {
      values = List.copyOf(values);
    }

    @Override
    public int sizeBytes() {
      int n = 16;
      for (String s : values) {
        n += 16 + 2 * s.length();
      }
      return n;
    }
  }
}
