package dev.strata.engine.fork;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.manifest.proto.MergeRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One fork's merge state between a merge's WAL records and the snapshot that holds it (the merge
 * record protocol, docs/architecture.md "Merging forks"):
 *
 * <ul>
 *   <li><b>One merge at a time.</b> Merges into one fork are serialized ({@link #tryBegin}); the
 *       commit rule of the protocol relies on it.
 *   <li><b>The WAL truncation floor.</b> From the moment a three-way merge reads the target until
 *       a published snapshot covers its commit, the WAL keeps every record from the merge's read
 *       LSN on: the commit rule reads them at run time, and recovery reads them (and the merge's
 *       batches) again if the process dies before a snapshot covers the commit. The publisher
 *       truncates below {@code min(covered + 1, floor)}.
 *   <li><b>Committed merges waiting for a snapshot.</b> A three-way merge takes effect at its
 *       commit LSN; the first flush whose covered LSN reaches it records the merge in its manifest
 *       ({@link #committedUpTo}, then {@link #published}). Recovery re-registers commits the head
 *       does not cover yet.
 * </ul>
 *
 * <p>Thread-safe: the merge's thread, the fork's finalizer and recovery call it; one monitor, held
 * only for in-memory updates.
 */
final class MergeLog {
  private final AtomicBoolean running = new AtomicBoolean();

  /** No truncation floor. */
  static final long NO_FLOOR = Long.MAX_VALUE;

  @GuardedBy("this")
  private long floorLsn = NO_FLOOR;

  /** The floor lifts once a snapshot covers this LSN; 0 while the merge that set it runs. */
  @GuardedBy("this")
  private long liftWhenCovered;

  /** Commit LSN → the merge, until a published manifest records it. */
  @GuardedBy("this")
  private final TreeMap<Long, MergeRef> committed = new TreeMap<>();

  /**
   * Starts a merge into this fork.
   *
   * @return false if one is already running
   */
  boolean tryBegin() {
    return running.compareAndSet(false, true);
  }

  /** Keeps the WAL from {@code fromLsn} on until {@link #endRun} lets the floor lift. */
  synchronized void pin(long fromLsn) {
    floorLsn = Math.min(floorLsn, fromLsn);
    liftWhenCovered = 0;
  }

  /**
   * Ends the running merge. The floor lifts once a published snapshot covers {@code commitLsn}, or
   * at once if it is 0 (nothing was committed).
   */
  synchronized void endRun(long commitLsn) {
    if (commitLsn <= 0) {
      floorLsn = NO_FLOOR;
      liftWhenCovered = 0;
    } else {
      liftWhenCovered = commitLsn;
    }
    running.set(false);
  }

  /** The lowest LSN the WAL must keep for merges, or {@link #NO_FLOOR}. */
  synchronized long truncationFloor() {
    return floorLsn;
  }

  /** Registers a merge committed at {@code commitLsn} (run time or recovery). */
  synchronized void committed(long commitLsn, MergeRef merge) {
    committed.put(commitLsn, merge.toBuilder().setLsn(commitLsn).build());
  }

  /** The committed merges a snapshot covering {@code coveredLsn} holds, by commit LSN. */
  synchronized List<MergeRef> committedUpTo(long coveredLsn) {
    return new ArrayList<>(committed.headMap(coveredLsn, true).values());
  }

  /**
   * A snapshot covering {@code coveredLsn} was published (on the finalizer): forgets the merges it
   * holds, and lifts the floor if it covers the commit that holds it.
   */
  synchronized void published(long coveredLsn) {
    Map<Long, MergeRef> done = committed.headMap(coveredLsn, true);
    done.clear();
    if (liftWhenCovered > 0 && coveredLsn >= liftWhenCovered) {
      floorLsn = NO_FLOOR;
      liftWhenCovered = 0;
    }
  }
}
