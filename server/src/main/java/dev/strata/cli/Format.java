package dev.strata.cli;

import com.google.protobuf.Timestamp;
import dev.strata.api.v1.Value;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsing and printing of durations, sizes, counts and values for the command line. */
final class Format {
  private Format() {}

  private static final Pattern DURATION_PART =
      Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|us|µs|ns|s|m|h|d)", Pattern.CASE_INSENSITIVE);

  /**
   * Parses {@code 500ms}, {@code 30s}, {@code 1.5s}, {@code 5m}, {@code 1h}, {@code 2d}, {@code
   * 1m30s}, ISO-8601 ({@code PT30S}) or a bare number of seconds.
   */
  static Duration parseDuration(String text) {
    String s = text.trim();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty duration");
    }
    if (s.toUpperCase(Locale.ROOT).startsWith("P")) {
      return Duration.parse(s.toUpperCase(Locale.ROOT));
    }
    if (s.matches("\\d+(\\.\\d+)?")) {
      return Duration.ofNanos((long) (Double.parseDouble(s) * 1e9));
    }
    Matcher m = DURATION_PART.matcher(s);
    long nanos = 0;
    int end = 0;
    while (m.find()) {
      if (m.start() != end) {
        break;
      }
      double n = Double.parseDouble(m.group(1));
      double unit =
          switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "ns" -> 1;
            case "us", "µs" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "m" -> 60e9;
            case "h" -> 3600e9;
            default -> 86400e9;
          };
      nanos += (long) (n * unit);
      end = m.end();
    }
    if (end != s.length() || end == 0) {
      throw new IllegalArgumentException(
          "not a duration: '" + text + "' (examples: 500ms, 30s, 5m, 1h, 1m30s)");
    }
    return Duration.ofNanos(nanos);
  }

  /** {@code 30s}, {@code 1.5s}, {@code 0.25s}: the proto3 JSON form of a duration. */
  static String duration(Duration d) {
    if (d.getNano() == 0) {
      return d.getSeconds() + "s";
    }
    String frac = String.format(Locale.ROOT, "%09d", d.getNano()).replaceAll("0+$", "");
    return d.getSeconds() + "." + frac + "s";
  }

  /** A readable elapsed time: {@code 850 ms}, {@code 12.3 s}, {@code 4 min 05 s}. */
  static String elapsed(Duration d) {
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + " ms";
    }
    if (ms < 60_000) {
      return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }
    return String.format(Locale.ROOT, "%d min %02d s", ms / 60_000, (ms / 1000) % 60);
  }

  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?",
          Pattern.CASE_INSENSITIVE);

  /** Parses {@code 1048576}, {@code 64MiB}, {@code 64m}, {@code 1.5GiB} (binary units). */
  static long parseSize(String text) {
    Matcher m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a size: '" + text + "' (examples: 1048576, 64MiB, 1GiB)");
    }
    double n = Double.parseDouble(m.group(1));
    String u = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long mult =
        switch (u.charAt(0)) {
          case 'k' -> 1L << 10;
          case 'm' -> 1L << 20;
          case 'g' -> 1L << 30;
          case 't' -> 1L << 40;
          default -> 1;
        };
    return (long) (n * mult);
  }

  /** {@code 512 B}, {@code 1.5 KiB}, {@code 120.4 MiB}, {@code 2.00 GiB}. */
  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, v < 10 ? "%.2f %s" : "%.1f %s", v, units[i]);
  }

  /** {@code 63,666}. */
  static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  /** {@code 2026-11-23 12:00:01Z}, or empty for an unset timestamp. */
  static String time(Timestamp t) {
    if (t == null || (t.getSeconds() == 0 && t.getNanos() == 0)) {
      return "";
    }
    return TIME.format(Instant.ofEpochSecond(t.getSeconds(), t.getNanos()));
  }

  /** The display text of a field value (lists joined with ", "). */
  static String value(Value v) {
    return switch (v.getKindCase()) {
      case STRING_VALUE -> v.getStringValue();
      case INT64_VALUE -> Long.toString(v.getInt64Value());
      case DOUBLE_VALUE -> Double.toString(v.getDoubleValue());
      case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
      case BYTES_VALUE -> "<" + v.getBytesValue().size() + " bytes>";
      case STRING_LIST_VALUE -> String.join(", ", v.getStringListValue().getValuesList());
      case KIND_NOT_SET -> "";
    };
  }

  /** One line of at most {@code max} characters (newlines folded, ellipsis when cut). */
  static String cell(String s, int max) {
    String one = s.replaceAll("\\s*[\\r\\n]+\\s*", " ").replace('\t', ' ');
    if (max > 1 && one.codePointCount(0, one.length()) > max) {
      return one.substring(0, one.offsetByCodePoints(0, max - 1)) + "…";
    }
    return one;
  }
}
