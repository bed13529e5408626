package dev.strata.manifest;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Fork ids: opaque, unique, path-safe strings that name a fork's directory ({@code
 * <data>/forks/<fork-id>/}). A new id is the fork's name, '-', and 16 random hex digits from a
 * {@link SecureRandom} ({@code main-3f9a0c...}): readable in a directory listing, and different
 * every time, so a fork dropped and re-created under the same name gets a new id (and a fresh
 * directory). Callers must not parse ids. Thread-safe.
 */
public final class ForkIds {

  /** Longest valid id, in characters. */
  public static final int MAX_LENGTH = 128;

  /** What a valid id looks like: path-safe, never {@code .} or {@code ..}. */
  public static final Pattern PATTERN = Pattern.compile("[a-z0-9][a-z0-9._-]{0," + (MAX_LENGTH - 1) + "}");

  private static final SecureRandom RANDOM = new SecureRandom();

  private ForkIds() {}

  /**
   * A new id for a fork called {@code name}.
   *
   * @throws IllegalArgumentException if {@code name} is not a valid fork name
   */
  public static String newId(String name) {
    ForkNames.validate(name);
    byte[] suffix = new byte[8];
    RANDOM.nextBytes(suffix);
    return name + "-" + HexFormat.of().formatHex(suffix);
  }

  /** True if {@code id} is a valid fork id. */
  public static boolean isValid(String id) {
    return id != null && PATTERN.matcher(id).matches();
  }

  /**
   * Returns {@code id} if valid.
   *
   * @throws IllegalArgumentException if not
   */
  public static String validate(String id) {
    if (!isValid(id)) {
      throw new IllegalArgumentException("invalid fork id '" + id + "': expected " + PATTERN.pattern());
    }
    return id;
  }
}
