package dev.strata.engine.l0;

import dev.strata.engine.model.DocumentVersion;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;

/**
 * The in-memory table (memtable) of one fork's recent writes: the newest version of each
 * (collection, id) — a document or a tombstone — with the LSN that wrote it, plus byte accounting.
 *
 * <p>A buffer covers the LSN range {@code (startLsnExclusive, endLsnInclusive]}. While it is the
 * fork's <em>active</em> buffer the end is open; {@link #freeze(long)} closes it at rotate. Writers
 * route each applied record by its LSN, so a record whose WAL append finished before a rotate but
 * whose apply comes after it still lands in the frozen buffer that covers it (see {@code
 * ForkWriter} for why). A frozen buffer stays readable until its flush is published.
 *
 * <p>Newest-wins by LSN: concurrent writers of one key may apply out of LSN order; {@link #apply}
 * keeps the higher LSN, so the result equals applying in LSN order.
 *
 * <p>Thread-safe and lock-free: a {@link ConcurrentSkipListMap} with compare-and-set updates (its
 * {@code compute} is not atomic, so accounting is done on the CAS winner only).
 */
public final class L0Buffer {
  /** Per-entry overhead in bytes added to key and value sizes (skip-list node, record headers). */
  public static final int ENTRY_OVERHEAD_BYTES = 96;

  private final long startLsnExclusive;
  private volatile long endLsnInclusive = Long.MAX_VALUE;
  private final ConcurrentSkipListMap<L0Key, DocumentVersion> entries =
      new ConcurrentSkipListMap<>();
  private final AtomicLong sizeBytes = new AtomicLong();
  private final AtomicLong maxLsn = new AtomicLong();

  /**
   * Makes "check the range, then apply a whole record" atomic with respect to {@link #freeze}:
   * appliers share it, freeze takes it alone. Held only for in-memory work.
   */
  private final ReentrantReadWriteLock freezeLock =
      new ReentrantReadWriteLock();

  /** An empty buffer for records with LSN greater than {@code startLsnExclusive}. */
  public L0Buffer(long startLsnExclusive) {
    this.startLsnExclusive = startLsnExclusive;
    this.maxLsn.set(startLsnExclusive);
  }

  /** LSNs above this belong here (up to {@link #endLsnInclusive()}). */
  public long startLsnExclusive() {
    return startLsnExclusive;
  }

  /** The last LSN this buffer covers; {@code Long.MAX_VALUE} while active. */
  public long endLsnInclusive() {
    return endLsnInclusive;
  }

  /** True if {@code lsn} falls in this buffer's range. */
  public boolean covers(long lsn) {
    return lsn > startLsnExclusive && lsn <= endLsnInclusive;
  }

  /**
   * Closes the range at the LSN {@code coveredLsn} returns, read while no record is being applied
   * here: called once, at rotate, under the fork's flush lock, with the WAL's last assigned LSN.
   *
   * <p>Why read it under the lock: a record applied before the freeze had its LSN assigned before
   * the read, so it is ≤ the covered LSN; a record applied after sees the closed range and is
   * routed to the next buffer. The frozen buffer therefore holds exactly the records with LSN ≤
   * its covered LSN (snapshot isolation, SPEC §5.3).
   *
   * @return the covered LSN
   */
  public long freeze(LongSupplier coveredLsn) {
    freezeLock.writeLock().lock();
    try {
      long covered = coveredLsn.getAsLong();
      freezeLocked(covered);
      return covered;
    } finally {
      freezeLock.writeLock().unlock();
    }
  }

  private void freezeLocked(long coveredLsn) {
    if (endLsnInclusive != Long.MAX_VALUE) {
      throw new IllegalStateException("L0 buffer already frozen at LSN " + endLsnInclusive);
    }
    if (coveredLsn < startLsnExclusive) {
      throw new IllegalArgumentException(
          "covered LSN " + coveredLsn + " is below the buffer's start " + startLsnExclusive);
    }
    endLsnInclusive = coveredLsn;
  }

  /** True once {@link #freeze} has run. */
  public boolean isFrozen() {
    return endLsnInclusive != Long.MAX_VALUE;
  }

  /**
   * Applies every version of one WAL record (all with LSN {@code lsn}) if this buffer covers
   * {@code lsn}, atomically with respect to {@link #freeze}: either the whole record lands here
   * before the buffer is frozen, or nothing does and the caller routes it to the buffer that now
   * covers it.
   *
   * @return false if the buffer does not (or no longer) cover {@code lsn}
   */
  public boolean applyRecord(long lsn, List<Map.Entry<L0Key, DocumentVersion>> versions) {
    freezeLock.readLock().lock();
    try {
      if (!covers(lsn)) {
        return false;
      }
      for (Map.Entry<L0Key, DocumentVersion> e : versions) {
        apply(e.getKey(), e.getValue());
      }
      return true;
    } finally {
      freezeLock.readLock().unlock();
    }
  }

  /**
   * Puts {@code version} for {@code key} unless the buffer already holds a version with a higher
   * or equal LSN.
   *
   * @throws IllegalArgumentException if the version's LSN is outside this buffer's range
   */
  public void apply(L0Key key, DocumentVersion version) {
    if (!covers(version.lsn())) {
      throw new IllegalArgumentException(
          "LSN "
              + version.lsn()
              + " is outside L0 range ("
              + startLsnExclusive
              + ", "
              + endLsnInclusive
              + "]");
    }
    int newSize = entrySize(key, version);
    while (true) {
      DocumentVersion old = entries.get(key);
      if (old == null) {
        if (entries.putIfAbsent(key, version) == null) {
          sizeBytes.addAndGet(newSize);
          break;
        }
      } else if (old.lsn() >= version.lsn()) {
        break;
      } else if (entries.replace(key, old, version)) {
        sizeBytes.addAndGet(newSize - entrySize(key, old));
        break;
      }
    }
    maxLsn.accumulateAndGet(version.lsn(), Math::max);
  }

  private static int entrySize(L0Key key, DocumentVersion v) {
    return ENTRY_OVERHEAD_BYTES + key.sizeBytes() + (v.document() == null ? 0 : v.document().sizeBytes());
  }

  /** The newest version of a key, or null if this buffer has none. */
  public DocumentVersion get(String collection, String id) {
    return entries.get(new L0Key(collection, id));
  }

  /** Entries of one collection with id ≥ {@code startIdInclusive}, in key order; weakly consistent. */
  public Iterator<Map.Entry<L0Key, DocumentVersion>> scan(String collection, String startIdInclusive) {
    ConcurrentNavigableMap<L0Key, DocumentVersion> tail =
        entries.tailMap(new L0Key(collection, startIdInclusive), true);
    Iterator<Map.Entry<L0Key, DocumentVersion>> it = tail.entrySet().iterator();
    return new Iterator<>() {
      Map.Entry<L0Key, DocumentVersion> next = advance();

      private Map.Entry<L0Key, DocumentVersion> advance() {
        if (it.hasNext()) {
          Map.Entry<L0Key, DocumentVersion> e = it.next();
          if (e.getKey().collection().equals(collection)) {
            return e;
          }
        }
        return null;
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Map.Entry<L0Key, DocumentVersion> next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Map.Entry<L0Key, DocumentVersion> r = next;
        next = advance();
        return r;
      }
    };
  }

  /** A point-in-time copy of every entry in key order; used by the flush of a frozen buffer. */
  public List<Map.Entry<L0Key, DocumentVersion>> sortedEntries() {
    return new ArrayList<>(entries.entrySet());
  }

  /** Approximate bytes held: keys + values + {@link #ENTRY_OVERHEAD_BYTES} per entry. */
  public long sizeBytes() {
    return sizeBytes.get();
  }

  /** Number of distinct keys. */
  public int entryCount() {
    return entries.size();
  }

  /** True if no record was applied. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** Highest LSN applied so far (or the start LSN if none). */
  public long maxAppliedLsn() {
    return maxLsn.get();
  }
}
