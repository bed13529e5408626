package dev.strata.manifest;

import java.util.Objects;

/**
 * One fork in the {@link ForkCatalog}. Immutable and thread-safe. State transitions: see {@link
 * ForkState}.
 *
 * @param forkId opaque unique id ({@link ForkIds}); names the fork's directory
 * @param name user-visible name ({@link ForkNames})
 * @param baseSnapshotId the snapshot it was created from; empty for {@code main}
 * @param state lifecycle state
 * @param createTimeMs creation time, milliseconds since the Unix epoch (UTC), &gt;= 0
 */
public record ForkEntry(String forkId, String name, String baseSnapshotId, ForkState state, long createTimeMs) {

  /**
   * @throws IllegalArgumentException if the id or name is invalid or the time negative
   */
  public ForkEntry {
    ForkIds.validate(forkId);
    ForkNames.validate(name);
    Objects.requireNonNull(baseSnapshotId, "baseSnapshotId (use \"\" for none)");
    Objects.requireNonNull(state, "state");
    if (createTimeMs < 0) {
      throw new IllegalArgumentException("createTimeMs must be >= 0: " + createTimeMs);
    }
  }

  /** A new ACTIVE fork with a fresh id ({@link ForkIds#newId}). */
  public static ForkEntry create(String name, String baseSnapshotId, long createTimeMs) {
    return new ForkEntry(ForkIds.newId(name), name, baseSnapshotId, ForkState.ACTIVE, createTimeMs);
  }

  /** This entry in state {@code newState}. */
  public ForkEntry withState(ForkState newState) {
    return new ForkEntry(forkId, name, baseSnapshotId, newState, createTimeMs);
  }
}
