package dev.strata.bench.peers;

import dev.strata.bench.LongSamples;
import io.grpc.StatusRuntimeException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A closed-loop load: {@code clients} threads, each with its own {@link Client} (connection), call
 * back to back for a warm-up and then a measured window. Only calls that start inside the window
 * are counted and timed. Errors are counted by kind and do not stop the run.
 */
public final class ClosedLoop {
  private ClosedLoop() {}

  /** One client's connection or session. Used by one thread only. */
  public interface Client extends AutoCloseable {
    /**
     * Makes one call (one write, get, search, …).
     *
     * @param rnd this client's seeded random source
     * @return the units the call did: documents written, documents read, hits returned
     */
    int call(SplittableRandom rnd) throws Exception;

    @Override
    default void close() throws Exception {}
  }

  /** Opens the client of thread {@code index} (0-based). Called from one thread, before the run. */
  @FunctionalInterface
  public interface ClientFactory {
    Client open(int index) throws Exception;
  }

  /**
   * What one run measured.
   *
   * @param seconds the measured window, in seconds
   * @param ops calls that started and finished in the window
   * @param units the units those calls returned
   * @param p50Us median call latency, microseconds
   * @param p99Us 99th percentile call latency, microseconds
   * @param errors failed calls by kind (gRPC status code or exception class)
   * @param clientCpuUsPerOp CPU time of the calling threads per counted call, microseconds
   *     ({@code ThreadMXBean} thread CPU time over the window): for an in-process side that is the
   *     whole cost of a call, and unlike calls/s it does not move when other processes take the
   *     cores; for a network side it is the client's share only
   */
  public record Result(
      int clients,
      double seconds,
      long ops,
      long units,
      double p50Us,
      double p99Us,
      Map<String, Long> errors,
      String firstError,
      double clientCpuUsPerOp) {

    /** Calls per second. */
    public double opsPerSec() {
      return ops / seconds;
    }

    /** Units per second. */
    public double unitsPerSec() {
      return units / seconds;
    }

    /** The number of failed calls. */
    public long errorCount() {
      return errors.values().stream().mapToLong(Long::longValue).sum();
    }
  }

  /**
   * Runs the load.
   *
   * @param warmupSeconds calls before the window, not counted
   * @param seconds the measured window
   * @param seed seeds the clients' random sources (client {@code i} gets {@code seed + i})
   */
  public static Result run(ClientFactory factory, int clients, double warmupSeconds, double seconds, long seed)
      throws Exception {
    List<Client> opened = new ArrayList<>();
    try {
      for (int i = 0; i < clients; i++) {
        opened.add(factory.open(i));
      }
      return runOpened(opened, warmupSeconds, seconds, seed);
    } finally {
      Exception first = null;
      for (Client c : opened) {
        try {
          c.close();
        } catch (Exception e) {
          first = first == null ? e : first;
        }
      }
      if (first != null) {
        throw first;
      }
    }
  }

  private static Result runOpened(List<Client> clients, double warmupSeconds, double seconds, long seed)
      throws InterruptedException {
    int n = clients.size();
    // 0 = warm-up, 1 = measuring, 2 = stopped; read by every thread before each call.
    AtomicInteger phase = new AtomicInteger();
    LongSamples[] latencies = new LongSamples[n];
    long[] ops = new long[n];
    long[] units = new long[n];
    List<Map<String, Long>> errors = new ArrayList<>();
    AtomicReference<String> firstError = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(n);
    List<Thread> threads = new ArrayList<>();
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long[] cpuNanos = new long[n];
    for (int i = 0; i < n; i++) {
      int idx = i;
      latencies[i] = new LongSamples();
      Map<String, Long> err = new TreeMap<>();
      errors.add(err);
      Thread t =
          Thread.ofPlatform()
              .name("closed-loop-" + i)
              .daemon(true)
              .unstarted(
                  () -> {
                    SplittableRandom rnd = new SplittableRandom(seed + idx);
                    Client c = clients.get(idx);
                    long cpuAtStart = -1;
                    try {
                      while (true) {
                        int p = phase.get();
                        if (p == 2) {
                          if (cpuAtStart >= 0) {
                            cpuNanos[idx] = mx.getCurrentThreadCpuTime() - cpuAtStart;
                          }
                          return;
                        }
                        if (p == 1 && cpuAtStart < 0) {
                          cpuAtStart = mx.getCurrentThreadCpuTime();
                        }
                        long t0 = System.nanoTime();
                        try {
                          int u = c.call(rnd);
                          long t1 = System.nanoTime();
                          if (p == 1) {
                            latencies[idx].add(t1 - t0);
                            ops[idx]++;
                            units[idx] += u;
                          }
                        } catch (Exception | Error e) {
                          err.merge(kindOf(e), 1L, Long::sum);
                          firstError.compareAndSet(null, kindOf(e) + ": " + e.getMessage());
                          Thread.sleep(1); // a failing peer must not turn into a hot loop
                        }
                      }
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    } finally {
                      done.countDown();
                    }
                  });
      threads.add(t);
    }
    threads.forEach(Thread::start);
    Thread.sleep((long) (warmupSeconds * 1000));
    long windowStartNanos = System.nanoTime();
    phase.set(1);
    Thread.sleep((long) (seconds * 1000));
    phase.set(2);
    long windowNanos = System.nanoTime() - windowStartNanos;
    done.await();
    for (Thread t : threads) {
      t.join();
    }
    LongSamples all = new LongSamples();
    long totalOps = 0;
    long totalUnits = 0;
    Map<String, Long> allErrors = new TreeMap<>();
    long totalCpuNanos = 0;
    for (int i = 0; i < n; i++) {
      totalCpuNanos += cpuNanos[i];
      all.addAll(latencies[i]);
      totalOps += ops[i];
      totalUnits += units[i];
      errors.get(i).forEach((k, v) -> allErrors.merge(k, v, Long::sum));
    }
    return new Result(
        n,
        windowNanos / 1e9,
        totalOps,
        totalUnits,
        all.percentile(50) / 1e3,
        all.percentile(99) / 1e3,
        allErrors,
        firstError.get(),
        totalOps == 0 ? Double.NaN : totalCpuNanos / 1e3 / totalOps);
  }

  private static String kindOf(Throwable e) {
    if (e instanceof StatusRuntimeException s) {
      return s.getStatus().getCode().name();
    }
    return e.getClass().getSimpleName();
  }
}
