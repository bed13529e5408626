package dev.strata.server;

import dev.strata.api.v1.ErrorReason;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.CollectionRegistry;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import io.grpc.Status;
import java.util.Optional;

/**
 * Finds the engine objects a request names — forks, collections, snapshots — and fails with the
 * exact NOT_FOUND reason of docs/api.md when one is missing. Snapshot ids are split at their last
 * '-' into fork id and seq and matched against the fork id exactly. Stateless and thread-safe.
 */
final class Resolver {
  private Resolver() {}

  /**
   * The open fork named {@code name}.
   *
   * @throws ApiError NOT_FOUND (FORK_NOT_FOUND)
   */
  static Fork fork(StrataEngine engine, String name) {
    try {
      return engine.fork(name);
    } catch (StrataException e) {
      if (e.kind() != StrataException.Kind.NOT_FOUND) {
        throw e;
      }
      throw ApiError.of(
          Status.Code.NOT_FOUND, ErrorReason.FORK_NOT_FOUND, "fork '" + name + "' does not exist", "fork", name);
    }
  }

  /**
   * The collection {@code name} of {@code fork} at its head (including definitions not flushed).
   *
   * @throws ApiError NOT_FOUND (COLLECTION_NOT_FOUND)
   */
  static CollectionRegistry.Collection collection(Fork fork, String name) {
    CollectionRegistry.Collection c = fork.collections().get(name);
    if (c == null) {
      throw collectionNotFound(fork.name(), name);
    }
    return c;
  }

  /**
   * The definition of collection {@code name} in a snapshot.
   *
   * @throws ApiError NOT_FOUND (COLLECTION_NOT_FOUND)
   */
  static CollectionDef collection(Manifest m, String name) {
    for (CollectionDef d : m.getCollectionsList()) {
      if (d.getName().equals(name)) {
        return d;
      }
    }
    throw ApiError.of(
        Status.Code.NOT_FOUND,
        ErrorReason.COLLECTION_NOT_FOUND,
        "collection '" + name + "' does not exist in snapshot " + m.getId() + " of fork '" + m.getForkName() + "'",
        "fork",
        m.getForkName(),
        "collection",
        name,
        "snapshot_id",
        m.getId());
  }

  static ApiError collectionNotFound(String fork, String name) {
    return ApiError.of(
        Status.Code.NOT_FOUND,
        ErrorReason.COLLECTION_NOT_FOUND,
        "collection '" + name + "' does not exist in fork '" + fork + "'",
        "fork",
        fork,
        "collection",
        name);
  }

  /** The fork id part of a well-formed snapshot id. */
  static String forkIdOf(String snapshotId) {
    int dash = snapshotId.lastIndexOf('-');
    return dash < 0 ? snapshotId : snapshotId.substring(0, dash);
  }

  /**
   * The open fork that published {@code snapshotId}.
   *
   * @throws ApiError NOT_FOUND: FORK_DROPPED if no open fork has that id and it is known to have been
   *     dropped, else SNAPSHOT_NOT_FOUND (the id never existed, as far as the server knows)
   */
  static Fork ownerOf(ServerContext ctx, String snapshotId) {
    String forkId = forkIdOf(snapshotId);
    return openFork(
        ctx,
        forkId,
        dropped ->
            dropped
                ? ApiError.of(
                    Status.Code.NOT_FOUND,
                    ErrorReason.FORK_DROPPED,
                    "snapshot " + snapshotId + " belongs to fork id " + forkId + ", which was dropped",
                    "snapshot_id", snapshotId, "fork_id", forkId)
                : ApiError.of(
                    Status.Code.NOT_FOUND,
                    ErrorReason.SNAPSHOT_NOT_FOUND,
                    "snapshot " + snapshotId + " does not exist: no fork has id " + forkId,
                    "snapshot_id", snapshotId, "fork_id", forkId));
  }

  /**
   * The open fork with id {@code forkId} (a ticket's).
   *
   * @throws ApiError NOT_FOUND: FORK_DROPPED if that fork is known to have been dropped, else
   *     FORK_NOT_FOUND (metadata {@code fork_id})
   */
  static Fork forkById(ServerContext ctx, String forkId, String forkNameHint) {
    return openFork(
        ctx,
        forkId,
        dropped ->
            dropped
                ? ApiError.of(
                    Status.Code.NOT_FOUND,
                    ErrorReason.FORK_DROPPED,
                    "fork id " + forkId + " was dropped"
                        + (forkNameHint.isEmpty() ? "" : " (a fork named '" + Violations.printable(forkNameHint)
                            + "' now, if any, is another fork with a new id)"),
                    "fork_id", forkId)
                : ApiError.of(Status.Code.NOT_FOUND, ErrorReason.FORK_NOT_FOUND, "no fork has id " + forkId, "fork_id", forkId));
  }

  /**
   * The open fork with id {@code forkId}, else throws {@code missing.apply(known to be dropped)}:
   * an id is reported as dropped only on evidence ({@link DroppedForkIds}).
   */
  private static Fork openFork(ServerContext ctx, String forkId, java.util.function.Function<Boolean, ApiError> missing) {
    StrataEngine engine = ctx.engine();
    Optional<Fork> f = engine.forkById(forkId);
    if (f.isPresent()) {
      return f.get();
    }
    throw missing.apply(ctx.droppedForks.wasDropped(engine, forkId));
  }

  /**
   * A retained snapshot's manifest, of any fork.
   *
   * @throws ApiError NOT_FOUND (SNAPSHOT_NOT_FOUND or FORK_DROPPED)
   */
  static Manifest manifest(ServerContext ctx, String snapshotId) {
    Fork owner = ownerOf(ctx, snapshotId);
    try {
      return owner.loadSnapshot(snapshotId);
    } catch (StrataException e) {
      if (e.kind() != StrataException.Kind.NOT_FOUND) {
        throw e;
      }
      throw snapshotNotFound(snapshotId, "");
    }
  }

  /**
   * Acquires a retained snapshot of {@code fork} for reading; the caller releases it.
   *
   * @throws ApiError NOT_FOUND (SNAPSHOT_NOT_FOUND) if it is not a retained snapshot of that fork
   */
  static PublishedSnapshot acquire(Fork fork, String snapshotId) {
    if (!forkIdOf(snapshotId).equals(fork.id())) {
      throw snapshotNotFound(snapshotId, " in fork '" + fork.name() + "' (id " + fork.id() + ")");
    }
    try {
      return fork.acquireSnapshot(snapshotId);
    } catch (StrataException e) {
      if (e.kind() != StrataException.Kind.NOT_FOUND) {
        throw e;
      }
      throw snapshotNotFound(snapshotId, " in fork '" + fork.name() + "'");
    }
  }

  /**
   * Acquires a retained snapshot of any fork; the caller releases it.
   *
   * @throws ApiError NOT_FOUND (SNAPSHOT_NOT_FOUND or FORK_DROPPED)
   */
  static PublishedSnapshot acquire(ServerContext ctx, String snapshotId) {
    return acquire(ownerOf(ctx, snapshotId), snapshotId);
  }

  static ApiError snapshotNotFound(String snapshotId, String where) {
    return ApiError.of(
        Status.Code.NOT_FOUND,
        ErrorReason.SNAPSHOT_NOT_FOUND,
        "snapshot " + snapshotId + " does not exist" + where + " (never existed, or expired)",
        "snapshot_id",
        snapshotId);
  }

  /**
   * Fails unless the fork accepts writes, flushes and compactions.
   *
   * @throws ApiError FAILED_PRECONDITION (FORK_DROPPING, FORK_READ_ONLY)
   */
  static void requireWritable(Fork fork) {
    if (fork.isDropping()) {
      throw ApiError.of(
          Status.Code.FAILED_PRECONDITION,
          ErrorReason.FORK_DROPPING,
          "fork '" + fork.name() + "' is being dropped",
          "fork",
          fork.name());
    }
    String reason = fork.readOnlyReason();
    if (reason != null) {
      throw ApiError.of(
          Status.Code.FAILED_PRECONDITION,
          ErrorReason.FORK_READ_ONLY,
          "fork '" + fork.name() + "' is read-only: " + reason + " (a restart recovers its data from the WAL)",
          "fork",
          fork.name(),
          "state_reason",
          reason);
    }
  }
}
