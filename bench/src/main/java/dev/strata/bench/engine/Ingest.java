package dev.strata.bench.engine;

import dev.strata.bench.LongSamples;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.wal.Durability;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code writers} threads ({@code load-writer-N}) putting batches of new documents into one fork
 * as fast as the fork accepts them, from {@link #start} until {@link #stop}. Every failed write is
 * counted by kind and the first one kept. A write refused with RESOURCE_EXHAUSTED (write stall
 * timeout) is retried after the suggested delay; FAILED_PRECONDITION or UNAVAILABLE (read-only,
 * dropping, closed) ends that writer, as spinning on such a fork would measure nothing; anything
 * else is counted and the writer goes on.
 *
 * <p>Thread-safety: {@code start} and {@code stop} from one controlling thread.
 */
final class Ingest {
  private final Fork fork;
  private final String collection;
  private final DocumentSource docs;
  private final int batchDocs;
  private final Durability durability;
  private final List<Thread> threads = new ArrayList<>();
  private final List<long[]> counts = new ArrayList<>(); // per writer: docs, writes
  private final List<LongSamples> latencies = new ArrayList<>();
  private final List<Map<String, Long>> errors = new ArrayList<>();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private volatile boolean stop;
  private long startNanos;

  /**
   * @param batchDocs documents per {@code Fork.write} call (one WAL record each)
   */
  Ingest(Fork fork, String collection, DocumentSource docs, int writers, int batchDocs, Durability durability) {
    this.fork = fork;
    this.collection = collection;
    this.docs = docs;
    this.batchDocs = batchDocs;
    this.durability = durability;
    for (int w = 0; w < writers; w++) {
      int writer = w;
      long[] c = new long[2];
      LongSamples lat = new LongSamples();
      Map<String, Long> err = new TreeMap<>();
      counts.add(c);
      latencies.add(lat);
      errors.add(err);
      Thread t = new Thread(() -> run(writer, c, lat, err), "load-writer-" + w);
      t.setDaemon(true);
      threads.add(t);
    }
  }

  void start() {
    startNanos = System.nanoTime();
    threads.forEach(Thread::start);
  }

  private void run(int writer, long[] c, LongSamples lat, Map<String, Long> err) {
    long seq = 0;
    while (!stop) {
      var batch = docs.puts(writer, seq, batchDocs);
      long t0 = System.nanoTime();
      try {
        fork.write(collection, batch, durability);
        lat.add(System.nanoTime() - t0);
        seq += batchDocs;
        c[0] += batchDocs;
        c[1]++;
      } catch (StrataException e) {
        err.merge(e.kind().name(), 1L, Long::sum);
        switch (e.kind()) {
          case RESOURCE_EXHAUSTED -> sleepMs(Math.min(1000, Math.max(1, e.retryAfterMs())));
          case FAILED_PRECONDITION, UNAVAILABLE -> {
            firstError.compareAndSet(null, e.kind() + ": " + e.getMessage());
            return; // read-only, dropping or closed: nothing more to measure
          }
          default -> firstError.compareAndSet(null, e.kind() + ": " + e.getMessage());
        }
      } catch (RuntimeException e) {
        // Not part of the engine's contract: count it, keep the first, and carry on loading.
        err.merge(e.getClass().getSimpleName(), 1L, Long::sum);
        firstError.compareAndSet(null, e.toString());
      }
    }
  }

  /** Stops the writers (each finishes its current write), joins them and sums up. */
  Result stop() throws InterruptedException {
    stop = true;
    for (Thread t : threads) {
      t.join(120_000);
      if (t.isAlive()) {
        throw new IllegalStateException(t.getName() + " did not stop within 120 s");
      }
    }
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    long d = 0;
    long w = 0;
    LongSamples all = new LongSamples();
    Map<String, Long> err = new TreeMap<>();
    for (int i = 0; i < threads.size(); i++) {
      d += counts.get(i)[0];
      w += counts.get(i)[1];
      all.addAll(latencies.get(i));
      errors.get(i).forEach((k, v) -> err.merge(k, v, Long::sum));
    }
    return new Result(d, w, seconds, all, err, firstError.get());
  }

  private static void sleepMs(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * @param docs documents written (acknowledged)
   * @param writes acknowledged {@code Fork.write} calls
   * @param seconds from start to the last writer's exit
   * @param writeNanos latency of every acknowledged write
   * @param errors failed writes by kind
   * @param firstError the first failure that stopped a writer, or null
   */
  record Result(
      long docs, long writes, double seconds, LongSamples writeNanos, Map<String, Long> errors, String firstError) {}
}
