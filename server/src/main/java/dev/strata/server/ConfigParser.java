package dev.strata.server;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Typed reads of raw values; every problem is collected, not thrown. */
final class ConfigParser {
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmg]i?b?|b)?", Pattern.CASE_INSENSITIVE);
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?", Pattern.CASE_INSENSITIVE);

  private final Map<String, String> raw;
  private final List<String> problems;

  ConfigParser(Map<String, String> raw, List<String> problems) {
    this.raw = raw;
    this.problems = problems;
  }

  String string(String key) {
    return raw.get(key);
  }

  long integer(String key, long min, long max) {
    return parse(key, min, max, "an integer", s -> s.matches("-?\\d+") ? Long.parseLong(s) : null);
  }

  long bytes(String key, long min, long max) {
    return parse(
        key,
        min,
        max,
        "a size (bytes, or with K/KiB, M/MiB, G/GiB)",
        s -> {
          Matcher m = SIZE.matcher(s);
          if (!m.matches()) {
            return null;
          }
          long n = Long.parseLong(m.group(1));
          String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
          int shift = unit.startsWith("k") ? 10 : unit.startsWith("m") ? 20 : unit.startsWith("g") ? 30 : 0;
          return n > (Long.MAX_VALUE >> shift) ? null : n << shift;
        });
  }

  long duration(String key, boolean offAllowed) {
    return parse(
        key,
        0,
        Long.MAX_VALUE / 1_000_000,
        "a duration (ms, or with ms, s, m, h)" + (offAllowed ? " or off" : ""),
        s -> {
          if (offAllowed && s.equalsIgnoreCase("off")) {
            return 0L;
          }
          Matcher m = DURATION.matcher(s);
          if (!m.matches()) {
            return null;
          }
          long n = Long.parseLong(m.group(1));
          String unit = m.group(2) == null ? "ms" : m.group(2).toLowerCase(Locale.ROOT);
          return switch (unit) {
            case "s" -> n * 1000;
            case "m" -> n * 60_000;
            case "h" -> n * 3_600_000;
            default -> n;
          };
        });
  }

  String[] hostPort(String key) {
    String v = raw.get(key);
    int colon = v.lastIndexOf(':');
    if (colon <= 0) {
      problems.add(key + " must be host:port, got '" + v + "'");
      return new String[] {"127.0.0.1", "0"};
    }
    String host = v.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    String port = v.substring(colon + 1);
    if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
      problems.add(key + " has a bad port '" + port + "'");
      return new String[] {host, "0"};
    }
    return new String[] {host, port};
  }

  private long parse(String key, long min, long max, String what, Function<String, Long> f) {
    String v = raw.get(key);
    Long n;
    try {
      n = f.apply(v.strip());
    } catch (NumberFormatException e) {
      n = null;
    }
    if (n == null) {
      problems.add(key + " must be " + what + ", got '" + v + "'");
      return min;
    }
    if (n < min || n > max) {
      problems.add(key + " must be in [" + min + ", " + max + "], got " + v);
      return min;
    }
    return n;
  }
}
