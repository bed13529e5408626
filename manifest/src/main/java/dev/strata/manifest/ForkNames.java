package dev.strata.manifest;

import java.util.regex.Pattern;

/**
 * Validates fork names: {@code [a-z0-9][a-z0-9._-]{0,62}}, i.e. 1 to 63 characters of lowercase
 * ASCII letters, digits, '.', '_' and '-', starting with a letter or digit. No name can contain a
 * path separator or be {@code .} or {@code ..}, so a name can never reach outside the data
 * directory (fork directories are named by fork id, see {@link ForkIds}, but names show up in logs,
 * metrics and dumps too). Stateless and thread-safe; shared with the server.
 */
public final class ForkNames {

  /** Longest valid name, in characters. */
  public static final int MAX_LENGTH = 63;

  /** The grammar of a name. */
  public static final Pattern PATTERN = Pattern.compile("[a-z0-9][a-z0-9._-]{0," + (MAX_LENGTH - 1) + "}");

  private ForkNames() {}

  /** True if {@code name} is a valid fork name. */
  public static boolean isValid(String name) {
    return name != null && PATTERN.matcher(name).matches();
  }

  /**
   * Returns {@code name} if valid.
   *
   * @throws IllegalArgumentException saying what is wrong (for an INVALID_ARGUMENT status)
   */
  public static String validate(String name) {
    String problem = problem(name);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return name;
  }

  /** Why {@code name} is invalid, for a client; null if it is valid. */
  public static String problem(String name) {
    if (name == null || name.isEmpty()) {
      return "fork name must not be empty";
    }
    if (name.length() > MAX_LENGTH) {
      return "fork name is " + name.length() + " characters long, at most " + MAX_LENGTH + " allowed";
    }
    for (int i = 0; i < name.length(); ) {
      int cp = name.codePointAt(i);
      boolean alnum = (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9');
      boolean ok = alnum || (i > 0 && (cp == '.' || cp == '_' || cp == '-'));
      if (!ok) {
        String shown = cp >= 0x20 && cp < 0x7f ? "'" + (char) cp + "'" : String.format("U+%04X", cp);
        return "fork name '" + escape(name) + "' has " + shown + " at index " + i
            + ": names use a-z, 0-9, '.', '_', '-' and start with a letter or digit";
      }
      i += Character.charCount(cp);
    }
    return null;
  }

  private static String escape(String s) {
    StringBuilder sb = new StringBuilder();
    s.codePoints().forEach(cp -> {
      if (cp >= 0x20 && cp < 0x7f) {
        sb.append((char) cp);
      } else {
        sb.append(String.format("\\u{%X}", cp));
      }
    });
    return sb.toString();
  }
}
