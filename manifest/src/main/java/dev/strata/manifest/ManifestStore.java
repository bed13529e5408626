package dev.strata.manifest;

import dev.strata.manifest.ManifestConflictException.Reason;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.Vfs;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The published manifests (snapshots) of one fork, one immutable file per seq in the fork's
 * manifest directory ({@link #directoryFor}): {@code 00000000000000000042.manifest}. The head is the
 * file with the highest seq; there is no pointer file that could be lost or point at the wrong one.
 *
 * <p><b>Publish protocol</b> ({@link #publish}): check the manifest against the head and reserve the
 * publish (in memory, under {@code lock}); write {@code <final>.tmp-<random>}; fsync it; rename it to
 * the final name; fsync the directory; make it the head. A crash before the rename leaves the old
 * head (and a temp file that {@link #open} deletes); a crash after the directory fsync leaves the new
 * head; a crash in between leaves one or the other, whole, as the rename is atomic and the new file
 * was fsynced before it got its final name.
 *
 * <p><b>One publisher at a time.</b> Publishes are serialised by an in-memory reservation: the
 * second of two racing publishers gets {@link ManifestConflictException} ({@link
 * Reason#PUBLISH_IN_PROGRESS} while the first is writing, {@link Reason#STALE_SEQ} or {@link
 * Reason#WRONG_PARENT} after it finished), so for every seq exactly one publisher wins. The
 * reservation, not the file system, is what makes the final name exclusive: {@link Vfs#rename}
 * replaces, and creating the final name directly (exclusive create) could leave a torn final file
 * after a crash. This relies on one {@code ManifestStore} per directory in the process, and one
 * process per data directory; neither is checked here.
 *
 * <p><b>Failures.</b> An I/O error before the rename leaves the head unchanged, deletes the temp file
 * and the store stays usable. An I/O error in the rename or the directory fsync leaves the durable
 * state unknown: the store then refuses every later mutation with a {@link StoreClosedException}
 * whose cause is that error (sticky); {@link #open} again re-reads the directory, fsyncs it, and
 * reports whichever head is there.
 *
 * <p><b>A fork's first manifest, derived.</b> A new fork's first manifest is a pure function of its
 * catalog entry and its base snapshot, so fork creation does not write it: {@link #adoptFirst}
 * makes it the head in memory only, and the next {@link #publish} (or {@link #materialize}) writes
 * it before anything that names it as parent. Until then a crash loses nothing: the engine derives
 * the same manifest again from the same entry and base. {@link #isHeadDurable()} says which case
 * holds.
 *
 * <p><b>Corruption.</b> A published file was fsynced before its rename, so a bad head means storage
 * corruption: {@link #open} fails with a {@link ManifestCorruptionException} naming the file, unless
 * {@link CorruptionPolicy#MOVE_ASIDE} is given. Older files are read only by {@link #load} (which
 * throws) and {@link #verifyChain} (which reports).
 *
 * <p><b>Thread-safety:</b> thread-safe. {@code lock} guards the publish reservation and the closed
 * state and is never held across I/O (it is the only lock; there is no lock order to keep). {@code
 * head} is volatile, written under {@code lock} and read without it.
 */
public final class ManifestStore implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ManifestStore.class);

  /** Suffix of a manifest file name. */
  public static final String FILE_SUFFIX = ".manifest";

  private final SeqFileDirectory files;
  private final String forkId;
  private final OpenReport openReport;

  private final ReentrantLock lock = new ReentrantLock();

  /** The newest published manifest, or null before the first publish. Written under lock. */
  private volatile Manifest head;

  /** The manifest being written by the publish that holds the reservation, or null. */
  @GuardedBy("lock")
  private Manifest publishing;

  /** Why the store refuses mutations (closed, or sticky I/O failure); null while usable. */
  @GuardedBy("lock")
  private StoreClosedException closedBy;

  /**
   * The head when it is a derived first manifest not yet written ({@link #adoptFirst}), else null.
   * Written under lock; read without it.
   */
  private volatile Manifest unwrittenHead;

  /** A rename or directory fsync of a manifest failed: whether that file is durable is unknown. */
  private static final class InDoubt extends IOException {
    private static final long serialVersionUID = 1L;

    InDoubt(IOException cause) {
      super(cause);
    }
  }

  private ManifestStore(SeqFileDirectory files, String forkId, Manifest head, OpenReport openReport) {
    this.files = files;
    this.forkId = forkId;
    this.head = head;
    this.openReport = openReport;
  }

  /**
   * The manifest directory of a fork: {@code <dataDir>/forks/<forkId>/manifests}.
   *
   * @throws IllegalArgumentException if {@code forkId} is not a valid fork id ({@link ForkIds})
   */
  public static Path directoryFor(Path dataDir, String forkId) {
    ForkIds.validate(forkId);
    return dataDir.resolve("forks").resolve(forkId).resolve("manifests");
  }

  /** {@link #open(Vfs, Path, String, CorruptionPolicy)} with {@link CorruptionPolicy#FAIL}. */
  public static ManifestStore open(Vfs vfs, Path dir, String forkId) throws IOException {
    return open(vfs, dir, forkId, CorruptionPolicy.FAIL);
  }

  /**
   * Opens (creating it if needed) the manifest directory {@code dir} of fork {@code forkId}: deletes
   * leftover temp files, reads the head (the highest seq), applies {@code policy} if it is bad, and
   * fsyncs the directory so the head it reports, and the deletions and renames it made, are
   * durable. An empty directory it changed nothing in is not fsynced: there is nothing to make
   * durable (a new fork's store opens without an fsync). Reads one file; I/O proportional to the
   * number of files in the directory.
   *
   * @throws ManifestCorruptionException naming the head file if it is bad (always for an
   *     unsupported version; for other kinds only under {@link CorruptionPolicy#FAIL}); also if its
   *     seq differs from its name or it belongs to another fork
   * @throws IOException on an I/O failure
   */
  public static ManifestStore open(Vfs vfs, Path dir, String forkId, CorruptionPolicy policy)
      throws IOException {
    Objects.requireNonNull(vfs, "vfs");
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(policy, "policy");
    if (forkId == null || forkId.isEmpty()) {
      throw new IllegalArgumentException("fork id must not be empty");
    }
    vfs.createDirectories(dir);
    SeqFileDirectory files = new SeqFileDirectory(vfs, dir, FILE_SUFFIX);
    SeqFileDirectory.Listing listing = files.scan();
    List<Path> deleted = new ArrayList<>();
    for (Path temp : listing.temps()) {
      if (vfs.deleteIfExists(temp)) {
        deleted.add(temp);
        LOG.info("fork {}: deleted temp file of an unfinished publish: {}", forkId, temp);
      }
    }
    for (Path other : listing.others()) {
      LOG.warn("fork {}: ignoring unexpected file in the manifest directory: {}", forkId, other);
    }
    List<Path> movedAside = new ArrayList<>();
    Manifest head = null;
    List<Long> seqs = listing.seqs();
    for (int i = seqs.size() - 1; i >= 0 && head == null; i--) {
      long seq = seqs.get(i);
      try {
        head = readChecked(files, forkId, seq);
      } catch (ManifestCorruptionException e) {
        if (policy == CorruptionPolicy.FAIL || e.kind() == Kind.UNSUPPORTED_VERSION) {
          throw e;
        }
        Path aside = files.moveAside(seq);
        movedAside.add(aside);
        LOG.error("fork {}: REPAIR moved the bad head manifest {} aside to {} and falls back to an older one: {}",
            forkId, files.path(seq), aside, e.getMessage());
      }
    }
    if (head != null || !deleted.isEmpty() || !movedAside.isEmpty()) {
      files.syncDirectory();
    }
    if (head != null) {
      LOG.debug("fork {}: opened manifest store {}, head seq {}", forkId, dir, head.getSeq());
    }
    return new ManifestStore(files, forkId, head, new OpenReport(deleted, movedAside, listing.others()));
  }

  private static Manifest readChecked(SeqFileDirectory files, String forkId, long seq) throws IOException {
    Path path = files.path(seq);
    Manifest m = ManifestCodec.read(files.vfs(), path);
    if (m.getSeq() != seq) {
      throw new ManifestCorruptionException(path, Kind.INCONSISTENT,
          "holds seq " + Long.toUnsignedString(m.getSeq()) + ", its name says " + seq);
    }
    if (!m.getForkId().equals(forkId)) {
      throw new ManifestCorruptionException(path, Kind.INCONSISTENT,
          "belongs to fork '" + m.getForkId() + "', this directory is fork '" + forkId + "'");
    }
    return m;
  }

  /** The fork this store belongs to. */
  public String forkId() {
    return forkId;
  }

  /** The manifest directory. */
  public Path directory() {
    return files.dir();
  }

  /** What {@link #open} found and changed. */
  public OpenReport openReport() {
    return openReport;
  }

  /** The newest published manifest; empty before the first publish. No I/O; works after close. */
  public Optional<Manifest> head() {
    return Optional.ofNullable(head);
  }

  /**
   * False while the head is a derived first manifest that {@link #adoptFirst} set and no publish
   * has written yet; true otherwise (also when there is no head).
   */
  public boolean isHeadDurable() {
    return unwrittenHead == null;
  }

  /**
   * Makes {@code first}, a fork's first manifest derived from its catalog entry and base snapshot,
   * this store's head <em>in memory only</em> (no I/O). It is written, durably, by the next {@link
   * #publish} before the manifest that publish was given, or by {@link #materialize}. The caller
   * must derive it deterministically, so that deriving it again after a crash gives the same bytes
   * (same id, seq, time), and must keep its base snapshot retained until it is written.
   *
   * @throws IllegalArgumentException if it breaks a structural rule
   * @throws ManifestConflictException if the store already has a head, a publish is in progress, or
   *     it breaks the rules of a first manifest ({@link #publish})
   * @throws StoreClosedException if the store was closed or failed
   */
  public void adoptFirst(Manifest first) throws StoreClosedException, ManifestConflictException {
    Objects.requireNonNull(first, "first");
    List<ChainProblem> invalid = ManifestChainVerifier.checkManifest(first);
    if (!invalid.isEmpty()) {
      throw new IllegalArgumentException("invalid manifest: " + invalid);
    }
    lock.lock();
    try {
      ensureUsableLocked();
      if (publishing != null) {
        throw new ManifestConflictException(Reason.PUBLISH_IN_PROGRESS,
            "fork " + forkId + ": a publish is in progress; refusing " + ManifestChainVerifier.describe(first));
      }
      if (head != null) {
        throw new ManifestConflictException(Reason.STALE_SEQ, "fork " + forkId + " already has a head, "
            + ManifestChainVerifier.describe(head) + "; refusing " + ManifestChainVerifier.describe(first));
      }
      checkSuccessor(null, first);
      head = first;
      unwrittenHead = first;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes the head durably if {@link #adoptFirst} left it unwritten (temp, fsync, rename, directory
   * fsync); does nothing otherwise. The engine calls it before the base snapshot of such a head may
   * go (its fork being dropped).
   *
   * @throws ManifestConflictException if a publish is in progress
   * @throws StoreClosedException if the store was closed or failed
   * @throws IOException on an I/O failure, with the consequences {@link #publish} describes
   */
  public void materialize() throws IOException, ManifestConflictException {
    Manifest pending;
    lock.lock();
    try {
      ensureUsableLocked();
      pending = unwrittenHead;
      if (pending == null) {
        return;
      }
      if (publishing != null) {
        throw new ManifestConflictException(Reason.PUBLISH_IN_PROGRESS,
            "fork " + forkId + ": a publish is in progress");
      }
      publishing = pending;
    } finally {
      lock.unlock();
    }
    writeReserved(pending, null);
  }

  /**
   * Publishes {@code manifest} as the fork's new head, atomically and durably (see the class
   * comment); when this returns, the manifest survives a crash. Publication rules, checked against
   * the current head before any I/O:
   *
   * <ul>
   *   <li>{@code fork_id} is this store's fork ({@link Reason#WRONG_FORK});
   *   <li>with a head: {@code seq > head.seq} ({@link Reason#STALE_SEQ}); {@code parent_seq ==
   *       head.seq} and {@code parent_id ==
   *       head.id} ({@link Reason#WRONG_PARENT}); {@code covered_lsn >= head.covered_lsn} ({@link
   *       Reason#LSN_REGRESSION}); {@code base_snapshot_id == head.base_snapshot_id} ({@link
   *       Reason#BASE_CHANGED});
   *   <li>without a head (the fork's first manifest): no {@code parent_seq}, and {@code parent_id}
   *       empty (a root) or equal to {@code base_snapshot_id} ({@link Reason#WRONG_PARENT}).
   * </ul>
   *
   * Costs two fsyncs (file, directory), four when the head is a derived first manifest that is
   * written first ({@link #adoptFirst}).
   *
   * @return {@code manifest}, now the head
   * @throws IllegalArgumentException if the manifest breaks a structural rule ({@link
   *     ManifestChainVerifier#checkManifest}); nothing written
   * @throws ManifestConflictException if it breaks a publication rule or another publish is in
   *     progress; nothing written, store still usable
   * @throws StoreClosedException if the store was closed or failed earlier
   * @throws IOException on an I/O failure: before the rename the head is unchanged and the store
   *     usable; at or after it the store fails for good (see the class comment)
   */
  public Manifest publish(Manifest manifest) throws IOException, ManifestConflictException {
    Objects.requireNonNull(manifest, "manifest");
    List<ChainProblem> invalid = ManifestChainVerifier.checkManifest(manifest);
    if (!invalid.isEmpty()) {
      throw new IllegalArgumentException("invalid manifest: " + invalid);
    }
    Manifest pending;
    lock.lock();
    try {
      ensureUsableLocked();
      if (publishing != null) {
        throw new ManifestConflictException(Reason.PUBLISH_IN_PROGRESS,
            "fork " + forkId + ": " + ManifestChainVerifier.describe(publishing)
                + " is being published; refusing " + ManifestChainVerifier.describe(manifest));
      }
      checkSuccessor(head, manifest);
      publishing = manifest;
      pending = unwrittenHead;
    } finally {
      lock.unlock();
    }
    return writeReserved(pending, manifest);
  }

  /**
   * The I/O of a reserved publish: writes {@code pending} (the unwritten derived head, or null),
   * then {@code next} (or null), each durably, then gives the reservation back: {@code next} is
   * the head if it was written; the store fails for good if a write left a file in doubt.
   *
   * @return {@code next}
   */
  private Manifest writeReserved(Manifest pending, Manifest next) throws IOException {
    boolean published = false;
    IOException fatal = null;
    try {
      if (pending != null) {
        // The parent is a derived first manifest: it must be on disk before its child.
        writeUnwrittenHead(pending);
      }
      if (next != null) {
        writeFile(next);
      }
      published = true;
      return next;
    } catch (InDoubt e) {
      fatal = (IOException) e.getCause();
      throw fatal;
    } finally {
      lock.lock();
      try {
        publishing = null;
        if (published && next != null) {
          head = next;
        } else if (!published) {
          failIfInDoubtLocked(fatal, next != null ? next.getSeq() : pending.getSeq());
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /**
   * Writes {@code m} durably: temp file, fsync, rename, directory fsync.
   *
   * @throws InDoubt if the rename or the directory fsync failed (durable state unknown)
   * @throws IOException if writing or syncing the temp file failed (nothing changed)
   */
  private void writeFile(Manifest m) throws IOException {
    Path temp = files.writeTemp(m.getSeq(), ManifestCodec.encode(m));
    try {
      files.commit(temp, m.getSeq());
    } catch (IOException e) {
      files.deleteQuietly(temp); // a no-op if the rename happened
      throw new InDoubt(e);
    }
  }

  /** Writes the derived head {@code pending} ({@link #adoptFirst}); on success it is durable. */
  private void writeUnwrittenHead(Manifest pending) throws IOException {
    writeFile(pending);
    lock.lock();
    try {
      unwrittenHead = null;
    } finally {
      lock.unlock();
    }
  }

  /** After a failed write: the store fails for good if the failure left a file in doubt. */
  private void failIfInDoubtLocked(IOException fatal, long seq) {
    assert lock.isHeldByCurrentThread();
    if (fatal != null && closedBy == null) {
      closedBy = new StoreClosedException("manifest store of fork " + forkId + " failed while publishing seq "
          + seq + "; whether it is durable is unknown: reopen the store to recover", fatal);
      LOG.error("fork {}: manifest store failed: {}", forkId, fatal.toString());
    }
  }

  private void checkSuccessor(Manifest current, Manifest m) throws ManifestConflictException {
    String what = "fork " + forkId + ": cannot publish " + ManifestChainVerifier.describe(m) + ": ";
    if (!m.getForkId().equals(forkId)) {
      throw new ManifestConflictException(Reason.WRONG_FORK, what + "it is of fork '" + m.getForkId() + "'");
    }
    if (current == null) {
      if (m.hasParentSeq()) {
        throw new ManifestConflictException(Reason.WRONG_PARENT,
            what + "the fork has no manifest yet, but parent_seq is " + Long.toUnsignedString(m.getParentSeq()));
      }
      if (!m.getParentId().isEmpty() && !m.getParentId().equals(m.getBaseSnapshotId())) {
        throw new ManifestConflictException(Reason.WRONG_PARENT,
            what + "a fork's first manifest has its base snapshot as parent (or none), but parent_id is '"
                + m.getParentId() + "' and base_snapshot_id '" + m.getBaseSnapshotId() + "'");
      }
      return;
    }
    String head = "the head is " + ManifestChainVerifier.describe(current);
    if (Long.compareUnsigned(m.getSeq(), current.getSeq()) <= 0) {
      throw new ManifestConflictException(Reason.STALE_SEQ, what + head);
    }
    if (!m.hasParentSeq() || m.getParentSeq() != current.getSeq() || !m.getParentId().equals(current.getId())) {
      throw new ManifestConflictException(Reason.WRONG_PARENT,
          what + "parent is '" + m.getParentId() + "' (seq "
              + (m.hasParentSeq() ? Long.toUnsignedString(m.getParentSeq()) : "none") + "), " + head);
    }
    if (Long.compareUnsigned(m.getCoveredLsn(), current.getCoveredLsn()) < 0) {
      throw new ManifestConflictException(Reason.LSN_REGRESSION,
          what + "covered_lsn " + Long.toUnsignedString(m.getCoveredLsn()) + " < head's "
              + Long.toUnsignedString(current.getCoveredLsn()));
    }
    if (!m.getBaseSnapshotId().equals(current.getBaseSnapshotId())) {
      throw new ManifestConflictException(Reason.BASE_CHANGED,
          what + "base_snapshot_id '" + m.getBaseSnapshotId() + "', head has '" + current.getBaseSnapshotId() + "'");
    }
  }

  /**
   * Reads the manifest with {@code seq}. The head is returned from memory; others are read and
   * checked (one file read).
   *
   * @throws ManifestNotFoundException if there is no such manifest (never published, or deleted)
   * @throws ManifestCorruptionException naming the file if it is bad
   * @throws StoreClosedException if the store was closed or failed
   * @throws IOException on a read failure
   */
  public Manifest load(long seq) throws IOException {
    Manifest h = head;
    if (h != null && h.getSeq() == seq) {
      return h;
    }
    ensureUsable();
    if (seq < 0 || h == null || seq > h.getSeq()) {
      throw notFound(seq);
    }
    try {
      return readChecked(files, forkId, seq);
    } catch (NoSuchFileException e) {
      throw notFound(seq);
    }
  }

  private ManifestNotFoundException notFound(long seq) {
    return new ManifestNotFoundException(seq, "fork " + forkId + " has no manifest with seq "
        + Long.toUnsignedString(seq) + " in " + files.dir() + " (never published, or expired)");
  }

  /**
   * The seqs of the published manifests on disk, ascending, up to and including the head (a file
   * of a publish still in progress is not listed). Lists the directory; reads no file.
   *
   * @throws StoreClosedException if the store was closed or failed
   */
  public List<Long> list() throws IOException {
    ensureUsable();
    Manifest h = head;
    if (h == null) {
      return List.of();
    }
    if (unwrittenHead == h) {
      return List.of(h.getSeq()); // a derived first manifest: the only one, not on disk yet
    }
    List<Long> out = new ArrayList<>();
    for (long seq : files.seqs()) {
      if (seq <= h.getSeq()) {
        out.add(seq);
      }
    }
    return List.copyOf(out);
  }

  /**
   * Deletes expired manifests, then fsyncs the directory, so a deleted manifest does not come back
   * after a crash: the caller may reclaim segments that only they referenced once this returns.
   *
   * @param seqs seqs to delete, each below the head's seq; absent ones are skipped
   * @return how many files were deleted
   * @throws IllegalArgumentException if a seq is the head's or newer, or nothing is published;
   *     nothing is deleted then
   * @throws StoreClosedException if the store was closed or failed
   * @throws IOException on an I/O failure (some may have been deleted)
   */
  public int delete(Collection<Long> seqs) throws IOException {
    ensureUsable();
    Manifest h = head;
    for (long seq : seqs) {
      if (h == null || seq < 0 || seq >= h.getSeq()) {
        throw new IllegalArgumentException("fork " + forkId + ": refusing to delete seq " + Long.toUnsignedString(seq)
            + (h == null ? ": nothing is published" : ": only seqs below the head's " + h.getSeq() + " can expire"));
      }
    }
    int deleted = 0;
    for (long seq : seqs) {
      if (files.delete(seq)) {
        deleted++;
      }
    }
    if (deleted > 0) {
      files.syncDirectory();
    }
    return deleted;
  }

  /**
   * Deletes one expired manifest; see {@link #delete(Collection)}.
   *
   * @return true if it existed
   */
  public boolean delete(long seq) throws IOException {
    return delete(List.of(seq)) == 1;
  }

  /**
   * True while the store takes publications: false once closed, or after a publish failed at or
   * after its rename (whether that manifest is durable is then unknown). A publish that failed
   * earlier leaves it usable, with the head unchanged.
   */
  public boolean isUsable() {
    lock.lock();
    try {
      return closedBy == null;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Deletes every manifest with {@code seq <= seqInclusive}; see {@link #delete(Collection)}. The
   * caller keeps tagged snapshots by not using this across them.
   *
   * @throws IllegalArgumentException if {@code seqInclusive >= head.seq} or nothing is published
   */
  public int deleteUpTo(long seqInclusive) throws IOException {
    ensureUsable();
    Manifest h = head;
    if (h == null || seqInclusive >= h.getSeq()) {
      throw new IllegalArgumentException("fork " + forkId + ": refusing to delete up to seq " + seqInclusive
          + (h == null ? ": nothing is published" : ": the head is seq " + h.getSeq()));
    }
    List<Long> victims = new ArrayList<>();
    for (long seq : files.seqs()) {
      if (seq <= seqInclusive) {
        victims.add(seq);
      }
    }
    return delete(victims);
  }

  /**
   * Reads every published manifest and checks the chain ({@link ManifestChainVerifier#verify}),
   * reporting unreadable files as {@link ChainProblem.Kind#CORRUPT} problems that name the file
   * instead of throwing, and a missing head file. Reads every manifest file.
   *
   * @return every problem found; empty if the chain is valid
   * @throws StoreClosedException if the store was closed or failed
   * @throws IOException on an I/O failure other than a bad file
   */
  public List<ChainProblem> verifyChain() throws IOException {
    ensureUsable();
    Manifest h = head;
    List<ChainProblem> problems = new ArrayList<>();
    List<Manifest> chain = new ArrayList<>();
    if (h != null && unwrittenHead == h) {
      return ManifestChainVerifier.verify(List.of(h)); // derived, not on disk yet: nothing to read
    }
    boolean headFileSeen = false;
    for (long seq : list()) {
      try {
        chain.add(seq == (h == null ? -1 : h.getSeq()) ? readChecked(files, forkId, seq) : load(seq));
        headFileSeen |= h != null && seq == h.getSeq();
      } catch (ManifestCorruptionException e) {
        headFileSeen |= h != null && seq == h.getSeq();
        problems.add(new ChainProblem(ChainProblem.Kind.CORRUPT, files.path(seq).toString(), e.getMessage()));
      } catch (ManifestNotFoundException | NoSuchFileException e) {
        // Expired while we were reading: retention may run concurrently.
      }
    }
    if (h != null && !headFileSeen) {
      problems.add(new ChainProblem(ChainProblem.Kind.CORRUPT, files.path(h.getSeq()).toString(),
          "the head manifest's file is missing"));
    }
    problems.addAll(ManifestChainVerifier.verify(chain));
    return List.copyOf(problems);
  }

  /**
   * Every published manifest with the chain's problems, read once: the fork's open needs both, and
   * reading the files twice (once for {@link #verifyChain()}, once to load them) doubled the I/O of
   * opening a fork with a long history.
   *
   * @param manifests the readable manifests by seq, the head included (from memory)
   * @param problems what {@link #verifyChain()} would report, except that the head's file is not
   *     read again (the store read it at open); an unreadable file is a {@link
   *     ChainProblem.Kind#CORRUPT} problem naming it
   */
  public record Chain(SortedMap<Long, Manifest> manifests, List<ChainProblem> problems) {
    /** Copies both. */
    public Chain {
      manifests = Collections.unmodifiableSortedMap(new TreeMap<>(manifests));
      problems = List.copyOf(problems);
    }

    /** True if some manifest file could not be read. */
    public boolean hasUnreadable() {
      return problems.stream().anyMatch(p -> p.kind() == ChainProblem.Kind.CORRUPT);
    }
  }

  /**
   * Reads every published manifest once, the head from memory, and checks the chain ({@link
   * ManifestChainVerifier#verify}); see {@link Chain}. One read per manifest file below the head.
   *
   * @throws StoreClosedException if the store was closed or failed
   * @throws IOException if the directory cannot be listed
   */
  public Chain readChain() throws IOException {
    Manifest h = head;
    SortedMap<Long, Manifest> read = new TreeMap<>();
    List<ChainProblem> problems = new ArrayList<>();
    for (long seq : list()) {
      if (h != null && seq == h.getSeq()) {
        read.put(seq, h);
        continue;
      }
      try {
        read.put(seq, readChecked(files, forkId, seq));
      } catch (NoSuchFileException e) {
        // Expired between the listing and the read: retention may run concurrently.
      } catch (IOException e) {
        problems.add(new ChainProblem(ChainProblem.Kind.CORRUPT, files.path(seq).toString(),
            "unreadable: " + e.getMessage()));
      }
    }
    problems.addAll(ManifestChainVerifier.verify(new ArrayList<>(read.values())));
    return new Chain(read, problems);
  }

  /** Refuses every later mutation and read of older manifests. Idempotent; no I/O. */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closedBy == null) {
        closedBy = new StoreClosedException("manifest store of fork " + forkId + " is closed", null);
      }
    } finally {
      lock.unlock();
    }
  }

  private void ensureUsable() throws StoreClosedException {
    lock.lock();
    try {
      ensureUsableLocked();
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
