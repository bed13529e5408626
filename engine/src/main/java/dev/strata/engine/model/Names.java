package dev.strata.engine.model;

import java.util.regex.Pattern;

/**
 * Validation of collection names: {@code [a-z0-9][a-z0-9._-]{0,62}}, so a name is safe as a path
 * segment and as a key prefix (no NUL, no '/', no "..").
 */
public final class Names {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

  private Names() {}

  /**
   * @throws IllegalArgumentException naming the rule if {@code name} breaks it
   */
  public static String requireValidCollection(String name) {
    if (name == null || !NAME.matcher(name).matches() || name.contains("..")) {
      throw new IllegalArgumentException(
          "collection name must match [a-z0-9][a-z0-9._-]{0,62} without '..', got '"
              + name
              + "'");
    }
    return name;
  }
}
