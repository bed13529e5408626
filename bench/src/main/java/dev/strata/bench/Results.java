package dev.strata.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** Summaries and JSON output shared by the load generators. Stateless. */
public final class Results {
  private Results() {}

  /** The median of {@code f} over {@code runs}, NaN values left out; NaN if none is left. */
  public static <T> double median(List<T> runs, ToDoubleFunction<T> f) {
    double[] v = runs.stream().mapToDouble(f).filter(x -> !Double.isNaN(x)).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /**
   * {@code o} as JSON: records become objects (component names as keys), lists arrays, maps objects,
   * doubles 3 decimals (NaN and infinities null). Enough for a script, no library needed.
   */
  public static String json(Object o) {
    if (o == null) {
      return "null";
    }
    if (o instanceof String str) {
      StringBuilder b = new StringBuilder("\"");
      for (char ch : str.toCharArray()) {
        switch (ch) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          case '\n' -> b.append("\\n");
          default -> {
            if (ch < 0x20) {
              b.append(String.format("\\u%04x", (int) ch));
            } else {
              b.append(ch);
            }
          }
        }
      }
      return b.append('"').toString();
    }
    if (o instanceof Double d) {
      return d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.3f", d);
    }
    if (o instanceof Number || o instanceof Boolean) {
      return o.toString();
    }
    if (o instanceof int[] a) {
      return Arrays.toString(a);
    }
    if (o instanceof java.util.Collection<?> l) {
      List<String> parts = new ArrayList<>();
      l.forEach(x -> parts.add(json(x)));
      return "[" + String.join(", ", parts) + "]";
    }
    if (o instanceof Map<?, ?> m) {
      List<String> parts = new ArrayList<>();
      m.forEach((k, v) -> parts.add(json(k.toString()) + ": " + json(v)));
      return "{" + String.join(", ", parts) + "}";
    }
    if (o instanceof Record rec) {
      List<String> parts = new ArrayList<>();
      for (var c : rec.getClass().getRecordComponents()) {
        try {
          parts.add(json(c.getName()) + ": " + json(c.getAccessor().invoke(rec)));
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(e);
        }
      }
      return "{" + String.join(", ", parts) + "}";
    }
    return json(o.toString());
  }
}
