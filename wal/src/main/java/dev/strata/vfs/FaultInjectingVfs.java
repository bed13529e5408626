package dev.strata.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link Vfs} for tests that wraps another one (normally {@link LocalVfs} over a temporary
 * directory) and can fail any I/O call or simulate a crash.
 *
 * <p><b>Faults.</b> Every mutating call ({@link Op}) gets an ordinal, counted from 0 across the
 * whole instance. {@link #failOperation(long, Fault)} fails one ordinal, which lets a test sweep a
 * failure over every I/O call of a scenario as Pebble's {@code errorfs} does: run with N = 0, 1,
 * 2, … until the scenario no longer reaches call N. {@link #failNext(Op, Fault)} fails the next
 * call of one kind. A {@link Fault#SHORT_WRITE} writes half the buffer before it throws, as a
 * kernel may do on a full disk; {@link Fault#ENOSPC} throws the message Linux gives.
 *
 * <p><b>Crash.</b> {@link #crash()} models a power loss under the POSIX durability rules of {@link
 * Vfs}: every file written through this instance is cut back to the bytes its last successful
 * {@link WritableFile#sync()} covered; a file created since its directory was last synced is
 * deleted; an unsynced rename is undone (the file returns to its old name, cut as above). Deletions
 * are not undone (a limitation: a deleted file stays deleted). After a crash every handle opened
 * before it fails, and the instance is ready for the reopen that a test then performs.
 *
 * <p>A crash is atomic with respect to every other call: a call that is running when {@link
 * #crash()} starts completes (and its effect is modelled) before the crash, and a call that starts
 * later sees the post-crash state. Without this, a {@code sync()} whose fsync finished just as the
 * crash cut its file would report success for bytes the crash dropped, and a file created during
 * the crash would escape the bookkeeping and survive as if durable.
 *
 * <p>{@link Vfs#truncate} syncs the file it cuts, so after a truncate the remaining bytes count as
 * synced. A rename that replaced a durable file and is undone by a crash brings that file back cut to
 * its own last sync.
 *
 * <p>Thread-safe: bookkeeping is guarded by {@code this}; I/O runs outside that monitor. Lock order:
 * {@code crashGate} before {@code this}.
 */
public final class FaultInjectingVfs implements Vfs {

  /** The kinds of call that can be failed. */
  public enum Op {
    CREATE,
    OPEN_APPEND,
    WRITE,
    SYNC,
    TRUNCATE,
    RENAME,
    DELETE,
    SYNC_DIR,
    CREATE_DIRS,
    READ
  }

  /** What an injected failure does. */
  public enum Fault {
    /** An {@link IOException} before anything happens. */
    IO_ERROR,
    /** An {@link IOException} saying "No space left on device", before anything happens. */
    ENOSPC,
    /** For {@link Op#WRITE}: half the bytes are written, then an {@link IOException}. */
    SHORT_WRITE
  }

  /** Thrown by an injected fault, so tests can tell injected failures from real ones. */
  public static final class InjectedIOException extends IOException {
    private static final long serialVersionUID = 1L;

    InjectedIOException(String message) {
      super(message);
    }
  }

  private static final String BACKUP_MARK = ".crash-backup-";

  private final Vfs delegate;
  private final AtomicLong opCounter = new AtomicLong();
  private final AtomicLong backupCounter = new AtomicLong();
  /**
   * Read-held by every call for its whole duration (fault check, delegate I/O, bookkeeping),
   * write-held by {@link #crash()}: this is what makes a crash atomic with respect to other calls.
   */
  private final ReentrantReadWriteLock crashGate = new ReentrantReadWriteLock();

  // All guarded by this.
  private final Map<Long, Fault> faultsByOrdinal = new HashMap<>();
  private final Map<Op, Fault> nextFaultByOp = new LinkedHashMap<>();
  /** Per file written through us: bytes covered by its last successful sync. */
  private final Map<Path, Long> syncedBytes = new HashMap<>();
  /** Entries created since their parent directory was last synced. */
  private final Set<Path> unsyncedCreates = new HashSet<>();
  /** Unsynced renames, target -> what undoing it needs, in order. */
  private final LinkedHashMap<Path, UndoRename> unsyncedRenames = new LinkedHashMap<>();
  /** Targets of unsynced renames whose target directory / source directory was synced since. */
  private final Set<Path> targetDirSynced = new HashSet<>();
  private final Set<Path> sourceDirSynced = new HashSet<>();
  private final List<TrackedFile> openFiles = new ArrayList<>();
  private final List<Path> backupsToDelete = new ArrayList<>();
  private long epoch;

  /** Wraps {@code delegate}. */
  public FaultInjectingVfs(Vfs delegate) {
    this.delegate = delegate;
  }

  /** Wraps {@link LocalVfs#INSTANCE}. */
  public FaultInjectingVfs() {
    this(LocalVfs.INSTANCE);
  }

  /** Fails the call with ordinal {@code ordinal} (0-based, counted over all {@link Op}s). */
  public synchronized void failOperation(long ordinal, Fault fault) {
    faultsByOrdinal.put(ordinal, fault);
  }

  /** Fails the next call of kind {@code op}. */
  public synchronized void failNext(Op op, Fault fault) {
    nextFaultByOp.put(op, fault);
  }

  /** Removes every pending fault. */
  public synchronized void clearFaults() {
    faultsByOrdinal.clear();
    nextFaultByOp.clear();
    randomFaults = null;
  }

  /** How many calls have been counted so far (the next call gets this ordinal). */
  public long operationCount() {
    return opCounter.get();
  }

  /**
   * Simulates a power loss: drops every byte and directory entry that was not made durable, and
   * invalidates every open handle. See the class comment for the exact model.
   */
  public void crash() throws IOException {
    crashGate.writeLock().lock();
    try {
      crashLocked();
    } finally {
      crashGate.writeLock().unlock();
    }
  }

  private void crashLocked() throws IOException {
    List<TrackedFile> toClose;
    Map<Path, Long> synced;
    Set<Path> creates;
    LinkedHashMap<Path, UndoRename> renames;
    synchronized (this) {
      epoch++;
      toClose = new ArrayList<>(openFiles);
      openFiles.clear();
      synced = new HashMap<>(syncedBytes);
      creates = new HashSet<>(unsyncedCreates);
      renames = new LinkedHashMap<>(unsyncedRenames);
      syncedBytes.clear();
      unsyncedCreates.clear();
      unsyncedRenames.clear();
      targetDirSynced.clear();
      sourceDirSynced.clear();
    }
    for (TrackedFile f : toClose) {
      try {
        f.inner.close();
      } catch (IOException ignored) {
        // The crash discards the handle whatever state it is in.
      }
    }
    // Undo renames newest first, so a chain a->b->c returns to a.
    List<Map.Entry<Path, UndoRename>> renameList = new ArrayList<>(renames.entrySet());
    for (int i = renameList.size() - 1; i >= 0; i--) {
      Path target = renameList.get(i).getKey();
      UndoRename undo = renameList.get(i).getValue();
      if (delegate.exists(target) && !delegate.exists(undo.source().getParent())) {
        // The source's directory was deleted since (deletes are not undone): the entry that
        // lost its new name has no old name to fall back to, so it is gone.
        delegate.deleteRecursively(target);
        synced.remove(target);
        creates.remove(target);
      } else if (delegate.exists(target)) {
        delegate.rename(target, undo.source());
        Long s = synced.remove(target);
        if (s != null) {
          synced.put(undo.source(), s);
        }
        if (creates.remove(target)) {
          creates.add(undo.source());
        }
      }
      if (undo.replacedBackup() != null) {
        // The rename had replaced a durable file: the crash brings it back, cut to its own last
        // sync (the backup copied every byte it had, synced or not).
        delegate.rename(undo.replacedBackup(), target);
        if (undo.replacedSyncedBytes() != null) {
          synced.put(target, undo.replacedSyncedBytes());
        }
      }
    }
    for (Path p : creates) {
      delegate.deleteRecursively(p);
      synced.remove(p);
    }
    for (Map.Entry<Path, Long> e : synced.entrySet()) {
      Path p = e.getKey();
      if (delegate.exists(p) && delegate.size(p) > e.getValue()) {
        delegate.truncate(p, e.getValue());
      }
    }
  }

  private void maybeFail(Op op, Path path) throws IOException {
    Fault fault = takeFault(op, path);
    if (fault == null) {
      return;
    }
    throw injected(fault, op, path);
  }

  private synchronized Fault takeFault(Op op, Path path) {
    long ordinal = opCounter.getAndIncrement();
    Fault f = faultsByOrdinal.remove(ordinal);
    if (f != null) {
      return f;
    }
    f = nextFaultByOp.remove(op);
    if (f != null) {
      return f;
    }
    RandomFaults r = randomFaults;
    if (r != null && r.where.test(op, path) && r.random.nextDouble() < r.probability) {
      randomFaultsInjected++;
      return Fault.IO_ERROR;
    }
    return null;
  }

  /** Random I/O faults: calls matching {@code where} fail with {@code probability}. */
  private record RandomFaults(
      java.util.function.BiPredicate<Op, Path> where, double probability, java.util.Random random) {}

  private RandomFaults randomFaults;
  private long randomFaultsInjected;

  /**
   * From now on, fails each call that {@code where} accepts with probability {@code probability}
   * (an {@link Fault#IO_ERROR}), drawn from a {@link java.util.Random} seeded with {@code seed} so a
   * failing run can be replayed (given the same call order). {@link #clearFaults()} stops it.
   */
  public synchronized void failRandomly(
      java.util.function.BiPredicate<Op, Path> where, double probability, long seed) {
    randomFaults = new RandomFaults(where, probability, new java.util.Random(seed));
  }

  /** How many faults {@link #failRandomly} has injected so far. */
  public synchronized long randomFaultsInjected() {
    return randomFaultsInjected;
  }

  private static InjectedIOException injected(Fault fault, Op op, Path path) {
    String what = fault == Fault.ENOSPC ? "No space left on device" : "injected I/O error";
    return new InjectedIOException(what + " (" + op + " " + path + ")");
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.CREATE, path);
      WritableFile inner = delegate.create(path);
      synchronized (this) {
        syncedBytes.put(path, 0L);
        unsyncedCreates.add(path);
        TrackedFile t = new TrackedFile(inner, epoch);
        openFiles.add(t);
        return t;
      }
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.OPEN_APPEND, path);
      WritableFile inner = delegate.openForAppend(path);
      synchronized (this) {
        // What is on disk at open is taken as durable: the previous owner synced it or a crash cut
        // it.
        syncedBytes.putIfAbsent(path, inner.size());
        TrackedFile t = new TrackedFile(inner, epoch);
        openFiles.add(t);
        return t;
      }
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.READ, path);
      return delegate.openForRead(path);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.READ, path);
      return delegate.readAllBytes(path);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.TRUNCATE, path);
      delegate.truncate(path, sizeBytes);
      synchronized (this) {
        // The contract syncs the file it cuts: every byte left in it is durable now.
        syncedBytes.computeIfPresent(path, (p, s) -> sizeBytes);
      }
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    crashGate.readLock().lock();
    try {
      renameGated(source, target);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  private void renameGated(Path source, Path target) throws IOException {
    maybeFail(Op.RENAME, path(source, target));
    Path backup = null;
    Long replacedSynced = null;
    synchronized (this) {
      if (unsyncedRenames.containsKey(target) || unsyncedCreates.contains(target)) {
        backup = null; // the replaced entry was not durable itself: nothing to bring back
      } else if (delegate.exists(target)) {
        backup =
            target.resolveSibling(
                target.getFileName() + BACKUP_MARK + epoch + "-" + backupCounter.incrementAndGet());
        replacedSynced = syncedBytes.get(target);
      }
    }
    if (backup != null) {
      try (WritableFile copy = delegate.create(backup)) {
        copy.write(ByteBuffer.wrap(delegate.readAllBytes(target)));
        copy.sync();
      }
    }
    delegate.rename(source, target);
    synchronized (this) {
      Long s = syncedBytes.remove(source);
      if (s != null) {
        syncedBytes.put(target, s);
      } else {
        syncedBytes.remove(target);
      }
      targetDirSynced.remove(target);
      sourceDirSynced.remove(target);
      UndoRename earlier = unsyncedRenames.remove(source);
      UndoRename previousForTarget = unsyncedRenames.remove(target);
      UndoRename undo;
      Path undoSource = earlier != null ? earlier.source() : source;
      if (backup != null) {
        undo = new UndoRename(undoSource, backup, replacedSynced);
      } else if (previousForTarget != null) {
        undo =
            new UndoRename(
                undoSource,
                previousForTarget.replacedBackup(),
                previousForTarget.replacedSyncedBytes());
      } else {
        undo = new UndoRename(undoSource, null, null);
      }
      unsyncedRenames.put(target, undo);
      if (unsyncedCreates.remove(source)) {
        unsyncedCreates.add(target);
      }
      for (TrackedFile f : openFiles) {
        if (f.path.equals(source)) {
          f.path = target;
        }
      }
    }
  }

  private static Path path(Path a, Path b) {
    return Path.of(a + " -> " + b);
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.DELETE, path);
      boolean deleted = delegate.deleteIfExists(path);
      forget(path);
      return deleted;
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.DELETE, dir);
      delegate.deleteRecursively(dir);
      forget(dir);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  private synchronized void forget(Path path) {
    syncedBytes.keySet().removeIf(p -> p.startsWith(path));
    unsyncedCreates.removeIf(p -> p.startsWith(path));
    unsyncedRenames.keySet().removeIf(p -> p.startsWith(path));
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.SYNC_DIR, dir);
      delegate.syncDirectory(dir);
      synchronized (this) {
        unsyncedCreates.removeIf(p -> dir.equals(p.getParent()));
        List<Path> durableBackups = new ArrayList<>();
        unsyncedRenames
            .entrySet()
            .removeIf(
                e -> {
                  // A rename is durable once the directories of both names were synced after
                  // it (one sync when both are in the same directory).
                  Path target = e.getKey();
                  if (dir.equals(target.getParent())) {
                    targetDirSynced.add(target);
                  }
                  if (dir.equals(e.getValue().source().getParent())) {
                    sourceDirSynced.add(target);
                  }
                  boolean durable = targetDirSynced.contains(target) && sourceDirSynced.contains(target);
                  if (durable) {
                    targetDirSynced.remove(target);
                    sourceDirSynced.remove(target);
                  }
                  if (durable && e.getValue().replacedBackup() != null) {
                    durableBackups.add(e.getValue().replacedBackup());
                  }
                  return durable;
                });
        backupsToDelete.addAll(durableBackups);
      }
      deleteBackups();
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.CREATE_DIRS, dir);
      // Directories are created durable: their entries are what the tests exercise, not mkdir.
      delegate.createDirectories(dir);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public void createDirectory(Path dir) throws IOException {
    crashGate.readLock().lock();
    try {
      maybeFail(Op.CREATE_DIRS, dir);
      delegate.createDirectory(dir);
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public List<Path> list(Path dir) throws IOException {
    crashGate.readLock().lock();
    try {
      // Backups kept to undo renames are this class's own bookkeeping: hide them.
      List<Path> out = new ArrayList<>(delegate.list(dir));
      out.removeIf(p -> p.getFileName().toString().contains(BACKUP_MARK));
      return out;
    } finally {
      crashGate.readLock().unlock();
    }
  }

  @Override
  public boolean exists(Path path) {
    return delegate.exists(path);
  }

  @Override
  public long size(Path path) throws IOException {
    return delegate.size(path);
  }

  private void deleteBackups() throws IOException {
    List<Path> todo;
    synchronized (this) {
      todo = new ArrayList<>(backupsToDelete);
      backupsToDelete.clear();
    }
    for (Path p : todo) {
      delegate.deleteIfExists(p);
    }
  }

  /**
   * How to undo a rename: the old name, where the entry it replaced was kept (or null), and the
   * bytes of that replaced file its last sync covered (null: all of them).
   */
  private record UndoRename(Path source, Path replacedBackup, Long replacedSyncedBytes) {}

  /** A handle that counts its calls, honours faults and dies with a crash. */
  private final class TrackedFile implements WritableFile {
    private final WritableFile inner;
    private final long openedInEpoch;
    /** Changed by a rename under the outer monitor; read by I/O calls without it. */
    private volatile Path path;

    TrackedFile(WritableFile inner, long epoch) {
      this.inner = inner;
      this.openedInEpoch = epoch;
      this.path = inner.path();
    }

    private void checkAlive() throws IOException {
      synchronized (FaultInjectingVfs.this) {
        if (openedInEpoch != epoch) {
          throw new IOException("handle to " + path + " did not survive a simulated crash");
        }
      }
    }

    @Override
    public Path path() {
      return path;
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      crashGate.readLock().lock();
      try {
        checkAlive();
        Fault fault = takeFault(Op.WRITE, path);
        if (fault == Fault.SHORT_WRITE && src.remaining() > 1) {
          ByteBuffer half = src.duplicate();
          half.limit(src.position() + src.remaining() / 2);
          inner.write(half);
          src.position(half.position());
          throw injected(fault, Op.WRITE, path);
        } else if (fault != null) {
          throw injected(fault, Op.WRITE, path);
        }
        inner.write(src);
      } finally {
        crashGate.readLock().unlock();
      }
    }

    @Override
    public void sync() throws IOException {
      crashGate.readLock().lock();
      try {
        checkAlive();
        Fault fault = takeFault(Op.SYNC, path);
        if (fault != null) {
          throw injected(fault, Op.SYNC, path);
        }
        inner.sync();
        long size = inner.size();
        synchronized (FaultInjectingVfs.this) {
          syncedBytes.put(path, size);
        }
      } finally {
        crashGate.readLock().unlock();
      }
    }

    @Override
    public long size() {
      return inner.size();
    }

    @Override
    public void close() throws IOException {
      synchronized (FaultInjectingVfs.this) {
        openFiles.remove(this);
      }
      inner.close();
    }
  }
}
