package dev.strata.engine.fork;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.engine.StrataException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The L0 memory of every fork together, held to one share of the memory budget (SPEC §5.10), as
 * RocksDB's {@code WriteBufferManager} does for the memtables of all column families. Each fork's
 * own {@link WriteController} keeps its L0 under {@code l0.max_bytes} and its permits; this bounds
 * their sum, which otherwise grows with the number of forks.
 *
 * <p><b>Accounting.</b> Usage is the sum of every registered fork's L0 memory: the arena chunks its
 * active and frozen buffers hold ({@code L0Buffer.reservedBytes}: the records and skip-list nodes
 * plus the unused end of each buffer's last chunks, which the heap holds all the same), read when a
 * writer asks: exact at that moment, with nothing to keep in step. A frozen buffer counts until its flush is published and the
 * buffer leaves the fork's read state.
 *
 * <p><b>Policy</b> ({@link #beforeWrite}, on every write, before its WAL append), after RocksDB's
 * {@code WriteBufferManager::ShouldFlush}:
 *
 * <ol>
 *   <li><b>Flush.</b> When the active buffers of all forks hold more than 7/8 of the share, or all
 *       of L0 has reached the share while the active buffers hold at least half of it, the forks
 *       with the largest active buffers are asked to rotate, largest first, until one does (a fork
 *       without a free permit skips; its flushes in flight free memory anyway).
 *   <li><b>Stall.</b> While all of L0 is at or above the share, the writer waits (in slices of
 *       {@value #WAIT_SLICE_MS} ms, woken early by {@link #memoryReleased}) until a flush publishes
 *       and frees memory, at most {@code write_stall_timeout}; then RESOURCE_EXHAUSTED with a retry
 *       delay, nothing applied.
 * </ol>
 *
 * A writer that passed the check appends and applies without holding anything, so L0 may exceed
 * the share by the writes in flight at the moment it was reached (at most one write per writer
 * thread), the same soft bound as RocksDB's and as {@code l0.max_bytes}.
 *
 * <p>Thread-safe. Members register and leave from any thread (copy-on-write list); writers check
 * concurrently without a lock; the only monitor is {@code released}, held to wait and to notify,
 * never across I/O. A rotate it asks for takes the fork's flush lock briefly (an in-memory swap).
 */
public final class WriteBufferManager {
  private static final Logger log = LoggerFactory.getLogger(WriteBufferManager.class);

  /** Longest a stalled writer sleeps before it re-checks, ms. */
  static final long WAIT_SLICE_MS = 50;

  /** One fork as the manager sees it. */
  record Member(String forkName, LongSupplier activeBytes, LongSupplier totalBytes, BooleanSupplier rotate) {}

  /** A registration; {@link #close()} removes the member and wakes stalled writers. */
  public interface Registration extends AutoCloseable {
    /** Removes the member. Idempotent. */
    @Override
    void close();
  }

  private final long bufferBytes;
  private final long mutableLimitBytes;
  private final CopyOnWriteArrayList<Member> members = new CopyOnWriteArrayList<>();

  /** Notified whenever L0 memory may have been freed. */
  private final Object released = new Object();

  @GuardedBy("released")
  private long releaseEpoch;

  private final AtomicLong stalls = new AtomicLong();
  private final AtomicLong stallNanos = new AtomicLong();
  private final AtomicLong flushesRequested = new AtomicLong();
  private volatile long lastStallLogNanos;

  /**
   * @param bufferBytes the L0 share of the memory budget, bytes; 0 turns the manager off (each fork
   *     is then bounded only by its own {@code l0.max_bytes} and permits)
   */
  public WriteBufferManager(long bufferBytes) {
    if (bufferBytes < 0) {
      throw new IllegalArgumentException("the L0 share must be >= 0, got " + bufferBytes);
    }
    this.bufferBytes = bufferBytes;
    this.mutableLimitBytes = bufferBytes / 8 * 7;
  }

  /** The L0 share, bytes (0 = off). */
  public long bufferBytes() {
    return bufferBytes;
  }

  /**
   * Adds a fork. The suppliers are called from writer threads of any fork, so they must be cheap
   * and thread-safe.
   *
   * @param activeBytes the fork's active L0 buffer, bytes
   * @param totalBytes the fork's active and frozen L0 buffers, bytes
   * @param rotate rotates the fork if it has data and a free permit, without waiting; true if it did
   */
  Registration register(String forkName, LongSupplier activeBytes, LongSupplier totalBytes, BooleanSupplier rotate) {
    Member m = new Member(forkName, activeBytes, totalBytes, rotate);
    members.add(m);
    return () -> {
      if (members.remove(m)) {
        memoryReleased();
      }
    };
  }

  /** L0 memory of every registered fork now (arena chunks of active and frozen buffers), bytes. */
  public long usageBytes() {
    long n = 0;
    for (Member m : members) {
      n += m.totalBytes().getAsLong();
    }
    return n;
  }

  /**
   * True if a writer arriving now would wait in {@code beforeWrite} (L0 of all forks at its share).
   * A hint for asynchronous writers, which then move to a thread where waiting is allowed; the
   * answer may change the next moment. Thread-safe.
   */
  boolean wouldStall() {
    return bufferBytes != 0 && usageBytes() >= bufferBytes;
  }

  /** Bytes in the active buffers of every registered fork now. */
  public long activeBytes() {
    long n = 0;
    for (Member m : members) {
      n += m.activeBytes().getAsLong();
    }
    return n;
  }

  /** Times a writer waited for L0 memory. */
  public long stalls() {
    return stalls.get();
  }

  /** Total time writers waited for L0 memory, ms. */
  public long stallMs() {
    return TimeUnit.NANOSECONDS.toMillis(stallNanos.get());
  }

  /** Rotates this manager asked for because L0 as a whole was filling up. */
  public long flushesRequested() {
    return flushesRequested.get();
  }

  /**
   * Tells stalled writers that L0 memory may have been freed (a flush published, a fork closed).
   * Cheap; any thread.
   */
  public void memoryReleased() {
    synchronized (released) {
      releaseEpoch++;
      released.notifyAll();
    }
  }

  /**
   * Called by every writer before its WAL append: asks for flushes and stalls as the class comment
   * says.
   *
   * @param stallTimeoutMs {@code write_stall_timeout}
   * @param stillWritable checked while waiting: false ends the wait (the caller then reports why
   *     its fork stopped taking writes)
   * @throws StrataException RESOURCE_EXHAUSTED (with a retry delay) if L0 stayed at its share for
   *     {@code stallTimeoutMs}; UNAVAILABLE if interrupted
   */
  void beforeWrite(long stallTimeoutMs, BooleanSupplier stillWritable) {
    if (bufferBytes == 0) {
      return;
    }
    long total = usageBytes();
    maybeRequestFlush(total);
    if (total < bufferBytes) {
      return;
    }
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(stallTimeoutMs);
    stalls.incrementAndGet();
    if (start - lastStallLogNanos > TimeUnit.SECONDS.toNanos(10)) {
      lastStallLogNanos = start;
      log.warn("write stall: L0 of all forks holds {} bytes, its share of memory.budget is {} bytes; writers wait"
          + " for flushes to free memory", total, bufferBytes);
    }
    try {
      while (true) {
        long epoch;
        synchronized (released) {
          epoch = releaseEpoch;
        }
        total = usageBytes();
        if (total < bufferBytes || !stillWritable.getAsBoolean()) {
          return;
        }
        maybeRequestFlush(total);
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw StrataException.overloaded(
              "write stall: L0 of all forks holds " + total + " bytes, at its share of memory.budget ("
                  + bufferBytes + " bytes), and flushes did not free memory within " + stallTimeoutMs
                  + " ms; retry later",
              Math.max(100, stallTimeoutMs / 10));
        }
        synchronized (released) {
          if (releaseEpoch == epoch) { // nothing freed since the usage was read
            released.wait(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, WAIT_SLICE_MS));
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted during a write stall");
    } finally {
      stallNanos.addAndGet(System.nanoTime() - start);
    }
  }

  /** Rule 1 of the class comment: rotate the forks with the largest active buffers, largest first. */
  private void maybeRequestFlush(long total) {
    if (total <= mutableLimitBytes) {
      return; // neither condition can hold: active <= total
    }
    long active = activeBytes();
    boolean flush = active > mutableLimitBytes || (total >= bufferBytes && active >= bufferBytes / 2);
    if (!flush) {
      return;
    }
    // Sizes read once: they change under our feet, and a sort needs a consistent order.
    record Sized(Member member, long activeBytes) {}
    List<Sized> bySize = new ArrayList<>();
    for (Member m : members) {
      bySize.add(new Sized(m, m.activeBytes().getAsLong()));
    }
    bySize.sort(Comparator.comparingLong(Sized::activeBytes).reversed());
    for (Sized sized : bySize) {
      Member m = sized.member();
      if (sized.activeBytes() == 0) {
        return;
      }
      if (m.rotate().getAsBoolean()) {
        flushesRequested.incrementAndGet();
        log.debug("fork={} rotated: L0 of all forks holds {} bytes of {} ({} active)", m.forkName(), total,
            bufferBytes, active);
        return;
      }
    }
  }
}
