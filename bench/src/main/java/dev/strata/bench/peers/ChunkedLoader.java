package dev.strata.bench.peers;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bulk loading of a range of corpus replicas by several threads: each thread opens its own writer
 * (connection) and takes the next chunk {@code [start, end)} until the range is done. The first
 * failure is thrown after every thread has stopped.
 */
final class ChunkedLoader {
  private ChunkedLoader() {}

  /** One thread's writer. */
  interface Writer extends AutoCloseable {
    /** Writes replicas {@code [start, end)}. */
    void write(long start, long end) throws Exception;

    @Override
    default void close() throws Exception {}
  }

  /** Opens the writer of one thread. */
  @FunctionalInterface
  interface WriterFactory {
    Writer open() throws Exception;
  }

  /** Writes {@code [from, to)} in chunks of {@code chunk} with {@code threads} writers. */
  static void run(long from, long to, int chunk, int threads, WriterFactory factory) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      AtomicLong next = new AtomicLong(from);
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        fs.add(pool.submit(() -> {
          try (Writer w = factory.open()) {
            long start;
            while ((start = next.getAndAdd(chunk)) < to) {
              w.write(start, Math.min(to, start + chunk));
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
