package dev.strata.engine;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Serializes the two moments that matter between retention and a new reference to a snapshot (a
 * tag, a new fork's base): retention's final choice of what to delete, and the registration of the
 * reference. Without it, a tag saved while a retention pass deletes its snapshot would name a
 * snapshot that is gone.
 *
 * <h2>Protocol</h2>
 *
 * A registrant calls {@link #protect} (fails NOT_FOUND if retention already chose the snapshot),
 * checks the snapshot still exists, saves its reference (catalog I/O, outside the gate), then
 * {@link #unprotect}s. Retention calls {@link #confirmExpiry} with its candidates: it keeps every
 * snapshot a tag, a fork base or an in-flight registration names, and marks the rest as expiring
 * until {@link #expired}. Either retention decided first and the registrant fails, or the
 * registrant came first and retention keeps the snapshot.
 *
 * <p>What is kept for good ({@link #kept}): tagged snapshots, fork bases, and the source snapshots
 * the forks' heads record as merged (the base of their next merge).
 *
 * <p>Thread-safe: one monitor, held only for in-memory set operations, never across I/O.
 */
final class RetentionGate {
  private final ForkCatalog catalog;
  private final Object gate = new Object();

  /** Snapshot ids a tag or fork creation is about to refer to, with a count per registrant. */
  @GuardedBy("gate")
  private final Map<String, Integer> referencesInFlight = new HashMap<>();

  /** Snapshot ids retention decided to delete and is deleting. */
  @GuardedBy("gate")
  private final Set<String> expiring = new HashSet<>();

  private final Supplier<Set<String>> mergeSources;

  /** @param mergeSources the source snapshots the forks' heads record as merged (no I/O) */
  RetentionGate(ForkCatalog catalog, Supplier<Set<String>> mergeSources) {
    this.catalog = catalog;
    this.mergeSources = mergeSources;
  }

  /** Snapshots retention never expires: tagged ones, fork bases, merged sources. Reads memory. */
  Set<String> kept() {
    Set<String> keep = new HashSet<>(catalog.current().tags().values());
    for (ForkEntry e : catalog.current().forks()) {
      if (!e.baseSnapshotId().isEmpty()) {
        keep.add(e.baseSnapshotId());
      }
    }
    keep.addAll(mergeSources.get());
    return keep;
  }

  /**
   * Keeps retention away from {@code snapshotId} until {@link #unprotect}.
   *
   * @throws StrataException NOT_FOUND if retention already chose to delete it
   */
  void protect(String snapshotId) {
    synchronized (gate) {
      if (expiring.contains(snapshotId)) {
        throw StrataException.notFound("snapshot '" + snapshotId + "' has expired");
      }
      referencesInFlight.merge(snapshotId, 1, Integer::sum);
    }
  }

  /** Ends one {@link #protect} of {@code snapshotId}. */
  void unprotect(String snapshotId) {
    synchronized (gate) {
      referencesInFlight.computeIfPresent(snapshotId, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  /**
   * Retention's final choice: of {@code candidates}, those no tag, fork base or in-flight
   * registration protects, marked as expiring until {@link #expired}. Reads the catalog in memory.
   */
  List<String> confirmExpiry(List<String> candidates) {
    synchronized (gate) {
      Set<String> keep = kept();
      keep.addAll(referencesInFlight.keySet());
      List<String> go = new ArrayList<>();
      for (String id : candidates) {
        if (!keep.contains(id)) {
          go.add(id);
          expiring.add(id);
        }
      }
      return go;
    }
  }

  /** The manifests of {@code ids} are deleted (or their deletion failed): no longer expiring. */
  void expired(List<String> ids) {
    synchronized (gate) {
      ids.forEach(expiring::remove);
    }
  }
}
