package dev.strata.manifest;

import dev.strata.manifest.CatalogConflictException.Reason;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.vfs.Vfs;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fork catalog: which forks exist ({@link ForkEntry}), persisted in {@code <data>/catalog/}
 * ({@link #directoryFor}) as versioned, immutable files {@code 00000000000000000007.catalog}, each
 * holding the whole catalog. Every change writes the next version with the same protocol as {@link
 * ManifestStore#publish} (temp file, fsync, rename, directory fsync), so a crash leaves the old or
 * the new version, whole. The current version is the highest one; the newest {@value
 * #RETAINED_VERSIONS} are kept (the older one is what {@link CorruptionPolicy#MOVE_ASIDE} falls back
 * to), older ones are deleted after each change (best effort: a failed delete is logged and retried
 * after the next change).
 *
 * <p>Reads ({@link #current()}, {@link #byId}, {@link #byName}) return an immutable {@link
 * CatalogSnapshot} without locking or I/O. Changes ({@link #put}, {@link #update}, {@link #remove})
 * return the new snapshot once it is durable.
 *
 * <p>State transitions of an entry are those of {@link ForkState}: {@code put} adds it ACTIVE,
 * {@code update} moves ACTIVE → DROPPING (drop begins) or DROPPING → ACTIVE (drain timed out), and
 * {@code remove} deletes a DROPPING entry (drop finished). Anything else is a {@link
 * CatalogConflictException}.
 *
 * <p><b>Failures</b> as in {@link ManifestStore}: an I/O error before the rename changes nothing; an
 * I/O error in the rename or directory fsync makes the catalog refuse every later change with a
 * {@link StoreClosedException} (sticky) until it is opened again.
 *
 * <p><b>Thread-safety:</b> thread-safe. Changes are serialised: a writer waits (on {@code
 * writerDone}, which releases {@code lock}) while another writes, then validates its change
 * against the catalog that writer produced. {@code lock} guards {@code writing} and {@code
 * closedBy} and is never held across I/O; it is the only lock. {@code current} is volatile, written
 * under {@code lock}.
 */
public final class ForkCatalog implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ForkCatalog.class);

  /** Suffix of a catalog file name. */
  public static final String FILE_SUFFIX = ".catalog";

  /** How many catalog versions are kept on disk: the current one and the one before. */
  public static final int RETAINED_VERSIONS = 2;

  private final SeqFileDirectory files;
  private final OpenReport openReport;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition writerDone = lock.newCondition();

  private volatile CatalogSnapshot current;

  /** True while one change is being written. */
  @GuardedBy("lock")
  private boolean writing;

  /** Why the catalog refuses changes (closed, or sticky I/O failure); null while usable. */
  @GuardedBy("lock")
  private StoreClosedException closedBy;

  private ForkCatalog(SeqFileDirectory files, CatalogSnapshot current, OpenReport openReport) {
    this.files = files;
    this.current = current;
    this.openReport = openReport;
  }

  /** The catalog directory: {@code <dataDir>/catalog}. */
  public static Path directoryFor(Path dataDir) {
    return dataDir.resolve("catalog");
  }

  /** {@link #open(Vfs, Path, CorruptionPolicy)} with {@link CorruptionPolicy#FAIL}. */
  public static ForkCatalog open(Vfs vfs, Path dir) throws IOException {
    return open(vfs, dir, CorruptionPolicy.FAIL);
  }

  /**
   * Opens (creating it if needed) the catalog directory: deletes leftover temp files, reads the
   * highest version (an empty directory is {@link CatalogSnapshot#EMPTY}), applies {@code policy}
   * if it is bad, and fsyncs the directory.
   *
   * @throws ManifestCorruptionException naming the file if the newest version is bad (see {@link
   *     CorruptionPolicy})
   * @throws IOException on an I/O failure
   */
  public static ForkCatalog open(Vfs vfs, Path dir, CorruptionPolicy policy) throws IOException {
    Objects.requireNonNull(vfs, "vfs");
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(policy, "policy");
    vfs.createDirectories(dir);
    SeqFileDirectory files = new SeqFileDirectory(vfs, dir, FILE_SUFFIX);
    SeqFileDirectory.Listing listing = files.scan();
    List<Path> deleted = new ArrayList<>();
    for (Path temp : listing.temps()) {
      if (vfs.deleteIfExists(temp)) {
        deleted.add(temp);
        LOG.info("fork catalog: deleted temp file of an unfinished change: {}", temp);
      }
    }
    for (Path other : listing.others()) {
      LOG.warn("fork catalog: ignoring unexpected file: {}", other);
    }
    List<Path> movedAside = new ArrayList<>();
    CatalogSnapshot snapshot = null;
    List<Long> versions = listing.seqs();
    for (int i = versions.size() - 1; i >= 0 && snapshot == null; i--) {
      long version = versions.get(i);
      try {
        snapshot = read(files, version);
      } catch (ManifestCorruptionException e) {
        if (policy == CorruptionPolicy.FAIL || e.kind() == Kind.UNSUPPORTED_VERSION) {
          throw e;
        }
        Path aside = files.moveAside(version);
        movedAside.add(aside);
        LOG.error("fork catalog: REPAIR moved the bad catalog {} aside to {} and falls back to an older version: {}",
            files.path(version), aside, e.getMessage());
      }
    }
    files.syncDirectory();
    return new ForkCatalog(files, snapshot == null ? CatalogSnapshot.EMPTY : snapshot,
        new OpenReport(deleted, movedAside, listing.others()));
  }

  private static CatalogSnapshot read(SeqFileDirectory files, long version) throws IOException {
    Path path = files.path(version);
    CatalogSnapshot s = ForkCatalogCodec.decode(files.vfs().readAllBytes(path), path);
    if (s.version() != version) {
      throw new ManifestCorruptionException(path, Kind.INCONSISTENT,
          "holds version " + s.version() + ", its name says " + version);
    }
    return s;
  }

  /** What {@link #open} found and changed. */
  public OpenReport openReport() {
    return openReport;
  }

  /** The catalog directory. */
  public Path directory() {
    return files.dir();
  }

  /** The current catalog. No I/O, no lock; works after close. */
  public CatalogSnapshot current() {
    return current;
  }

  /** The fork with id {@code forkId} in the current catalog. */
  public Optional<ForkEntry> byId(String forkId) {
    return current.byId(forkId);
  }

  /** The fork named {@code name} in the current catalog. */
  public Optional<ForkEntry> byName(String name) {
    return current.byName(name);
  }

  /**
   * Adds a new fork, durably. Two fsyncs.
   *
   * @param entry an ACTIVE entry whose id and name are not in the catalog
   * @return the new catalog
   * @throws CatalogConflictException NAME_TAKEN, ID_TAKEN, or ILLEGAL_TRANSITION if not ACTIVE
   * @throws StoreClosedException if the catalog was closed or failed
   * @throws IOException on an I/O failure (see the class comment)
   */
  public CatalogSnapshot put(ForkEntry entry) throws IOException, CatalogConflictException {
    Objects.requireNonNull(entry, "entry");
    return change(cat -> {
      if (entry.state() != ForkState.ACTIVE) {
        throw new CatalogConflictException(Reason.ILLEGAL_TRANSITION, "a new fork starts ACTIVE, not " + entry.state());
      }
      if (cat.byId(entry.forkId()).isPresent()) {
        throw new CatalogConflictException(Reason.ID_TAKEN, "fork id '" + entry.forkId() + "' already exists");
      }
      Optional<ForkEntry> sameName = cat.byName(entry.name());
      if (sameName.isPresent()) {
        throw new CatalogConflictException(Reason.NAME_TAKEN,
            "fork '" + entry.name() + "' already exists (" + sameName.get().state() + ")");
      }
      return cat.with(entry);
    });
  }

  /**
   * Changes the state of an existing fork, durably. Only the state may change, and only as {@link
   * ForkState#canTransitionTo} allows. Two fsyncs.
   *
   * @param entry the entry with its new state; matched by id
   * @return the new catalog
   * @throws CatalogConflictException NOT_FOUND, IMMUTABLE_FIELD or ILLEGAL_TRANSITION
   * @throws StoreClosedException if the catalog was closed or failed
   * @throws IOException on an I/O failure (see the class comment)
   */
  public CatalogSnapshot update(ForkEntry entry) throws IOException, CatalogConflictException {
    Objects.requireNonNull(entry, "entry");
    return change(cat -> {
      ForkEntry old = cat.byId(entry.forkId()).orElseThrow(
          () -> new CatalogConflictException(Reason.NOT_FOUND, "no fork with id '" + entry.forkId() + "'"));
      if (!old.name().equals(entry.name()) || !old.baseSnapshotId().equals(entry.baseSnapshotId())
          || old.createTimeMs() != entry.createTimeMs()) {
        throw new CatalogConflictException(Reason.IMMUTABLE_FIELD,
            "only the state of fork '" + old.name() + "' can change: " + old + " -> " + entry);
      }
      if (!old.state().canTransitionTo(entry.state())) {
        throw new CatalogConflictException(Reason.ILLEGAL_TRANSITION,
            "fork '" + old.name() + "' cannot go from " + old.state() + " to " + entry.state());
      }
      return cat.with(entry);
    });
  }

  /**
   * Removes a fork whose drop has finished, durably. Two fsyncs.
   *
   * @return the new catalog
   * @throws CatalogConflictException NOT_FOUND, or ILLEGAL_TRANSITION if it is not DROPPING
   * @throws StoreClosedException if the catalog was closed or failed
   * @throws IOException on an I/O failure (see the class comment)
   */
  public CatalogSnapshot remove(String forkId) throws IOException, CatalogConflictException {
    Objects.requireNonNull(forkId, "forkId");
    return change(cat -> {
      ForkEntry old = cat.byId(forkId).orElseThrow(
          () -> new CatalogConflictException(Reason.NOT_FOUND, "no fork with id '" + forkId + "'"));
      if (old.state() != ForkState.DROPPING) {
        throw new CatalogConflictException(Reason.ILLEGAL_TRANSITION,
            "fork '" + old.name() + "' is " + old.state() + "; only a DROPPING fork can be removed");
      }
      return cat.without(forkId);
    });
  }

  /**
   * Points {@code tag} at {@code snapshotId} (replacing an earlier target), durably. Two fsyncs.
   * The caller checks the snapshot exists.
   *
   * @return the new catalog
   * @throws StoreClosedException if the catalog was closed or failed
   * @throws IOException on an I/O failure
   */
  public CatalogSnapshot putTag(String tag, String snapshotId) throws IOException, CatalogConflictException {
    Objects.requireNonNull(tag, "tag");
    Objects.requireNonNull(snapshotId, "snapshotId");
    return change(cat -> cat.withTag(tag, snapshotId));
  }

  /**
   * Removes {@code tag}, durably. Two fsyncs.
   *
   * @throws CatalogConflictException NOT_FOUND if there is no such tag
   */
  public CatalogSnapshot removeTag(String tag) throws IOException, CatalogConflictException {
    Objects.requireNonNull(tag, "tag");
    return change(cat -> {
      if (!cat.tags().containsKey(tag)) {
        throw new CatalogConflictException(Reason.NOT_FOUND, "no tag '" + tag + "'");
      }
      return cat.withoutTag(tag);
    });
  }

  /**
   * One catalog version in the catalog file format (envelope "STFC" + {@code ForkCatalogFile}),
   * e.g. to copy it to object storage. Pure.
   */
  public static byte[] encode(CatalogSnapshot snapshot, long updateTimeMs) {
    return ForkCatalogCodec.encode(snapshot, updateTimeMs);
  }

  /**
   * Decodes bytes written by {@link #encode} (or a catalog file).
   *
   * @throws ManifestCorruptionException naming {@code source} if they are not a valid catalog
   */
  public static CatalogSnapshot decode(byte[] bytes, Path source) throws ManifestCorruptionException {
    return ForkCatalogCodec.decode(bytes, source);
  }

  /** A change computed from the current catalog; pure, no I/O. */
  @FunctionalInterface
  private interface Change {
    CatalogSnapshot apply(CatalogSnapshot current) throws CatalogConflictException;
  }

  private CatalogSnapshot change(Change change) throws IOException, CatalogConflictException {
    CatalogSnapshot next;
    lock.lock();
    try {
      while (writing) {
        try {
          writerDone.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while waiting to change the fork catalog");
        }
      }
      ensureUsableLocked();
      next = change.apply(current);
      writing = true;
    } finally {
      lock.unlock();
    }
    boolean committed = false;
    IOException fatal = null;
    try {
      Path temp = files.writeTemp(next.version(), ForkCatalogCodec.encode(next, System.currentTimeMillis()));
      try {
        files.commit(temp, next.version());
      } catch (IOException e) {
        fatal = e;
        files.deleteQuietly(temp);
        throw e;
      }
      committed = true;
    } finally {
      lock.lock();
      try {
        writing = false;
        if (committed) {
          current = next;
        } else if (fatal != null && closedBy == null) {
          closedBy = new StoreClosedException("fork catalog failed while writing version " + next.version()
              + "; whether it is durable is unknown: reopen the catalog to recover", fatal);
          LOG.error("fork catalog failed: {}", fatal.toString());
        }
        writerDone.signalAll();
      } finally {
        lock.unlock();
      }
    }
    pruneOlderThan(next.version() - (RETAINED_VERSIONS - 1));
    return next;
  }

  /** Deletes versions below {@code keepFrom}; failures are logged, the next change retries. */
  private void pruneOlderThan(long keepFrom) {
    try {
      for (long v : files.seqs()) {
        if (v < keepFrom) {
          files.deleteQuietly(files.path(v));
        }
      }
    } catch (IOException e) {
      LOG.warn("fork catalog: could not list {} to delete old versions: {}", files.dir(), e.toString());
    }
  }

  /** Refuses every later change. Idempotent; no I/O. */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closedBy == null) {
        closedBy = new StoreClosedException("fork catalog is closed", null);
      }
      writerDone.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void ensureUsableLocked() throws StoreClosedException {
    assert lock.isHeldByCurrentThread();
    if (closedBy != null) {
      throw new StoreClosedException(closedBy.getMessage(), closedBy.getCause());
    }
  }
}
