package dev.strata.server;

import java.util.Locale;

/**
 * What a bearer token may do. Roles are ordered: {@code ADMIN} may do everything a {@code WRITER}
 * may, a {@code WRITER} everything a {@code READER} may (docs/api.md §1 lists the role of every
 * RPC).
 */
public enum Role {
  /** Reads documents, collections, snapshots, forks and statistics. */
  READER,
  /** Also creates collections, writes and flushes. */
  WRITER,
  /** Also creates and drops forks, tags snapshots, compacts and verifies. */
  ADMIN;

  /** True if this role may call an RPC that requires {@code required}. */
  public boolean covers(Role required) {
    return compareTo(required) >= 0;
  }

  /** The lowercase name used in configuration and error metadata ("admin", "writer", "reader"). */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration name.
   *
   * @throws IllegalArgumentException naming the accepted values
   */
  public static Role parse(String s) {
    for (Role r : values()) {
      if (r.configName().equals(s == null ? "" : s.strip().toLowerCase(Locale.ROOT))) {
        return r;
      }
    }
    throw new IllegalArgumentException("unknown role '" + s + "': expected admin, writer or reader");
  }
}
