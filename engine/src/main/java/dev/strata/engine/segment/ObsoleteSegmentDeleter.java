package dev.strata.engine.segment;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionHandler;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes obsolete segments in the background, on its own thread ({@code strata-segment-deleter}):
 * the segment's Lucene reader is closed, its RocksDB key range removed, its directory deleted and
 * the segments directory fsynced. This is I/O (a RocksDB MANIFEST edit, a directory fsync) that
 * must never run on a fork's finalizer or an RPC thread, which is where the last reference to a
 * segment is usually released.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>Only after the last release.</b> A segment is queued only when its reference count
 *       reaches 0 after {@link SegmentStore#markObsolete} ({@link SegmentHandles}); until its
 *       deletion finishes it stays in the handle table as obsolete, so no new handle can be
 *       acquired meanwhile.
 *   <li><b>Bounded.</b> The queue holds at most {@code capacity} segments. When it is full, the
 *       releasing thread deletes the segment itself (the back-pressure of a bounded queue; counted
 *       in {@link #inlineDeletions()}) instead of letting the queue grow.
 *   <li><b>Drained on close.</b> {@link #close} runs every queued deletion before it returns
 *       (bounded wait), so the RocksDB instance closes only after them.
 *   <li><b>Failures are counted, not retried here.</b> A failed deletion is logged and counted;
 *       the files stay, no manifest names them, and the orphan sweep at the next open deletes them
 *       (the fsyncgate lesson: never retry the same failed I/O in a loop).
 * </ol>
 *
 * <p>Thread-safe. Owned by the {@link SegmentStore}, which closes it before closing RocksDB.
 */
final class ObsoleteSegmentDeleter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ObsoleteSegmentDeleter.class);

  /** Default queue bound, in segments. */
  static final int DEFAULT_CAPACITY = 1024;

  private static final long CLOSE_WAIT_MS = 30_000;

  private final SegmentDb db;
  private final SegmentLayout layout;
  private final Vfs vfs;
  private final Consumer<SharedSegment> onDone;
  private final ThreadPoolExecutor executor;

  private final AtomicLong deleted = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong inline = new AtomicLong();

  private final Object idle = new Object();

  /** Deletions queued or running. */
  @GuardedBy("idle")
  private int pending;

  /**
   * @param onDone told every segment once its deletion finished or failed (on the deleting thread):
   *     the handle table forgets it
   * @param capacity queue bound, in segments
   */
  ObsoleteSegmentDeleter(SegmentDb db, SegmentLayout layout, Vfs vfs, Consumer<SharedSegment> onDone, int capacity) {
    this.db = db;
    this.layout = layout;
    this.vfs = vfs;
    this.onDone = onDone;
    RejectedExecutionHandler runInline =
        (task, pool) -> {
          inline.incrementAndGet();
          task.run();
        };
    this.executor =
        new ThreadPoolExecutor(
            1,
            1,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(capacity),
            new ThreadFactoryBuilder().setNameFormat("strata-segment-deleter-%d").setDaemon(true).build(),
            runInline);
    executor.allowCoreThreadTimeOut(true);
  }

  /**
   * Queues the deletion of a segment with no reference left. Returns at once unless the queue is
   * full or the deleter is closed; then the deletion runs on this thread.
   */
  void enqueue(SharedSegment s) {
    synchronized (idle) {
      pending++;
    }
    executor.execute(() -> delete(s));
  }

  private void delete(SharedSegment s) {
    try {
      s.closeReader();
      db.deleteKeyRange(s.segmentId);
      vfs.deleteRecursively(layout.segmentDir(s.segmentId));
      vfs.syncDirectory(layout.segmentsDir());
      deleted.incrementAndGet();
      log.debug("deleted segment {}", SegmentFormat.hex(s.segmentId));
    } catch (IOException | RuntimeException e) {
      failed.incrementAndGet();
      log.warn(
          "could not delete obsolete segment {}; the orphan sweep at the next open will: {}",
          SegmentFormat.hex(s.segmentId),
          e.toString());
    } finally {
      try {
        onDone.accept(s);
      } finally {
        synchronized (idle) {
          pending--;
          idle.notifyAll();
        }
      }
    }
  }

  /**
   * Waits until no deletion is queued or running.
   *
   * @return false if some were still pending after {@code timeoutMs}
   */
  boolean awaitIdle(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    synchronized (idle) {
      while (pending > 0) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return false;
        }
        idle.wait(left);
      }
      return true;
    }
  }

  /** Deletions queued or running now. */
  int pending() {
    synchronized (idle) {
      return pending;
    }
  }

  /** Segments deleted since the store opened. */
  long deletedCount() {
    return deleted.get();
  }

  /** Deletions that failed since the store opened (their files are left to the orphan sweep). */
  long failedCount() {
    return failed.get();
  }

  /** Deletions that ran on the releasing thread because the queue was full or closed. */
  long inlineDeletions() {
    return inline.get();
  }

  /**
   * Stops taking work onto the thread (later deletions run inline) and runs every queued deletion,
   * waiting at most 30 s. Idempotent.
   */
  @Override
  public void close() {
    executor.shutdown();
    try {
      if (!executor.awaitTermination(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS)) {
        log.warn("obsolete-segment deletions still running after {} ms; the orphan sweep finishes them", CLOSE_WAIT_MS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
