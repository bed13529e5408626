package dev.strata.server;

import dev.strata.api.v1.ErrorReason;
import dev.strata.engine.fork.WriteExecutors;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Where an RPC's work runs (docs/architecture.md, "Threads"). Every handler is called on a Netty
 * event loop (the server's executor is {@code directExecutor()}), and cheap calls that never wait
 * — Get, BatchGet of a few ids, health, metadata reads, a Write's validation — answer there, with
 * no thread hand-off. Work that can take long goes to one of four bounded pools, owned here:
 *
 * <table>
 *   <caption>Pools</caption>
 *   <tr><th>pool</th><th>threads</th><th>runs</th></tr>
 *   <tr><td>{@code strata-read-N}</td><td>{@code server.read_threads}</td><td>CPU-bound reads: Search,
 *       Scan, DiffSnapshots, large BatchGets, reads at an older snapshot, snapshot listings, Stats</td></tr>
 *   <tr><td>{@code strata-write-N}</td><td>{@code server.write_threads}</td><td>WAL appends of Write
 *       (an appender may lead a group-commit write and fsync) and their apply to L0</td></tr>
 *   <tr><td>{@code strata-write-stall-N}</td><td>{@code server.threads}</td><td>writes that must wait:
 *       a full L0 (write stall) or a fork whose WAL is slow</td></tr>
 *   <tr><td>{@code strata-rpc-N}</td><td>{@code server.threads}</td><td>calls that wait on I/O or a
 *       permit: Flush, CreateOrGetCollection, forks, tags, Compact, Verify, WatchSnapshots' replay</td></tr>
 * </table>
 *
 * Each pool has a bounded queue ({@link #QUEUE}); when it is full the call gets RESOURCE_EXHAUSTED
 * (reason {@code SERVER_BUSY}, metadata {@code pool}: {@code read}, {@code write}, {@code
 * write-stall} or {@code rpc}; RetryInfo and {@code grpc-retry-pushback-ms}), never a thread or
 * memory without bound. Work handed to a pool runs in the call's {@link Context}, so deadlines and
 * cancellation still reach it; a call already cancelled when its turn comes is not started.
 *
 * <p>Thread-safe. The pools are stopped by {@link #shutdownNow} (the server's shutdown).
 */
final class CallExecutors {
  /** Queued tasks per pool beyond which calls are refused with RESOURCE_EXHAUSTED. */
  static final int QUEUE = 1024;
  /** The retry delay a refusal suggests, ms. */
  static final long BUSY_RETRY_MS = 50;

  final ThreadPoolExecutor reads;
  final ThreadPoolExecutor appends;
  final ThreadPoolExecutor stalls;
  final ThreadPoolExecutor blocking;
  /** The engine's view of the two write pools. */
  final WriteExecutors writes;

  private final LongAdder expiredWhileQueued = new LongAdder();

  CallExecutors(int readThreads, int writeThreads, int blockingThreads) {
    this.reads = bounded("strata-read-", readThreads);
    this.appends = bounded("strata-write-", writeThreads);
    this.stalls = bounded("strata-write-stall-", blockingThreads);
    this.blocking = bounded("strata-rpc-", blockingThreads);
    this.writes = new WriteExecutors(appends, stalls);
  }

  private static ThreadPoolExecutor bounded(String prefix, int threads) {
    ThreadPoolExecutor p =
        new ThreadPoolExecutor(
            threads, threads, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), daemonThreads(prefix));
    p.allowCoreThreadTimeOut(true); // an idle server keeps no threads it does not use
    return p;
  }

  /**
   * Runs {@code body} on {@code pool} in the call's context and answers {@code observer} with its
   * result or mapped status ({@link Rpc#unary}); RESOURCE_EXHAUSTED at once if the pool is full.
   *
   * @param pool one of this object's pools, or null to run {@code body} on the calling thread
   */
  <T> void unary(ThreadPoolExecutor pool, StreamObserver<T> observer, String invalidField, Supplier<T> body) {
    if (pool == null) {
      Rpc.unary(observer, invalidField, body);
      return;
    }
    run(pool, observer, () -> Rpc.unary(observer, invalidField, body));
  }

  /**
   * Runs {@code task} (which answers {@code observer} itself) on {@code pool} in the call's
   * context; skipped if the call is cancelled by its turn; RESOURCE_EXHAUSTED at once if the pool
   * is full.
   */
  void run(ThreadPoolExecutor pool, StreamObserver<?> observer, Runnable task) {
    Context context = Context.current();
    try {
      pool.execute(
          context.wrap(
              () -> {
                if (context.isCancelled()) {
                  expiredWhileQueued.increment();
                } else {
                  task.run();
                }
              }));
    } catch (RejectedExecutionException e) {
      Rpc.fail(observer, busy(pool), "");
    }
  }

  /** RESOURCE_EXHAUSTED (SERVER_BUSY) for a full pool, with a retry delay. */
  static StatusRuntimeException busy(ThreadPoolExecutor pool) {
    String name = poolName(pool);
    return StatusMapper.build(
        Status.Code.RESOURCE_EXHAUSTED,
        "server busy: " + pool.getQueue().size() + " calls already wait for the " + name
            + " threads; retry later",
        ErrorReason.SERVER_BUSY,
        Map.of("pool", name),
        List.of(),
        BUSY_RETRY_MS);
  }

  /** The pool's name in statuses: {@code read}, {@code write}, {@code write-stall}, {@code rpc}. */
  private static String poolName(ThreadPoolExecutor pool) {
    ThreadFactory f = pool.getThreadFactory();
    if (!(f instanceof Named n)) {
      return "server";
    }
    String name = n.prefix.substring(0, n.prefix.length() - 1);
    return name.startsWith("strata-") ? name.substring("strata-".length()) : name;
  }

  /** Calls whose deadline passed or which were cancelled while queued: skipped, never run. */
  long expiredWhileQueued() {
    return expiredWhileQueued.sum();
  }

  /** Stops every pool at once (interrupting running work) and waits up to 5 s for each. */
  void shutdownNow() {
    for (ThreadPoolExecutor p : List.of(reads, appends, stalls, blocking)) {
      p.shutdownNow();
    }
    for (ThreadPoolExecutor p : List.of(reads, appends, stalls, blocking)) {
      try {
        p.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Daemon threads named {@code prefix} + a counter. */
  static ThreadFactory daemonThreads(String prefix) {
    return new Named(prefix);
  }

  private static final class Named implements ThreadFactory {
    private final String prefix;
    private final AtomicInteger n = new AtomicInteger();

    Named(String prefix) {
      this.prefix = prefix;
    }

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    }
  }
}
