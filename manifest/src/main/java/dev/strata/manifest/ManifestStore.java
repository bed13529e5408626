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
import java.util.List;
import java.util.Objects;
import java.util.Optional;
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
   * fsyncs the directory so the head it reports is durable. Reads one file; I/O proportional to the
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
    files.syncDirectory();
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
   * Costs two fsyncs (file, directory).
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
    } finally {
      lock.unlock();
    }
    long seq = manifest.getSeq();
    boolean published = false;
    IOException fatal = null;
    try {
      Path temp = files.writeTemp(seq, ManifestCodec.encode(manifest));
      try {
        files.commit(temp, seq);
      } catch (IOException e) {
        fatal = e;
        files.deleteQuietly(temp); // a no-op if the rename happened
        throw e;
      }
      published = true;
      return manifest;
    } finally {
      lock.lock();
      try {
        publishing = null;
        if (published) {
          head = manifest;
        } else if (fatal != null && closedBy == null) {
          closedBy = new StoreClosedException("manifest store of fork " + forkId + " failed while publishing seq "
              + seq + "; whether it is durable is unknown: reopen the store to recover", fatal);
          LOG.error("fork {}: manifest store failed: {}", forkId, fatal.toString());
        }
      } finally {
        lock.unlock();
      }
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
