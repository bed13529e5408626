package dev.strata.engine.flush;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream threads every fork shares: one queue per fork (a {@link Lane}), served round-robin,
 * so a fork with many queued streams cannot starve another and one fork's slow streams cannot eat
 * another's time limit.
 *
 * <h2>Scheduling</h2>
 *
 * <ul>
 *   <li>Each fork's flush pipeline has a lane: its queued stream attempts, lowest seq first (a
 *       retry of an older seq goes before later seqs: it is the hole the finalizer waits for), FIFO
 *       among equal seqs.
 *   <li>Lanes with queued work wait in a ring. A free thread takes the lane at the head of the
 *       ring, starts that lane's first job, and puts the lane back at the tail if it has more. Every
 *       fork with work therefore gets one start per round: round-robin with a quantum of one job
 *       (deficit round robin with equal quanta, Shreedhar and Varghese, SIGCOMM 1995).
 *   <li>A job's time limit is its own business and starts when the job runs ({@link
 *       StreamAttempt} arms its watchdog in {@link Job#run}): time spent queued here never counts.
 * </ul>
 *
 * <h2>Detached threads</h2>
 *
 * A job that outlives its time limit is abandoned by its owner, but it cannot be stopped: an
 * interrupt inside {@code FileChannel} I/O closes the channel. Its owner calls {@link
 * Running#detach()}: the thread stops counting as one of the {@code threads} that serve lanes and,
 * if fewer than {@code maxDetached} threads are detached, the pool starts a replacement. So a fork
 * whose streams hang takes at most its own threads with it, not the other forks'. When a detached
 * job returns, its thread retires if the pool has {@code threads} serving threads without it.
 * Beyond {@code maxDetached}, no replacement starts: queued jobs wait for a thread (their time limit
 * is not running meanwhile). The pool thus never has more than {@code threads + maxDetached}
 * threads.
 *
 * <h2>Shutdown</h2>
 *
 * {@link #shutdown()} refuses new jobs and cancels the queued ones (each told once through {@link
 * Job#cancel}); running jobs finish. {@link #shutdownNow()} also interrupts the running ones (a
 * simulated crash or an engine already closed: channels closed by the interrupt no longer matter).
 *
 * <p>Thread-safe. One lock ({@code lock}) guards the ring, every lane's queue and the counters; it
 * is never held while a job runs or is cancelled. Threads are daemons named {@code
 * <prefix>-N}.
 */
public final class StreamPool {
  private static final Logger log = LoggerFactory.getLogger(StreamPool.class);
  /** How long an idle thread waits before it re-checks the pool's state, ms. */
  private static final long IDLE_WAIT_MS = 1_000;

  /** One unit of work in a lane. */
  interface Job {
    /** Position in its lane: lower starts first (a flush's seq). */
    long order();

    /** Runs on a pool thread; never throws (a throw is logged and swallowed). */
    void run(Running running);

    /** Called instead of {@link #run} when the job will never start (lane closed, shutdown). */
    void cancel(Throwable why);
  }

  /** The thread running one job, as its job sees it. */
  interface Running {
    /**
     * The job's owner has abandoned it: its thread no longer counts as a serving thread, and a
     * replacement starts if the bound allows. Idempotent; thread-safe; a no-op once the job
     * returned.
     */
    void detach();
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition workOrExit = lock.newCondition();
  private final Condition terminated = lock.newCondition();
  private final ThreadFactory threadFactory;
  private final int threads;
  private final int maxDetached;

  /** Lanes with queued jobs, each once, in turn order. */
  @GuardedBy("lock")
  private final ArrayDeque<Lane> ring = new ArrayDeque<>();

  @GuardedBy("lock")
  private final Set<Worker> workers = new HashSet<>();

  /** Workers running a job its owner abandoned. */
  @GuardedBy("lock")
  private int detached;

  @GuardedBy("lock")
  private boolean shutdown;

  @GuardedBy("lock")
  private long submissions;

  /**
   * Starts {@code threads} threads.
   *
   * @param namePrefix thread names are {@code <namePrefix>-N}
   * @param threads threads serving the lanes (at least 1)
   * @param maxDetached at most this many threads may be detached at once with a replacement started
   *     for each (0 = no replacements)
   */
  public StreamPool(String namePrefix, int threads, int maxDetached) {
    if (threads < 1 || maxDetached < 0) {
      throw new IllegalArgumentException("threads must be ≥ 1 and maxDetached ≥ 0");
    }
    this.threads = threads;
    this.maxDetached = maxDetached;
    this.threadFactory = new ThreadFactoryBuilder().setNameFormat(namePrefix + "-%d").setDaemon(true).build();
    lock.lock();
    try {
      for (int i = 0; i < threads; i++) {
        startWorkerLocked();
      }
    } finally {
      lock.unlock();
    }
  }

  /** A new, empty lane for one fork's streams; it needs no cleanup beyond {@link Lane#close}. */
  Lane newLane(String name) {
    return new Lane(name);
  }

  /** Threads alive right now (serving and detached). */
  public int threadCount() {
    lock.lock();
    try {
      return workers.size();
    } finally {
      lock.unlock();
    }
  }

  /** Threads running an abandoned job right now. */
  public int detachedCount() {
    lock.lock();
    try {
      return detached;
    } finally {
      lock.unlock();
    }
  }

  /** Refuses new jobs and cancels the queued ones; running jobs finish. Idempotent. */
  public void shutdown() {
    List<Job> cancelled;
    lock.lock();
    try {
      shutdown = true;
      cancelled = new ArrayList<>();
      for (Lane l : ring) {
        l.drainLocked(cancelled);
      }
      ring.clear();
      workOrExit.signalAll();
      signalIfTerminatedLocked();
    } finally {
      lock.unlock();
    }
    cancelAll(cancelled, new RejectedExecutionException("stream pool shut down"));
  }

  /** {@link #shutdown()}, then interrupts every running job (for a simulated crash). */
  public void shutdownNow() {
    shutdown();
    lock.lock();
    try {
      workers.forEach(w -> w.thread.interrupt());
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until every thread has exited after a shutdown.
   *
   * @return false if the time ran out first
   */
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long left = unit.toNanos(timeout);
    lock.lock();
    try {
      while (!(shutdown && workers.isEmpty())) {
        if (left <= 0) {
          return false;
        }
        left = terminated.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  @GuardedBy("lock")
  private void startWorkerLocked() {
    Worker w = new Worker();
    w.thread = threadFactory.newThread(w);
    workers.add(w);
    w.thread.start();
  }

  @GuardedBy("lock")
  private void signalIfTerminatedLocked() {
    if (shutdown && workers.isEmpty()) {
      terminated.signalAll();
    }
  }

  private static void cancelAll(List<Job> jobs, Throwable why) {
    for (Job j : jobs) {
      try {
        j.cancel(why);
      } catch (RuntimeException e) {
        log.warn("cancelling a queued stream failed: {}", e.toString());
      }
    }
  }

  /** One fork's queue. Thread-safe (the pool's lock). */
  final class Lane {
    private final String name;

    @GuardedBy("lock")
    private final PriorityQueue<Queued> queue =
        new PriorityQueue<>(Comparator.comparingLong(Queued::order).thenComparingLong(Queued::tick));

    @GuardedBy("lock")
    private boolean closed;

    private Lane(String name) {
      this.name = name;
    }

    /**
     * Queues {@code job} behind this lane's jobs of lower order.
     *
     * @throws RejectedExecutionException if the lane is closed or the pool shut down (the job is
     *     then not cancelled: the caller still owns it)
     */
    void submit(Job job) {
      lock.lock();
      try {
        if (closed || shutdown) {
          throw new RejectedExecutionException("stream lane '" + name + "' is closed");
        }
        boolean wasEmpty = queue.isEmpty();
        queue.add(new Queued(job, job.order(), submissions++));
        if (wasEmpty) {
          ring.addLast(this);
        }
        workOrExit.signal();
      } finally {
        lock.unlock();
      }
    }

    /** Cancels every job queued now (each told once); the lane stays open. */
    void cancelQueued(Throwable why) {
      List<Job> cancelled = new ArrayList<>();
      lock.lock();
      try {
        drainLocked(cancelled);
        ring.remove(this);
      } finally {
        lock.unlock();
      }
      cancelAll(cancelled, why);
    }

    /** Cancels the queued jobs and refuses later ones. Idempotent. */
    void close(Throwable why) {
      lock.lock();
      try {
        closed = true;
      } finally {
        lock.unlock();
      }
      cancelQueued(why);
    }

    /** Jobs queued, not yet started. */
    int queued() {
      lock.lock();
      try {
        return queue.size();
      } finally {
        lock.unlock();
      }
    }

    @GuardedBy("lock")
    private void drainLocked(List<Job> into) {
      Queued q;
      while ((q = queue.poll()) != null) {
        into.add(q.job());
      }
    }

    @Override
    public String toString() {
      return "Lane[" + name + "]";
    }
  }

  private record Queued(Job job, long order, long tick) {}

  private final class Worker implements Runnable {
    private Thread thread;

    /** Jobs started by this thread; names the current one for {@link #detach}. */
    @GuardedBy("lock")
    private long started;

    /** Inside a job. */
    @GuardedBy("lock")
    private boolean busy;

    /** The current job was abandoned by its owner. */
    @GuardedBy("lock")
    private boolean abandoned;

    @Override
    public void run() {
      try {
        Job job;
        while ((job = next()) != null) {
          long current;
          lock.lock();
          try {
            current = started;
          } finally {
            lock.unlock();
          }
          try {
            job.run(() -> detach(current));
          } catch (Throwable t) {
            log.error("stream job failed outside its own error handling", t);
          }
          if (!afterJob()) {
            return;
          }
        }
      } finally {
        lock.lock();
        try {
          workers.remove(this);
          if (abandoned) {
            detached--;
          }
          signalIfTerminatedLocked();
        } finally {
          lock.unlock();
        }
      }
    }

    /** The next job by the ring's turn, or null when the pool shuts down. */
    private Job next() {
      lock.lock();
      try {
        while (!shutdown) {
          Lane lane = ring.pollFirst();
          if (lane != null) {
            Queued q = lane.queue.poll();
            if (!lane.queue.isEmpty()) {
              ring.addLast(lane);
            }
            busy = true;
            started++;
            return q.job();
          }
          try {
            workOrExit.await(IDLE_WAIT_MS, TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            // Only shutdownNow interrupts; the loop re-checks the flag.
          }
        }
        return null;
      } finally {
        lock.unlock();
      }
    }

    /** After a job: false if this thread retires (it was a detached one and is not needed). */
    private boolean afterJob() {
      lock.lock();
      try {
        busy = false;
        if (!abandoned) {
          return true;
        }
        abandoned = false;
        detached--;
        // This thread serves again; it retires if the replacements already make up the number.
        return workers.size() - detached <= threads;
      } finally {
        lock.unlock();
      }
    }

    /** Detaches this thread if it is still running job number {@code job}. */
    private void detach(long job) {
      lock.lock();
      try {
        if (!busy || abandoned || started != job) {
          return;
        }
        abandoned = true;
        detached++;
        if (!shutdown && workers.size() - detached < threads && detached <= maxDetached) {
          startWorkerLocked();
        } else if (detached > maxDetached) {
          log.warn(
              "{} stream threads are running abandoned streams (bound {}); queued streams wait for a thread",
              detached,
              maxDetached);
        }
      } finally {
        lock.unlock();
      }
    }
  }
}
