package dev.strata.engine.fork;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.L0Record;
import dev.strata.engine.read.PublishedSnapshot;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * One fork's memtables: the active L0 buffer, the frozen ones whose flushes are in flight, and the
 * head snapshot, published together as one immutable {@link ReadState} (Pebble's {@code
 * readState}, LevelDB's {@code mem_}/{@code imm_} plus {@code current_}).
 *
 * <h2>The flush lock</h2>
 *
 * This class owns the fork's flush lock. Every change of the read state happens under it: a rotate
 * (the {@link FlushCoordinator} assigns the flush's seq under the same lock, so seq order equals
 * the order of the frozen buffers' LSN ranges), the install of a published flush or compaction,
 * and close. It is held for in-memory swaps only, never across I/O. Readers take no lock: they
 * read {@link #current()} once and use that value.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>The buffers' LSN ranges are contiguous: each frozen buffer ends where the next one starts,
 *       and the active one is open-ended; so every LSN above the head's covered LSN has exactly
 *       one buffer ({@link #apply} relies on it).
 *   <li>A frozen buffer leaves the read state only in the same swap that installs the snapshot
 *       holding its data: a read at the head never misses a write.
 *   <li>{@link #lastRotatedLsn()} is the covered LSN of the newest rotate (or of the head at open)
 *       and only grows.
 * </ol>
 *
 * <p>Thread-safe. Called by writers (apply), rotates (any thread that rotates), the fork's
 * finalizer (installs), readers, and close.
 */
final class MemTables {
  private final ReentrantLock flushLock = new ReentrantLock();

  /** Written under flushLock; read without a lock. */
  @GuardedBy("flushLock")
  private volatile ReadState state;

  /** Covered LSN of the last rotate. Written under flushLock; read without a lock. */
  @GuardedBy("flushLock")
  private volatile long lastRotatedLsn;

  /**
   * @param active the active buffer (after recovery: holding the replayed WAL records)
   * @param head the head snapshot (its reference moves here), or null before the first flush
   */
  MemTables(L0Buffer active, PublishedSnapshot head) {
    this.state = new ReadState(active, List.of(), head);
    this.lastRotatedLsn = head == null ? 0 : head.coveredLsn();
  }

  /** The fork's flush lock, for the {@link FlushCoordinator} to assign seqs under. */
  ReentrantLock flushLock() {
    return flushLock;
  }

  /** The current read state: one consistent value, no lock. */
  ReadState current() {
    return state;
  }

  /** Covered LSN of the last rotate (or of the head at open). */
  long lastRotatedLsn() {
    return lastRotatedLsn;
  }

  /** True if the active buffer holds data, or the WAL has records past the last rotate. */
  boolean hasUnflushedData(long walLastLsn) {
    return !state.active().isEmpty() || walLastLsn > lastRotatedLsn;
  }

  /**
   * Applies one WAL record to the buffer that covers its LSN. Lock-free in the common case. A
   * rotate freezes the active buffer and publishes the new read state under the flush lock, and
   * {@link L0Buffer#applyRecord} is atomic with respect to the freeze; so if the record missed
   * (the buffer froze below its LSN, or the state was read mid-swap), re-reading the state under
   * the flush lock finds the buffer that covers it, which nothing can freeze while we hold it.
   *
   * @throws IllegalStateException if no buffer covers {@code lsn} (a broken invariant 1)
   */
  void apply(long lsn, L0Record record) {
    L0Buffer b = state.bufferFor(lsn);
    if (b != null && b.applyRecord(lsn, record)) {
      return;
    }
    flushLock.lock();
    try {
      L0Buffer locked = state.bufferFor(lsn);
      if (locked != null && locked.applyRecord(lsn, record)) {
        return;
      }
    } finally {
      flushLock.unlock();
    }
    throw new IllegalStateException("no L0 buffer covers LSN " + lsn);
  }

  /**
   * The rotate's swap, run by the {@link FlushCoordinator} under the flush lock: freezes the active
   * buffer at the WAL's last LSN and makes a fresh one active.
   *
   * @param onlyIfFullBytes if positive, swap only if the active buffer still holds at least this
   *     many bytes (many stalled writers wake up; only one should rotate)
   * @param walLastLsn the WAL's last assigned LSN, read under the buffer's freeze lock
   * @return the frozen buffer and its covered LSN, or null if there is nothing to flush
   */
  FlushCoordinator.Swap<L0Buffer> swapLocked(long onlyIfFullBytes, LongSupplier walLastLsn) {
    assert flushLock.isHeldByCurrentThread();
    ReadState s = state;
    if (onlyIfFullBytes > 0 && s.active().sizeBytes() < onlyIfFullBytes) {
      return null;
    }
    if (s.active().isEmpty() && walLastLsn.getAsLong() <= lastRotatedLsn) {
      return null;
    }
    L0Buffer frozen = s.active();
    long covered = frozen.freeze(walLastLsn);
    state = s.rotated(new L0Buffer(covered));
    lastRotatedLsn = covered;
    return new FlushCoordinator.Swap<>(frozen, covered);
  }

  /**
   * The head snapshot with a reference taken (the caller releases it), or null before the first
   * flush or after close.
   */
  PublishedSnapshot acquireHead() {
    while (true) {
      PublishedSnapshot head = state.head();
      if (head == null || head.tryAcquire()) {
        return head;
      }
    }
  }

  /**
   * Installs a flush's snapshot as the head and drops its frozen buffer from the read path, in one
   * swap (invariant 2). The snapshot's reference moves here; the caller releases the old head's.
   *
   * @param closed checked under the lock: once closed, nothing is installed
   * @return false if the fork closed first (the caller releases {@code snapshot})
   */
  boolean installFlush(PublishedSnapshot snapshot, L0Buffer flushed, BooleanSupplier closed) {
    flushLock.lock();
    try {
      if (closed.getAsBoolean()) {
        return false; // close() released the head already; the manifest is durable
      }
      state = state.published(snapshot, flushed);
      return true;
    } finally {
      flushLock.unlock();
    }
  }

  /**
   * Installs a snapshot that changes no buffer (a compaction) as the head; as {@link
   * #installFlush}.
   */
  boolean installHead(PublishedSnapshot snapshot, BooleanSupplier closed) {
    return installFlush(snapshot, null, closed);
  }

  /** Takes the head out of the read state (close): returns it with its reference, or null. */
  PublishedSnapshot detachHead() {
    flushLock.lock();
    try {
      PublishedSnapshot h = state.head();
      state = new ReadState(state.active(), state.frozenNewestFirst(), null);
      return h;
    } finally {
      flushLock.unlock();
    }
  }
}
