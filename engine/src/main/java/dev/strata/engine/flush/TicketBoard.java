package dev.strata.engine.flush;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongFunction;

/**
 * Flush tickets of one fork: futures keyed by WAL LSN, each resolved with the first snapshot
 * published on the fork whose covered LSN reaches it.
 *
 * <p>A ticket is just {@code (fork id, seq, lsn)}, so it survives restarts: after recovery the WAL
 * is replayed into L0 and the first flush publishes a snapshot covering every replayed LSN. A
 * ticket awaited after its snapshot was published is answered by {@code lookupPublished}, which
 * finds the first published snapshot covering the LSN.
 *
 * <p>Thread-safe. Futures are completed outside the lock, so callbacks cannot deadlock with it.
 *
 * @param <S> the snapshot type
 */
public final class TicketBoard<S> {
  private final ReentrantLock lock = new ReentrantLock();
  private final LongFunction<S> lookupPublished;

  /** Waiters by LSN. Guarded by lock. */
  private final TreeMap<Long, List<CompletableFuture<S>>> waiters = new TreeMap<>();

  /** Covered LSN of the newest published snapshot. Guarded by lock. */
  private long coveredLsn;

  /** Guarded by lock; non-null once the fork can publish no more. */
  private Throwable failure;

  /**
   * @param initialCoveredLsn covered LSN of the fork's head snapshot at open (0 if none)
   * @param lookupPublished finds the first published snapshot covering an LSN ≤ the head's
   */
  public TicketBoard(long initialCoveredLsn, LongFunction<S> lookupPublished) {
    this.coveredLsn = initialCoveredLsn;
    this.lookupPublished = lookupPublished;
  }

  /**
   * A future of the first snapshot covering {@code lsn}. Cancelling it (e.g. at a call deadline)
   * does not affect the ticket: await again for a new future.
   */
  public CompletableFuture<S> await(long lsn) {
    lock.lock();
    try {
      // A published snapshot covers it: that answer holds whatever happened to the fork since
      // (SPEC §5.9, tickets never lie), so the covered check comes before the failure.
      if (lsn > coveredLsn) {
        if (failure != null) {
          return CompletableFuture.failedFuture(failure);
        }
        CompletableFuture<S> f = new CompletableFuture<>();
        waiters.computeIfAbsent(lsn, k -> new ArrayList<>()).add(f);
        return f;
      }
    } finally {
      lock.unlock();
    }
    try {
      return CompletableFuture.completedFuture(lookupPublished.apply(lsn));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** Called by the finalizer after {@code snapshot} became the head; resolves covered tickets. */
  public void published(long snapshotCoveredLsn, S snapshot) {
    List<CompletableFuture<S>> done = new ArrayList<>();
    lock.lock();
    try {
      coveredLsn = Math.max(coveredLsn, snapshotCoveredLsn);
      Map<Long, List<CompletableFuture<S>>> head = waiters.headMap(snapshotCoveredLsn, true);
      head.values().forEach(done::addAll);
      head.clear();
    } finally {
      lock.unlock();
    }
    for (CompletableFuture<S> f : done) {
      f.complete(snapshot);
    }
  }

  /**
   * Fails every waiting ticket and every later one above the covered LSN (fork dropped, failed or
   * closed). Tickets a published snapshot covers keep resolving to it.
   */
  public void failAll(Throwable cause) {
    List<CompletableFuture<S>> done = new ArrayList<>();
    lock.lock();
    try {
      failure = cause;
      waiters.values().forEach(done::addAll);
      waiters.clear();
    } finally {
      lock.unlock();
    }
    for (CompletableFuture<S> f : done) {
      f.completeExceptionally(cause);
    }
  }

  /** Number of LSNs with waiters (for stats and tests). */
  public int waitingCount() {
    lock.lock();
    try {
      waiters.values().removeIf(l -> l.removeIf(CompletableFuture::isDone) && l.isEmpty());
      return waiters.size();
    } finally {
      lock.unlock();
    }
  }
}
