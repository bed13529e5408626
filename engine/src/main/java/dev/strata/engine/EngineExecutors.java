package dev.strata.engine;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import dev.strata.engine.flush.StreamPool;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every thread pool of one engine, in one place: who uses it, its bound, and the order it stops in.
 * Owned by {@link StrataEngine}; all threads are daemons named {@code strata-<pool>-N}.
 *
 * <table>
 *   <caption>Pools</caption>
 *   <tr><th>pool</th><th>threads</th><th>work</th></tr>
 *   <tr><td>{@code strata-stream}</td><td>{@code flush.stream_threads}, plus one replacement per
 *       thread running an abandoned (timed-out) stream, at most {@link #streamMaxDetached}</td>
 *       <td>flush stream phases of every fork (segment writes), a {@link StreamPool}: one lane per
 *       fork, served round-robin; queue bounded in effect by each fork's permits</td></tr>
 *   <tr><td>{@code strata-finalizer}</td><td>0 to {@value #FINALIZER_MAX_THREADS}, on demand; idle
 *       ones exit after {@value #FINALIZER_KEEP_ALIVE_S} s</td><td>each fork's finalizer runs on it
 *       as a sequential executor (publication in seq order): at most one thread per fork at a
 *       time</td></tr>
 *   <tr><td>{@code strata-scheduler}</td><td>1</td><td>interval flushes, stream retries and timeouts,
 *       the compaction sweep, the retention timer (each task only queues work elsewhere)</td></tr>
 *   <tr><td>{@code strata-gc}</td><td>1</td><td>retention passes and segment GC, one at a time</td></tr>
 *   <tr><td>{@code strata-compaction}</td><td>{@code compaction.max_concurrent}</td><td>compaction
 *       merges; core threads time out when idle</td></tr>
 * </table>
 *
 * Threads owned elsewhere: one WAL syncer per fork ({@code WalWriter}) and the segment store's
 * obsolete-segment deleter ({@code strata-segment-deleter}, owned by {@code SegmentStore}).
 *
 * <h2>Isolation between forks</h2>
 *
 * A publication does I/O (two manifest fsyncs, a directory fsync, WAL truncation fsyncs), so a
 * finalizer thread can be blocked for as long as a fork's disk is slow. The finalizer pool
 * therefore never queues: a task goes to an idle thread or to a new one ({@link SynchronousQueue}
 * hand-off), so a fork blocked in I/O holds only its own thread and never delays another fork's
 * publication or permits. Each fork's sequential executor uses at most one thread at a time, so
 * the pool needs as many threads as forks publishing at the same moment. Beyond {@value
 * #FINALIZER_MAX_THREADS} of them, the thread that hands a publication over (a stream thread
 * reporting its result, the scheduler reporting a timeout, a compaction queuing its publication, a
 * closing fork) runs that fork's finalizer itself: back-pressure on the producers rather than a
 * queue behind other forks' I/O.
 * Stream threads are isolated the same way by {@link StreamPool}: round-robin lanes, time limits
 * counted from the start of running, and replacements for threads held by abandoned streams.
 *
 * <h2>Shutdown order</h2>
 *
 * {@link #stopCompactionsAndGc} first (no merge or GC may start while forks close), then the forks
 * close (each drains its own pipeline through these pools), then {@link #stopFlushPools}. {@link
 * #haltNow} stops everything at once (simulated crash). Every wait is bounded.
 *
 * <p>Thread-safe: the executors are.
 */
final class EngineExecutors {
  private static final Logger log = LoggerFactory.getLogger(EngineExecutors.class);
  private static final long TERMINATION_WAIT_S = 30;

  /** Most finalizer threads at once: forks publishing at the same moment without waiting. */
  static final int FINALIZER_MAX_THREADS = 256;

  /** An idle finalizer thread exits after this long, s. */
  static final long FINALIZER_KEEP_ALIVE_S = 60;

  private final StreamPool stream;
  private final ThreadPoolExecutor finalizer;
  private final ScheduledThreadPoolExecutor scheduler;
  private final ExecutorService gc;
  private final ThreadPoolExecutor compaction;

  EngineExecutors(EngineOptions options) {
    int streams = options.streamThreads();
    this.stream = new StreamPool("strata-stream", streams, streamMaxDetached(streams));
    this.finalizer =
        new ThreadPoolExecutor(
            0,
            FINALIZER_MAX_THREADS,
            FINALIZER_KEEP_ALIVE_S,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            daemon("strata-finalizer-%d"),
            EngineExecutors::runInCallerUnlessShutDown);
    this.scheduler = new ScheduledThreadPoolExecutor(1, daemon("strata-scheduler-%d"));
    scheduler.setRemoveOnCancelPolicy(true);
    this.gc = Executors.newSingleThreadExecutor(daemon("strata-gc-%d"));
    int merges = options.compaction().maxConcurrent();
    this.compaction =
        new ThreadPoolExecutor(merges, merges, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), daemon("strata-compaction-%d"));
    compaction.allowCoreThreadTimeOut(true);
  }

  /**
   * How many stream threads may run abandoned (timed-out) streams with a replacement started for
   * each: twice the stream threads, at least 8. A stuck fork holds at most one per seq in flight
   * (its permits), so this covers several stuck forks before healthy ones wait for a thread.
   */
  static int streamMaxDetached(int streamThreads) {
    return Math.max(8, 2 * streamThreads);
  }

  /** Beyond the finalizer bound: the submitting thread runs the task; after shutdown: rejected. */
  private static void runInCallerUnlessShutDown(Runnable task, ThreadPoolExecutor pool) {
    if (pool.isShutdown()) {
      throw new RejectedExecutionException("finalizer pool is shut down");
    }
    task.run();
  }

  private static ThreadFactory daemon(String format) {
    return new ThreadFactoryBuilder().setNameFormat(format).setDaemon(true).build();
  }

  StreamPool stream() {
    return stream;
  }

  ExecutorService finalizer() {
    return finalizer;
  }

  ScheduledExecutorService scheduler() {
    return scheduler;
  }

  ExecutorService gc() {
    return gc;
  }

  ThreadPoolExecutor compaction() {
    return compaction;
  }

  /**
   * Stops taking compaction and GC work and waits for running jobs (bounded: {@code
   * compactionWaitMs} and 30 s). Running merges stop on their own when their scheduler is stopped.
   */
  void stopCompactionsAndGc(long compactionWaitMs) {
    compaction.shutdown();
    gc.shutdown();
    awaitQuietly(compaction, TimeUnit.MILLISECONDS.toNanos(compactionWaitMs), "compaction");
    awaitQuietly(gc, TimeUnit.SECONDS.toNanos(TERMINATION_WAIT_S), "gc");
  }

  /** After the forks closed: stops the scheduler, the stream and the finalizer pools (bounded). */
  void stopFlushPools() {
    scheduler.shutdownNow();
    stream.shutdownNow();
    finalizer.shutdown();
    awaitQuietly(stream, TimeUnit.SECONDS.toNanos(TERMINATION_WAIT_S));
    awaitQuietly(finalizer, TimeUnit.SECONDS.toNanos(TERMINATION_WAIT_S), "finalizer");
    awaitQuietly(scheduler, TimeUnit.SECONDS.toNanos(10), "scheduler");
  }

  /**
   * Simulated crash: stops every pool at once (interrupting all but the compaction threads, whose
   * merges stop on their scheduler's flag), then waits for the threads (bounded).
   */
  void haltNow() {
    scheduler.shutdownNow();
    compaction.shutdown(); // merges poll their scheduler's stop flag: no interrupt inside Lucene I/O
    gc.shutdownNow();
    stream.shutdownNow();
    finalizer.shutdownNow();
    for (ExecutorService e : new ExecutorService[] {compaction, finalizer, gc}) {
      awaitQuietly(e, TimeUnit.SECONDS.toNanos(TERMINATION_WAIT_S), "halt");
    }
    awaitQuietly(stream, TimeUnit.SECONDS.toNanos(TERMINATION_WAIT_S));
  }

  private static void awaitQuietly(StreamPool pool, long nanos) {
    try {
      if (!pool.awaitTermination(nanos, TimeUnit.NANOSECONDS)) {
        log.warn("stream threads still running after {} ms; going on", TimeUnit.NANOSECONDS.toMillis(nanos));
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }

  private static void awaitQuietly(ExecutorService e, long nanos, String pool) {
    try {
      if (!e.awaitTermination(nanos, TimeUnit.NANOSECONDS)) {
        log.warn("{} threads still running after {} ms; going on", pool, TimeUnit.NANOSECONDS.toMillis(nanos));
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }
}
