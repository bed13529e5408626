package dev.strata.wal;

import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import dev.strata.wal.SegmentName.Segment;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends records to a write-ahead log directory, with group commit: one write and one fsync serve
 * every record waiting at that moment. The on-disk format is that of LevelDB's {@code
 * doc/log_format.md}, simplified (no blocks, no fragments): see {@link RecordFormat} and {@code
 * docs/architecture.md}. Segment files are named by the LSN of their first record ({@link
 * SegmentName}).
 *
 * <p><b>Thread-safety.</b> Every public method may be called from any thread. {@link #append} never
 * holds a lock across I/O and never spins; at most one thread does I/O at a time.
 *
 * <h2>Group-commit protocol (leader/follower)</h2>
 *
 * <p>State, all guarded by {@code lock}: {@code pending} (records with LSNs, not yet taken by a
 * leader), {@code leaderActive}, {@code handOffToSyncer}, {@code syncRequested}, {@code
 * lastAssignedLsn}, {@code durableLsn}, {@code firstError}, {@code closed}, {@code
 * directoryBusy}.
 *
 * <ol>
 *   <li>{@code append} checksums the record <em>outside</em> the lock (the costly part) and builds
 *       its 8-byte header; the payload is not copied (the caller leaves it unchanged until the
 *       append completes).
 *       Under the lock it assigns {@code lsn = lastAssignedLsn + 1} and adds the record to {@code
 *       pending}. Doing both in one critical section is what makes LSN order equal file order.
 *   <li>In that same critical section, if no leader is active, the appender becomes the leader.
 *       Otherwise it is a follower: it returns its future at once, and its record rides in the next
 *       batch. The caller may block on the future ({@code get()}) or compose on it.
 *   <li>The leader takes the <em>whole</em> of {@code pending} under the lock, releases the lock,
 *       writes the batch (gathered in one buffer: one {@code write} per segment), fsyncs once if the
 *       batch holds a SYNC record or a sync was requested, then re-takes the lock to publish {@code
 *       durableLsn}, releases it, and completes the batch's futures in LSN order,
 *       outside the lock.
 *   <li>Appenders that arrive during the leader's I/O pile up in {@code pending}: that is the next
 *       batch. A caller leads exactly one batch: in the critical section that publishes it, it
 *       hands any further work to the {@code wal-syncer} thread ({@code handOffToSyncer}) or
 *       releases leadership, and only then completes its batch's futures. So an {@code append}
 *       does at most one batch of I/O, and the next batch never waits for the dependent actions
 *       of this one. The syncer drains batches until {@code pending} is empty, then releases
 *       leadership; the next appender then leads again.
 *   <li>ASYNC records take the same path (so they reach the file in LSN order) but do not ask for
 *       the fsync. Every {@code syncIntervalMs} the syncer looks whether any record is not yet
 *       durable; if so it sets {@code syncRequested} and, if no leader is active, leads a batch
 *       itself. {@link #sync()} and {@link #close()} use the same request.
 * </ol>
 *
 * <p>Invariants:
 *
 * <ul>
 *   <li>I1 One leader at most. Only the leader touches the {@link SegmentAppender} (active file,
 *       buffer, segment roll). Leadership passes under {@code lock}, which orders one leader's I/O
 *       before the next one's. The directory is the one file two threads change: a leader's roll
 *       creates a segment in it and {@link #truncateBefore} deletes segments from it. Each such
 *       change and the directory fsync after it run while holding {@code directoryBusy} (a turn
 *       taken under {@code lock}, like leadership; no lock is held across the I/O), so they never
 *       overlap.
 *   <li>I2 {@code pending} non-empty implies {@code leaderActive}: leadership is released only in the
 *       critical section that found {@code pending} empty. No record is ever stranded.
 *   <li>I3 {@code pending} is in LSN order and batches are taken whole, so the file holds LSNs in
 *       order with no gap. {@code durableLsn <= lastAssignedLsn}, both monotonic.
 *   <li>I4 {@code syncRequested} is cleared only by a leader taking a batch, which then fsyncs
 *       whatever is unsynced; a leader does not release leadership while it is set.
 *   <li>I5 No I/O and no future completion under {@code lock}.
 *   <li>I6 After {@code firstError} is set no batch and no directory change starts again (the
 *       fsyncgate rule: a failed fsync may have dropped dirty pages, so retrying proves nothing). A
 *       directory change that fails records {@code firstError} before it gives up its turn, so a
 *       failed directory fsync is never followed by another one, whichever thread made it. A batch
 *       that was already writing when another thread failed the WAL may finish writing and
 *       fsyncing its own segment, a file whose fsync never failed, but it creates no segment. The
 *       failing batch and everything pending fail with {@link WalFailedException}; every later call
 *       fails at once with a new {@link WalFailedException} whose cause is the first error. Short
 *       writes and ENOSPC count as errors like any other.
 * </ul>
 *
 * <p>Every wait ({@code pendingDrained}, {@code leaderReleased}, {@code durableAdvanced}, {@code
 * syncerWork}, {@code directoryReleased}) is signalled by the state change it waits for, and is
 * also bounded ({@value #WAIT_SLICE_MS} ms slices) so a missed signal could only delay, never wedge.
 *
 * <p>Rejected alternatives. (a) One dedicated writer thread for every batch (as in Ratis): costs a
 * thread hand-off on the latency path even when the log is idle. (b) A caller-leader that drains
 * until {@code pending} is empty: under steady load the first caller would never get its own {@code
 * append} back. (c) Handing leadership to "the next batch's first waiter", as LevelDB and Pebble do:
 * our followers are not parked inside {@code append} (they hold a future), so there is no waiter to
 * wake; the syncer thread plays that part.
 *
 * <p><b>Interrupts.</b> A leader clears its thread's interrupt status for the duration of its I/O and
 * restores it afterwards, because {@link java.nio.channels.FileChannel} closes itself when its thread
 * is interrupted mid-call, which would fail the WAL for good. An interrupt that arrives during the
 * I/O itself still does that (fail-stop, nothing acknowledged is lost): do not interrupt threads
 * that append.
 *
 * <p><b>Appending after recovery.</b> {@link #open} recovers the directory per {@link
 * WalOptions#recoveryMode()}, fsyncs the last segment (so records a killed process left in the page
 * cache are durable before anything new is acknowledged after them), and then appends to that last
 * segment; a new segment starts when it is full.
 */
public final class WalWriter implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(WalWriter.class);

  private static final long WAIT_SLICE_MS = 100;
  private static final long WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(WAIT_SLICE_MS);
  private static final long SYNCER_JOIN_TIMEOUT_MS = 10_000;

  private final Vfs vfs;
  private final Path dir;
  private final WalOptions options;
  private final WalRecoveryReport recoveryReport;
  private final WalMetrics metrics = new WalMetrics();
  private final Thread syncer;

  /** Guards the protocol state; never held across I/O. Lock order: truncateLock, then lock. */
  private final ReentrantLock lock = new ReentrantLock();
  /** {@code pending} was taken by a leader, or the WAL failed or closed. */
  private final Condition pendingDrained = lock.newCondition();
  /** {@code leaderActive} became false. */
  private final Condition leaderReleased = lock.newCondition();
  /** {@code durableLsn} advanced, or the WAL failed. */
  private final Condition durableAdvanced = lock.newCondition();
  /** Wakes the syncer: hand-over, stop, or failure. */
  private final Condition syncerWork = lock.newCondition();
  /** {@code directoryBusy} became false, or the WAL failed. */
  private final Condition directoryReleased = lock.newCondition();

  /** Serialises {@link #truncateBefore} calls (deletion runs outside {@code lock}). */
  private final ReentrantLock truncateLock = new ReentrantLock();

  /** Written under {@code lock}; volatile so {@link #lastLsn()} reads it without the lock. */
  @GuardedBy("lock")
  private volatile long lastAssignedLsn;

  @GuardedBy("lock")
  private ArrayList<PendingRecord> pending = new ArrayList<>();

  @GuardedBy("lock")
  private long pendingBytes;

  @GuardedBy("lock")
  private boolean leaderActive;

  /** Leadership was passed to the syncer thread, which has not picked it up yet. */
  @GuardedBy("lock")
  private boolean handOffToSyncer;

  @GuardedBy("lock")
  private boolean syncRequested;

  /** Written under {@code lock}; volatile so {@link #durableLsn()} reads it without the lock. */
  @GuardedBy("lock")
  private volatile long durableLsn;

  @GuardedBy("lock")
  private Throwable firstError;

  @GuardedBy("lock")
  private boolean closed;

  @GuardedBy("lock")
  private boolean syncerStop;

  /** A thread is changing the directory and fsyncing it: see {@link #changeDirectoryDurably}. */
  @GuardedBy("lock")
  private boolean directoryBusy;

  /** First LSNs of the segments on disk, ascending; the last is the active one. */
  @GuardedBy("lock")
  private final ArrayList<Long> segmentFirstLsns = new ArrayList<>();

  /** Owned by the current leader (I1). */
  private final SegmentAppender appender;

  private WalWriter(
      Vfs vfs,
      Path dir,
      WalOptions options,
      WalRecovery.Result recovered,
      WritableFile active) {
    this.vfs = vfs;
    this.dir = dir;
    this.options = options;
    this.recoveryReport = recovered.report();
    this.lastAssignedLsn = recovered.lastLsn();
    this.durableLsn = recovered.lastLsn();
    for (Segment s : recovered.segments()) {
      segmentFirstLsns.add(s.firstLsn());
    }
    this.appender =
        new SegmentAppender(
            vfs,
            dir,
            options.segmentBytes(),
            metrics,
            this::changeDirectoryDurably,
            this::segmentCreated,
            active,
            recovered.lastLsn());
    this.syncer = new Thread(this::runSyncer, "wal-syncer-" + dir);
    this.syncer.setDaemon(true);
  }

  /**
   * Opens (creating it if missing) the WAL in {@code dir}, recovers it per {@link
   * WalOptions#recoveryMode()}, logs the {@link WalRecoveryReport}, and starts the {@code
   * wal-syncer-<dir>} daemon thread. Appending continues after the last valid record, in the last
   * segment.
   *
   * @throws WalCorruptionException if the log is damaged beyond what the recovery mode repairs
   *     (nothing on disk was changed then)
   * @throws IOException on any I/O failure
   */
  public static WalWriter open(Vfs vfs, Path dir, WalOptions options) throws IOException {
    return open(vfs, dir, options, 0, null);
  }

  /**
   * {@link #open(Vfs, Path, WalOptions)} for a caller that no longer needs the records below {@code
   * keepFromLsn} (a durable snapshot covers them) and replays nothing: {@link #open(Vfs, Path,
   * WalOptions, long, WalReplaySink)} with a null sink.
   *
   * @param keepFromLsn the first LSN the caller may read; 0 or 1 keeps everything
   * @throws WalCorruptionException if the remaining log is damaged beyond what the recovery mode
   *     repairs
   * @throws IOException on any I/O failure
   */
  public static WalWriter open(Vfs vfs, Path dir, WalOptions options, long keepFromLsn) throws IOException {
    return open(vfs, dir, options, keepFromLsn, null);
  }

  /**
   * Opens the WAL as {@link #open(Vfs, Path, WalOptions)} does and, in the same pass that checks
   * every record's CRC, hands every valid record with {@code lsn >= replayFromLsn} to {@code sink}
   * (see {@link WalReplaySink}): recovery and replay read the log once.
   *
   * <p>The caller no longer needs the records below {@code replayFromLsn} (a durable snapshot covers
   * them), so first every segment all of whose records lie below it is deleted: this finishes a
   * {@link #truncateBefore} that a crash cut short, whose deletions may have survived in any subset
   * and left a gap in the chain of those older segments, which recovery would otherwise refuse as
   * missing records. A segment is deleted when the next segment on disk starts at or below {@code
   * replayFromLsn}: then every record it holds is below that segment's first LSN. The deletions are
   * synced with one directory fsync before recovery runs.
   *
   * @param replayFromLsn the first LSN to replay (inclusive) and to keep; 0 or 1 for all records
   * @param sink receives the records on this thread, or null to replay nothing
   * @throws WalCorruptionException if the log is damaged beyond what the recovery mode repairs, or
   *     starts after {@code replayFromLsn} (segments the caller needs are missing); nothing but the
   *     segments wholly below {@code replayFromLsn} was changed on disk then, and records already
   *     given to {@code sink} must be discarded
   * @throws IOException on any I/O failure, or what {@code sink} threw
   */
  public static WalWriter open(
      Vfs vfs, Path dir, WalOptions options, long replayFromLsn, WalReplaySink sink)
      throws IOException {
    return open(vfs, dir, options, replayFromLsn, replayFromLsn, sink);
  }

  /**
   * {@link #open(Vfs, Path, WalOptions, long, WalReplaySink)} for a caller that must read records
   * older than those it holds elsewhere (a fork replays a merge's batches that a snapshot already
   * covers): it replays from {@code replayFromLsn} but declares that every record below {@code
   * residueBelowLsn} is held elsewhere. A {@link #truncateBefore} that a power loss interrupted can
   * leave any subset of its deletions, and so a gap among segments; a gap whose next segment starts
   * at or below {@code residueBelowLsn} is such residue, and the segments before it are deleted
   * (they lie wholly below the truncation's LSN, which was at most {@code residueBelowLsn}). Records
   * of those segments may reach {@code sink} before the gap is seen; all lie below {@code
   * residueBelowLsn}. A gap above it is damage, handled by the recovery mode.
   *
   * @param replayFromLsn the first LSN to replay (inclusive); segments wholly below it are deleted
   *     first, as in {@link #open(Vfs, Path, WalOptions, long, WalReplaySink)}
   * @param residueBelowLsn every record below this LSN is held elsewhere (e.g. the head snapshot's
   *     covered LSN + 1); at least {@code replayFromLsn}
   * @param sink receives the records on this thread, or null to replay nothing
   * @throws IllegalArgumentException if {@code residueBelowLsn < replayFromLsn} or either is negative
   * @throws WalCorruptionException if the log is damaged beyond what the recovery mode repairs
   * @throws IOException on any I/O failure, or what {@code sink} threw
   */
  public static WalWriter open(
      Vfs vfs, Path dir, WalOptions options, long replayFromLsn, long residueBelowLsn, WalReplaySink sink)
      throws IOException {
    if (residueBelowLsn < replayFromLsn) {
      throw new IllegalArgumentException(
          "residueBelowLsn " + residueBelowLsn + " is below replayFromLsn " + replayFromLsn);
    }
    Objects.requireNonNull(vfs, "vfs");
    Objects.requireNonNull(options, "options");
    if (replayFromLsn < 0) {
      throw new IllegalArgumentException("replayFromLsn must be >= 0, got " + replayFromLsn);
    }
    Path d = dir.toAbsolutePath().normalize();
    vfs.createDirectories(d);
    deleteSegmentsBelow(vfs, d, replayFromLsn);
    WalRecovery.Result recovered = WalRecovery.run(vfs, d, options.recoveryMode(), replayFromLsn, residueBelowLsn, sink);
    WalRecoveryReport r = recovered.report();
    if (r.residueSegmentsDeleted() > 0) {
      log.info(
          "WAL {}: deleted {} segments below LSN {} that a truncation interrupted by a power loss left"
              + " behind a gap",
          d,
          r.residueSegmentsDeleted(),
          residueBelowLsn);
    }
    if (r.clean()) {
      log.info(
          "WAL {} opened: {} records in {} segments, LSN {}..{}",
          d,
          r.recordsRead(),
          r.segmentsScanned(),
          r.firstLsn(),
          r.lastLsn());
    } else {
      log.warn(
          "WAL {} recovered ({}): {}; truncated {} bytes of {}, deleted {} later segments; kept {}"
              + " records, LSN {}..{}",
          d,
          r.mode(),
          r.problem(),
          r.bytesTruncated(),
          r.truncatedFile(),
          r.segmentsDeleted(),
          r.recordsRead(),
          r.firstLsn(),
          r.lastLsn());
    }
    WritableFile active = null;
    if (!recovered.segments().isEmpty()) {
      Segment last = recovered.segments().get(recovered.segments().size() - 1);
      active = vfs.openForAppend(last.path());
      try {
        active.sync();
        vfs.syncDirectory(d);
      } catch (IOException e) {
        closeQuietly(active, e);
        throw e;
      }
    }
    WalWriter w = new WalWriter(vfs, d, options, recovered, active);
    w.syncer.start();
    return w;
  }

  /**
   * Deletes every segment of {@code dir} whose successor on disk starts at or below {@code
   * keepFromLsn}, then fsyncs the directory once; see {@link #open(Vfs, Path, WalOptions, long)}.
   * Whatever subset of these deletions a crash keeps, the rule picks the rest again.
   */
  private static void deleteSegmentsBelow(Vfs vfs, Path dir, long keepFromLsn) throws IOException {
    if (keepFromLsn <= 1) {
      return;
    }
    List<Segment> all = SegmentName.list(vfs, dir);
    int deleted = 0;
    for (int i = 0; i + 1 < all.size() && all.get(i + 1).firstLsn() <= keepFromLsn; i++) {
      vfs.deleteIfExists(all.get(i).path());
      deleted++;
    }
    if (deleted > 0) {
      vfs.syncDirectory(dir);
      log.info("WAL {}: deleted {} segments below LSN {} that an interrupted truncation left", dir, deleted,
          keepFromLsn);
    }
  }

  /**
   * Appends one record.
   *
   * <p>Returns when the record has its LSN and is queued, and, if this call became the leader,
   * after it wrote (and for SYNC batches fsynced) one batch. The returned future completes with the
   * LSN after the fsync that covers the record ({@link Durability#SYNC}), or once the record is
   * written to its segment file ({@link Durability#ASYNC}; the syncer fsyncs it within about {@code
   * syncIntervalMs}, watch {@link #durableLsn()}). It completes exceptionally with {@link
   * WalFailedException} if the record's batch fails.
   *
   * <p>Waits (without spinning) only if {@code maxPendingBytes} of records are already queued.
   *
   * @param payload the record, 0 to {@code maxRecordBytes} bytes; not copied (the leader gathers it
   *     into its write buffer), so the caller must not change it until the returned future
   *     completes
   * @throws IllegalArgumentException if {@code payload} is larger than {@code maxRecordBytes}
   * @throws WalClosedException if {@link #close()} has started
   * @throws WalFailedException if the WAL failed earlier (cause: the first error)
   * @throws InterruptedIOException if interrupted while waiting for queue room (nothing appended)
   */
  public WalAppend append(byte[] payload, Durability durability) throws IOException {
    Objects.requireNonNull(payload, "payload");
    Objects.requireNonNull(durability, "durability");
    if (payload.length > options.maxRecordBytes()) {
      throw new IllegalArgumentException(
          "WAL record payload is "
              + payload.length
              + " bytes; the limit (WalOptions.maxRecordBytes) is "
              + options.maxRecordBytes()
              + " bytes");
    }
    byte[] header = RecordFormat.header(payload);
    int encodedLength = RecordFormat.HEADER_BYTES + payload.length;
    CompletableFuture<Long> future = new CompletableFuture<>();
    long lsn;
    boolean lead;
    lock.lock();
    try {
      while (true) {
        checkUsableLocked();
        // pending non-empty implies an active leader (I2) that will take it and signal. The syncer
        // (appending from a future's dependent action) may be that leader: it must not wait.
        if (pendingBytes == 0
            || pendingBytes + encodedLength <= options.maxPendingBytes()
            || Thread.currentThread() == syncer) {
          break;
        }
        awaitSlice(pendingDrained);
      }
      lsn = lastAssignedLsn + 1;
      lastAssignedLsn = lsn;
      pending.add(new PendingRecord(lsn, header, payload, durability, future));
      pendingBytes += encodedLength;
      lead = !leaderActive;
      if (lead) {
        leaderActive = true;
      }
    } finally {
      lock.unlock();
    }
    metrics.recordAppend(encodedLength);
    if (lead) {
      lead(true);
    }
    return new WalAppend(lsn, future);
  }

  /**
   * Makes every record appended before this call durable (writes what is queued, fsyncs), and
   * returns when it is. For shutdown and tests; SYNC appends do not need it.
   *
   * @throws WalClosedException if {@link #close()} has started
   * @throws WalFailedException if the WAL failed (before or during this call)
   * @throws InterruptedIOException if interrupted while waiting
   */
  public void sync() throws IOException {
    checkNotSyncerThread("sync");
    long target;
    boolean lead = false;
    lock.lock();
    try {
      checkUsableLocked();
      target = lastAssignedLsn;
      if (durableLsn >= target) {
        return;
      }
      syncRequested = true;
      if (!leaderActive) {
        leaderActive = true;
        lead = true;
      }
    } finally {
      lock.unlock();
    }
    if (lead) {
      lead(true);
    }
    lock.lock();
    try {
      while (durableLsn < target) {
        if (firstError != null) {
          throw failedLocked();
        }
        awaitSlice(durableAdvanced);
      }
    } finally {
      lock.unlock();
    }
  }

  /** LSN of the newest record appended (queued, maybe not yet written); 0 for a new, empty log. */
  public long lastLsn() {
    return lastAssignedLsn;
  }

  /** Highest LSN that is durable, along with every lower one (fsynced, or recovered at open). */
  public long durableLsn() {
    return durableLsn;
  }

  /** What recovery found and repaired at {@link #open}. */
  public WalRecoveryReport recoveryReport() {
    return recoveryReport;
  }

  /** The WAL directory (absolute, normalised). */
  public Path dir() {
    return dir;
  }

  /** Counters since open; see {@link WalStats}. Lock-free. */
  public WalStats stats() {
    return metrics.snapshot();
  }

  /**
   * Deletes whole segments all of whose records have an LSN below {@code lsn}, oldest first, then
   * syncs the directory <b>once</b> for all of them. The active segment is never deleted. Called
   * when a snapshot covering those LSNs is published (SPEC §2 step 5). The deletions and their one
   * directory fsync are a single turn at the directory, taken in turn with a leader creating a
   * segment (they change the same directory), so a call may wait for a roll's creation and fsync,
   * and a roll for this call's deletions and fsync.
   *
   * <p><b>Crashes.</b> Until the fsync returns, a crash may keep any subset of the deletions (POSIX
   * orders none of them), which can leave a gap among the older segments: say the second-oldest
   * deleted and the oldest back. Every segment such a gap can separate lies entirely below {@code
   * lsn}, and the caller asks only once a durable snapshot covers those LSNs, so it tells {@link
   * #open(Vfs, Path, WalOptions, long)} the first LSN it still needs and recovery deletes them
   * again before it checks the chain. (Deleting with one fsync each, as before, kept a gap-free
   * suffix at the price of one directory fsync per segment on the finalizer.)
   *
   * <p>An I/O error here fails the WAL like any other (the directory's durable state is unknown).
   * A call that throws may still have deleted, durably or not, any of the segments it was asked to
   * delete: the caller released those LSNs by asking. Segments holding an LSN at or above {@code
   * lsn} are never touched.
   *
   * <p>A {@link WalReader} positioned in a deleted segment keeps reading it (the open file survives
   * unlinking on POSIX); one opened on the directory before the call may fail to open a deleted
   * segment.
   *
   * @return how many segments were deleted
   * @throws WalClosedException if {@link #close()} has started
   * @throws WalFailedException if the WAL failed (before or during this call)
   * @throws InterruptedIOException if interrupted while waiting for its turn at the directory (the
   *     segments deleted before that stay deleted; the WAL is not failed)
   */
  public int truncateBefore(long lsn) throws IOException {
    truncateLock.lock();
    try {
      List<Long> victims = new ArrayList<>();
      lock.lock();
      try {
        checkUsableLocked();
        // Segment i holds [first(i), first(i+1) - 1]: all below lsn iff first(i+1) <= lsn.
        for (int i = 0; i + 1 < segmentFirstLsns.size(); i++) {
          if (segmentFirstLsns.get(i + 1) <= lsn) {
            victims.add(segmentFirstLsns.get(i));
          } else {
            break;
          }
        }
      } finally {
        lock.unlock();
      }
      if (victims.isEmpty()) {
        return 0;
      }
      try {
        // One turn at the directory: every deletion, oldest first, then one fsync.
        changeDirectoryDurably(
            () -> {
              for (long first : victims) {
                vfs.deleteIfExists(SegmentName.path(dir, first));
              }
            });
      } catch (IOException | RuntimeException e) {
        lock.lock();
        try {
          if (firstError == null) {
            throw e; // interrupted while waiting for its turn: nothing was changed
          }
          throw failedLocked();
        } finally {
          lock.unlock();
        }
      }
      lock.lock();
      try {
        segmentFirstLsns.removeAll(victims);
      } finally {
        lock.unlock();
      }
      log.debug("WAL {}: deleted {} segments below LSN {}", dir, victims.size(), lsn);
      return victims.size();
    } finally {
      truncateLock.unlock();
    }
  }

  /**
   * Refuses new appends, writes and fsyncs every record appended before, stops the syncer thread
   * (joining it for at most 10 s) and closes the active segment. Idempotent; a second call returns
   * at once.
   *
   * @throws WalFailedException if some appended record is not durable because the WAL failed (now
   *     or earlier); the files are closed anyway
   */
  @Override
  public void close() throws IOException {
    checkNotSyncerThread("close");
    boolean interrupted = false;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      pendingDrained.signalAll();
      durableAdvanced.signalAll();
      // Take leadership once the current leader lets go; closed keeps anyone else from taking it.
      while (leaderActive) {
        try {
          leaderReleased.awaitNanos(WAIT_SLICE_NANOS);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      leaderActive = true;
      syncRequested = true;
    } finally {
      lock.unlock();
    }
    lead(false);
    Throwable error;
    long notDurable;
    lock.lock();
    try {
      syncerStop = true;
      syncerWork.signalAll();
      error = firstError;
      notDurable = lastAssignedLsn - durableLsn;
    } finally {
      lock.unlock();
    }
    try {
      syncer.join(SYNCER_JOIN_TIMEOUT_MS);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    if (syncer.isAlive()) {
      log.warn("WAL {}: syncer thread did not stop within {} ms", dir, SYNCER_JOIN_TIMEOUT_MS);
    }
    try {
      appender.close();
    } catch (IOException e) {
      log.warn("WAL {}: closing the active segment failed", dir, e);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (error != null && notDurable > 0) {
      throw new WalFailedException(
          "WAL " + dir + " closed after a failure; the last " + notDurable
              + " appended records are not durable",
          error);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The leader

  /**
   * Runs batches while this thread is the leader, then releases leadership or hands it to the
   * syncer. Precondition: this thread set {@code leaderActive} or was handed leadership.
   *
   * @param mayHandOff true for a caller thread ({@code append}, {@code sync}): it runs one batch,
   *     then, in the same critical section that publishes it, passes any further work to the
   *     syncer or releases leadership, and only then completes the batch's futures. So the next
   *     batch never waits for this batch's dependent actions, and those actions may call {@code
   *     sync()} or {@code close()}. False for the syncer and {@code close()}: drain until idle.
   */
  private void lead(boolean mayHandOff) {
    // FileChannel closes itself if its thread's interrupt status is set during a call (see class
    // comment): hide the status from our I/O and give it back afterwards.
    boolean interrupted = Thread.interrupted();
    try {
      while (true) {
        List<PendingRecord> batch;
        boolean forceSync = false;
        Throwable failedEarlier = null;
        lock.lock();
        try {
          batch = takePendingLocked();
          if (firstError != null) {
            failedEarlier = firstError;
            releaseLeadershipLocked();
          } else {
            forceSync = syncRequested && (!batch.isEmpty() || appender.hasUnsynced());
            syncRequested = false;
            if (batch.isEmpty() && !forceSync) {
              releaseLeadershipLocked();
              return;
            }
          }
        } finally {
          lock.unlock();
        }
        if (failedEarlier != null) {
          failAll(batch, failedEarlier);
          return;
        }

        Throwable error = writeBatch(batch, forceSync); // the I/O, outside the lock

        boolean keepLeading = false;
        Throwable cause = null;
        List<PendingRecord> orphans = List.of();
        lock.lock();
        try {
          if (error == null) {
            if (appender.syncedLsn() > durableLsn) {
              durableLsn = appender.syncedLsn();
              durableAdvanced.signalAll();
            }
            if (!mayHandOff) {
              keepLeading = true;
            } else if (!pending.isEmpty() || syncRequested) {
              handOffToSyncer = true;
              syncerWork.signalAll();
            } else {
              releaseLeadershipLocked();
            }
          } else {
            failLocked(error);
            cause = firstError;
            orphans = takePendingLocked();
            releaseLeadershipLocked();
          }
        } finally {
          lock.unlock();
        }
        if (error == null) {
          for (PendingRecord r : batch) {
            r.future().complete(r.lsn());
          }
        } else {
          failAll(batch, cause);
          failAll(orphans, cause);
          if (error instanceof Error e) {
            throw e;
          }
        }
        if (!keepLeading) {
          return;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Writes one batch and fsyncs it if it holds a SYNC record or {@code forceSync}. Leader only, no
   * lock held.
   *
   * @return null, or what went wrong
   */
  private Throwable writeBatch(List<PendingRecord> batch, boolean forceSync) {
    boolean needSync = forceSync;
    for (PendingRecord r : batch) {
      needSync |= r.durability() == Durability.SYNC;
    }
    try {
      appender.write(batch);
      if (needSync) {
        appender.sync();
      }
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  private void failAll(List<PendingRecord> records, Throwable cause) {
    if (records.isEmpty()) {
      return;
    }
    WalFailedException e =
        new WalFailedException(
            "WAL " + dir + " failed; records from LSN " + records.get(0).lsn()
                + " on were not made durable",
            cause);
    for (PendingRecord r : records) {
      r.future().completeExceptionally(e);
    }
  }

  private List<PendingRecord> takePendingLocked() {
    assert lock.isHeldByCurrentThread();
    if (pending.isEmpty()) {
      return List.of();
    }
    List<PendingRecord> batch = pending;
    pending = new ArrayList<>();
    pendingBytes = 0;
    pendingDrained.signalAll();
    return batch;
  }

  private void releaseLeadershipLocked() {
    assert lock.isHeldByCurrentThread();
    leaderActive = false;
    leaderReleased.signalAll();
  }

  /** Records the first error (later ones are only logged) and wakes every waiter. */
  private void failLocked(Throwable error) {
    assert lock.isHeldByCurrentThread();
    if (firstError == null) {
      firstError = error;
      log.error(
          "WAL {} failed; it accepts no more writes. Records up to LSN {} are durable.",
          dir,
          durableLsn,
          error);
    } else if (firstError != error && !(error instanceof WalFailedException)) {
      // A WalFailedException is this writer refusing work after firstError, not a new error.
      log.warn("WAL {}: further error after failure", dir, error);
    }
    pendingDrained.signalAll();
    directoryReleased.signalAll();
    durableAdvanced.signalAll();
    leaderReleased.signalAll();
    syncerWork.signalAll();
  }

  /**
   * The syncer runs the dependent actions of the futures it completes while it leads; from there
   * {@code sync()} or {@code close()} would wait for the syncer itself.
   */
  private void checkNotSyncerThread(String method) {
    if (Thread.currentThread() == syncer) {
      throw new IllegalStateException(
          "WalWriter."
              + method
              + "() called on the "
              + syncer.getName()
              + " thread, from a dependent action of a WAL future; use the *Async variants of"
              + " CompletableFuture to run such work elsewhere");
    }
  }

  private void checkUsableLocked() throws IOException {
    if (closed) {
      throw new WalClosedException("WAL " + dir + " is closed");
    }
    if (firstError != null) {
      throw failedLocked();
    }
  }

  private WalFailedException failedLocked() {
    return new WalFailedException(
        "WAL "
            + dir
            + " failed earlier and accepts no more writes (durable up to LSN "
            + durableLsn
            + "): "
            + firstError,
        firstError);
  }

  /**
   * Runs one change to the WAL directory (a leader creating a segment, {@link #truncateBefore}
   * deleting one), then fsyncs the directory. These are the only I/O calls two threads make on one
   * file, so they take turns: a thread waits (100 ms slices, no lock held across the I/O) while
   * another holds {@code directoryBusy}. None starts once the WAL has failed, and a failure here is
   * recorded as {@code firstError} before the turn is given up: after a failed directory fsync the
   * kernel may have dropped the entry, so no later fsync of the directory, by this thread or
   * another, may be taken as proof that an entry is durable (fsyncgate).
   *
   * @throws WalFailedException if the WAL had failed before the change started (nothing done)
   * @throws InterruptedIOException if interrupted while waiting for the turn (nothing done, the WAL
   *     is not failed)
   * @throws IOException the error of the change or of the directory fsync; the WAL is failed
   */
  private void changeDirectoryDurably(SegmentAppender.DirectoryChange change) throws IOException {
    lock.lock();
    try {
      while (true) {
        if (firstError != null) {
          throw failedLocked();
        }
        if (!directoryBusy) {
          break;
        }
        awaitSlice(directoryReleased);
      }
      directoryBusy = true;
    } finally {
      lock.unlock();
    }
    Throwable error = null;
    try {
      change.run();
      vfs.syncDirectory(dir);
    } catch (Throwable t) {
      error = t;
      throw t;
    } finally {
      lock.lock();
      try {
        if (error != null) {
          failLocked(error);
        }
        directoryBusy = false;
        directoryReleased.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Called by the appender (the leader) once a new segment's name is durable. */
  private void segmentCreated(long firstLsn) {
    lock.lock();
    try {
      segmentFirstLsns.add(firstLsn);
    } finally {
      lock.unlock();
    }
  }

  private void awaitSlice(Condition c) throws InterruptedIOException {
    try {
      c.awaitNanos(WAIT_SLICE_NANOS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting on WAL " + dir);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The syncer thread

  /**
   * Body of {@code wal-syncer-<dir>}: picks up hand-overs at once, and every {@code syncIntervalMs}
   * requests an fsync if some record is not durable, leading the batch itself when nobody leads.
   */
  private void runSyncer() {
    long intervalNanos = TimeUnit.MILLISECONDS.toNanos(options.syncIntervalMs());
    long nextTick = System.nanoTime() + intervalNanos;
    lock.lock();
    try {
      while (true) {
        boolean lead = false;
        if (handOffToSyncer) {
          handOffToSyncer = false;
          lead = true;
        } else if (syncerStop) {
          return;
        } else {
          long now = System.nanoTime();
          if (now - nextTick >= 0) {
            nextTick = now + intervalNanos;
            if (firstError == null && !closed && lastAssignedLsn > durableLsn) {
              syncRequested = true; // an active leader honours it before letting go (I4)
              if (!leaderActive) {
                leaderActive = true;
                lead = true;
              }
            }
          } else {
            try {
              syncerWork.awaitNanos(nextTick - now);
            } catch (InterruptedException e) {
              // Nobody but close() should stop this thread, and it does so through syncerStop.
              log.warn("WAL {}: syncer thread interrupted; ignoring", dir);
            }
          }
        }
        if (lead) {
          lock.unlock();
          try {
            lead(false);
          } finally {
            lock.lock();
          }
        }
      }
    } catch (Throwable t) {
      // A bug, not an I/O error (those are handled in lead): fail loudly rather than leave
      // appenders waiting for a leader that is gone.
      failLocked(t);
      throw t;
    } finally {
      lock.unlock();
    }
  }

  private static void closeQuietly(WritableFile f, Throwable primary) {
    try {
      f.close();
    } catch (IOException e) {
      primary.addSuppressed(e);
    }
  }
}
