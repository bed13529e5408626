package dev.strata.engine;

import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.ForkContext;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.CatalogConflictException;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ForkNames;
import dev.strata.manifest.ForkState;
import dev.strata.manifest.proto.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open forks of one engine by name, and their creation and drop (SPEC §4).
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>One owner per name.</b> Create and drop reserve the name in a concurrent map (a
 *       placeholder object while a fork is being created) instead of taking a lock, so no lock is
 *       held across their I/O and two creates of one name cannot both succeed.
 *   <li><b>A new fork's base survives its creation.</b> Its segments are pinned for GC ({@link
 *       #pinnedSegments()}) from before the base is checked until the fork's own manifest refers to
 *       them; retention is kept away from the base through the {@link RetentionGate} until the
 *       catalog entry naming it is saved.
 *   <li><b>A drop is all or nothing for the user.</b> If its drain times out, or the catalog update
 *       that starts it fails, the fork stays whole and writable; once the catalog says DROPPING, a
 *       crash is finished by the next open.
 * </ol>
 *
 * <p>Thread-safe. Called from RPC threads (create, drop, lookups) and from engine threads
 * (lookups).
 */
final class ForkRegistry {
  private static final Logger log = LoggerFactory.getLogger(ForkRegistry.class);

  private final ForkContext ctx;
  private final ForkCatalog catalog;
  private final RetentionGate gate;
  private final Tags tags;

  /** Open forks by name; a name being created maps to a placeholder (invariant 1). */
  private final ConcurrentHashMap<String, Object> forks = new ConcurrentHashMap<>();

  /** Base segments of forks being created, by new fork name (invariant 2). */
  private final ConcurrentHashMap<String, Set<Long>> pinnedForCreation = new ConcurrentHashMap<>();

  ForkRegistry(ForkContext ctx, ForkCatalog catalog, RetentionGate gate, Tags tags) {
    this.ctx = ctx;
    this.catalog = catalog;
    this.gate = gate;
    this.tags = tags;
  }

  /** Registers a fork opened by recovery. */
  void add(Fork fork) {
    forks.put(fork.name(), fork);
  }

  /**
   * The open fork named {@code name}.
   *
   * @throws StrataException NOT_FOUND if there is none (or it is being created or dropped)
   */
  Fork fork(String name) {
    Object f = name == null ? null : forks.get(name);
    if (f instanceof Fork fork) {
      return fork;
    }
    throw StrataException.notFound("fork '" + name + "' does not exist");
  }

  /** Every open fork, by name. */
  List<Fork> openForks() {
    List<Fork> out = new ArrayList<>();
    for (Object o : forks.values()) {
      if (o instanceof Fork f) {
        out.add(f);
      }
    }
    out.sort(Comparator.comparing(Fork::name));
    return out;
  }

  /** The open fork whose id is {@code forkId}. */
  Optional<Fork> forkById(String forkId) {
    return openForks().stream().filter(f -> f.id().equals(forkId)).findFirst();
  }

  /**
   * The open fork that owns snapshot {@code snapshotId}.
   *
   * @throws StrataException NOT_FOUND if no open fork owns it
   */
  Fork forkOfSnapshot(String snapshotId) {
    return forkById(Fork.forkIdOf(snapshotId))
        .orElseThrow(() -> StrataException.notFound("snapshot '" + snapshotId + "' does not exist (no open fork owns it)"));
  }

  /** A retained manifest by snapshot id, on any open fork. */
  Optional<Manifest> findManifest(String snapshotId) {
    Optional<Fork> owner = forkById(Fork.forkIdOf(snapshotId));
    if (owner.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(owner.get().loadSnapshot(snapshotId));
    } catch (StrataException e) {
      return Optional.empty();
    }
  }

  /** Segments pinned for forks being created (GC keeps them). */
  Set<Long> pinnedSegments() {
    Set<Long> out = new HashSet<>();
    pinnedForCreation.values().forEach(out::addAll);
    return out;
  }

  /**
   * Creates fork {@code name} from a snapshot (O(1): one manifest that refers to the same
   * segments; no data is copied) and starts its interval timer.
   *
   * @param fromSnapshot a snapshot id or tag of any fork, or null/empty to use {@code fromFork}'s
   *     head
   * @param fromFork the fork whose head to fork from (when {@code fromSnapshot} is empty; {@code
   *     main} if empty too)
   * @param flushFirst flush {@code fromFork} and wait for it first, so the new fork has every
   *     acknowledged write of it
   * @param timeoutMs bound on that flush
   * @throws StrataException INVALID_ARGUMENT (bad name), ALREADY_EXISTS, NOT_FOUND (source),
   *     FAILED_PRECONDITION (the source fork has no snapshot yet), DEADLINE_EXCEEDED (the flush
   *     did not publish in time), IO_ERROR
   */
  Fork create(String name, String fromSnapshot, String fromFork, boolean flushFirst, long timeoutMs) {
    String problem = ForkNames.problem(name);
    if (problem != null) {
      throw StrataException.invalid(problem);
    }
    Object reservation = new Object();
    if (forks.putIfAbsent(name, reservation) != null) {
      throw StrataException.of(StrataException.Kind.ALREADY_EXISTS, "fork '" + name + "' already exists");
    }
    boolean done = false;
    try {
      Manifest base = baseOf(fromSnapshot, fromFork, flushFirst, timeoutMs);
      Set<Long> baseSegments = new HashSet<>();
      base.getSegmentsList().forEach(r -> baseSegments.add(Long.parseUnsignedLong(r.getSegmentId(), 16)));
      pinnedForCreation.put(name, baseSegments);
      ForkEntry entry = saveEntry(name, base);
      Fork fork = open(entry, base);
      forks.put(name, fork);
      fork.startTimer();
      done = true;
      log.info("fork={} id={} created from snapshot {}", name, entry.forkId(), base.getId());
      return fork;
    } catch (IOException ex) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot create fork '" + name + "': " + ex.getMessage(), ex);
    } finally {
      pinnedForCreation.remove(name);
      if (!done) {
        forks.remove(name, reservation);
      }
    }
  }

  /** The base snapshot of a new fork: a snapshot named by id or tag, or a fork's head. */
  private Manifest baseOf(String fromSnapshot, String fromFork, boolean flushFirst, long timeoutMs) {
    if (fromSnapshot != null && !fromSnapshot.isEmpty()) {
      return findManifest(tags.resolve(fromSnapshot))
          .orElseThrow(() -> StrataException.notFound("snapshot '" + fromSnapshot + "' does not exist"));
    }
    Fork source = fork(fromFork == null || fromFork.isEmpty() ? StrataEngine.MAIN : fromFork);
    if (flushFirst) {
      FlushTicket t = source.flush(ctx.options().writeStallTimeoutMs());
      try {
        source.awaitTicket(t).get(timeoutMs, TimeUnit.MILLISECONDS);
      } catch (TimeoutException ex) {
        throw StrataException.of(
            StrataException.Kind.DEADLINE_EXCEEDED,
            "flush of fork '" + source.name() + "' did not publish within " + timeoutMs + " ms");
      } catch (ExecutionException ex) {
        throw ex.getCause() instanceof StrataException se
            ? se
            : StrataException.of(StrataException.Kind.IO_ERROR, ex.getCause().getMessage(), ex.getCause());
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
      }
    }
    return source
        .head()
        .orElseThrow(
            () -> StrataException.failedPrecondition(
                "fork '" + source.name() + "' has no snapshot yet: flush it first (or pass flush_first)"));
  }

  /**
   * Saves the new fork's catalog entry, after checking (with retention kept away) that the base
   * still exists: a concurrent drop of its fork or its expiry may have removed it.
   */
  private ForkEntry saveEntry(String name, Manifest base) throws IOException {
    gate.protect(base.getId());
    ForkEntry entry = ForkEntry.create(name, base.getId(), ctx.options().clock().millis());
    try {
      if (findManifest(base.getId()).isEmpty()) {
        throw StrataException.notFound(
            "snapshot '" + base.getId() + "' no longer exists (its fork was dropped or it expired)");
      }
      catalog.put(entry);
      return entry;
    } catch (CatalogConflictException ex) {
      throw StrataException.of(StrataException.Kind.ALREADY_EXISTS, ex.getMessage());
    } finally {
      gate.unprotect(base.getId());
    }
  }

  /** Opens the new fork on its saved entry; on failure removes the entry again. */
  private Fork open(ForkEntry entry, Manifest base) throws IOException {
    PublishedSnapshot openBase = null;
    try {
      try {
        openBase = forkOfSnapshot(base.getId()).acquireSnapshot(base.getId());
      } catch (StrataException ex) {
        openBase = null; // the new fork rebuilds the liveness itself
      }
      return Fork.create(ctx, entry, base, openBase);
    } catch (IOException | RuntimeException ex) {
      try {
        abandon(entry);
      } catch (IOException | RuntimeException cleanup) {
        ex.addSuppressed(cleanup); // the next open finishes it
      }
      throw ex;
    } finally {
      if (openBase != null) {
        openBase.release();
      }
    }
  }

  /**
   * Drops fork {@code name} (SPEC §4): refuses new writes, drains its in-flight flushes for at most
   * {@code drainTimeoutMs}, closes its pipeline, deletes its tags, WAL and manifests. The caller
   * then collects the segments nothing refers to any more.
   *
   * @return the dropped fork (closed)
   * @throws StrataException FAILED_PRECONDITION for {@code main} or a drop in progress; NOT_FOUND;
   *     DEADLINE_EXCEEDED if the drain timed out (the fork then stays whole and writable); IO_ERROR
   */
  Fork drop(String name, long drainTimeoutMs) {
    if (StrataEngine.MAIN.equals(name)) {
      throw StrataException.failedPrecondition("fork 'main' cannot be dropped");
    }
    Fork fork = fork(name);
    fork.beginDrop();
    int pending;
    try {
      pending = fork.drain(drainTimeoutMs);
    } catch (InterruptedException ex) {
      fork.abortDrop();
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
    if (pending > 0) {
      fork.abortDrop();
      throw StrataException.of(
          StrataException.Kind.DEADLINE_EXCEEDED,
          "drop of fork '" + name + "' timed out after " + drainTimeoutMs + " ms with " + pending
              + " flushes pending; the fork stays whole and writable");
    }
    try {
      catalog.update(fork.entry().withState(ForkState.DROPPING));
    } catch (IOException | CatalogConflictException ex) {
      fork.abortDrop();
      throw StrataException.of(
          StrataException.Kind.IO_ERROR,
          "drop of fork '" + name + "' failed before it began (the fork is unchanged): " + ex.getMessage(),
          ex);
    }
    try {
      tags.deleteAllOfFork(fork.id());
      forks.remove(name, fork);
      fork.closeForDrop();
      ctx.vfs().deleteRecursively(ctx.forkDir(fork.id()));
      removeFromCatalog(fork.id());
    } catch (IOException | CatalogConflictException ex) {
      throw StrataException.of(
          StrataException.Kind.IO_ERROR, "drop of fork '" + name + "' failed: " + ex.getMessage() + " (a restart finishes it)", ex);
    }
    log.info("fork={} id={} dropped", name, fork.id());
    return fork;
  }

  /** Removes a catalog entry whose fork never became usable, and its directory. */
  void abandon(ForkEntry entry) throws IOException {
    try {
      catalog.update(entry.withState(ForkState.DROPPING));
    } catch (CatalogConflictException ex) {
      throw new IOException("cannot abandon fork " + entry.name(), ex);
    }
    ctx.vfs().deleteRecursively(ctx.forkDir(entry.forkId()));
    removeFromCatalog(entry.forkId());
  }

  /** Removes fork {@code forkId}'s catalog entry. */
  void removeFromCatalog(String forkId) throws IOException {
    try {
      catalog.remove(forkId);
    } catch (CatalogConflictException ex) {
      throw new IOException("cannot remove fork " + forkId + " from the catalog", ex);
    }
  }

  /** Forgets every fork (engine close; the forks are closed by the caller). */
  void clear() {
    forks.clear();
  }
}
