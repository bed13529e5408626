package dev.strata.bench.compaction;

import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.wal.Durability;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Open-loop, rate-limited ingest of corpus documents into one fork: batch {@code j} (documents
 * {@code j·batchDocs … j·batchDocs + batchDocs − 1}) is due at {@code start + j · batchDocs /
 * offeredDocsPerSec} seconds, whoever of the {@code writers} threads takes it; a writer sleeps
 * until its batch is due and sends it at once if it is late. So the offered load is the same
 * whatever the engine does, up to {@code writers} writes in flight, and a backlog shows as
 * latency from the due time. Writers stop at the end time, late batches included (they are
 * counted as not sent).
 *
 * <p>Two latencies per acknowledged write, both in nanoseconds into HdrHistogram {@link Recorder}s
 * (3 significant digits): <b>service</b>, from the first {@code Fork.write} call to its return
 * (retries after RESOURCE_EXHAUSTED included), and <b>from due</b>, from the batch's due time to
 * the return, which also counts the time the batch waited for a free writer (coordinated omission
 * corrected). A write refused with RESOURCE_EXHAUSTED is retried after the suggested delay;
 * FAILED_PRECONDITION or UNAVAILABLE ends that writer; anything else is counted and the batch
 * dropped.
 *
 * <p>Thread-safety: {@link #start} and {@link #stop} from one controlling thread; the recorders,
 * counters and {@link #ackedBatches} may be read from any thread meanwhile.
 */
final class SoakLoad {
  private final Fork fork;
  private final String collection;
  private final Corpus corpus;
  private final int batchDocs;
  private final Durability durability;
  private final double nanosPerBatch;
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicLong nextBatch = new AtomicLong();
  private final BitSet acked = new BitSet();
  final Recorder service = new Recorder(3);
  final Recorder fromDue = new Recorder(3);
  final LongAdder docs = new LongAdder();
  final LongAdder writes = new LongAdder();
  /** Batches given up on (an error other than RESOURCE_EXHAUSTED, or the end time reached). */
  final LongAdder dropped = new LongAdder();
  private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private volatile boolean fatal;
  private long startNanos;
  private long endNanos;

  /**
   * @param offeredDocsPerSec documents per second offered, over all writers
   * @param batchDocs documents per {@code Fork.write} call (one WAL record, applied atomically)
   */
  SoakLoad(
      Fork fork,
      String collection,
      Corpus corpus,
      int writers,
      int batchDocs,
      double offeredDocsPerSec,
      Durability durability) {
    this.fork = fork;
    this.collection = collection;
    this.corpus = corpus;
    this.batchDocs = batchDocs;
    this.durability = durability;
    this.nanosPerBatch = 1e9 * batchDocs / offeredDocsPerSec;
    for (int w = 0; w < writers; w++) {
      Thread t = new Thread(this::run, "soak-writer-" + w);
      t.setDaemon(true);
      threads.add(t);
    }
  }

  /** Starts the writers now; they stop by themselves {@code seconds} later. */
  void start(double seconds) {
    startNanos = System.nanoTime();
    endNanos = startNanos + (long) (seconds * 1e9);
    threads.forEach(Thread::start);
  }

  long startNanos() {
    return startNanos;
  }

  private void run() {
    while (true) {
      long j = nextBatch.getAndIncrement();
      long due = startNanos + (long) (j * nanosPerBatch);
      if (fatal || due >= endNanos || System.nanoTime() >= endNanos) {
        return;
      }
      long wait;
      while ((wait = due - System.nanoTime()) > 0) {
        LockSupport.parkNanos(wait);
      }
      List<Mutation> batch = new ArrayList<>(batchDocs);
      for (int i = 0; i < batchDocs; i++) {
        batch.add(new Mutation.Put(corpus.document(j * batchDocs + i)));
      }
      long t0 = System.nanoTime();
      if (!writeWithRetry(batch)) {
        dropped.increment();
        continue;
      }
      long t1 = System.nanoTime();
      service.recordValue(t1 - t0);
      fromDue.recordValue(Math.max(0, t1 - due));
      docs.add(batchDocs);
      writes.increment();
      synchronized (acked) {
        acked.set((int) j);
      }
    }
  }

  /** True if the batch was acknowledged. */
  private boolean writeWithRetry(List<Mutation> batch) {
    while (true) {
      try {
        fork.write(collection, batch, durability);
        return true;
      } catch (StrataException e) {
        count(e.kind().name());
        switch (e.kind()) {
          case RESOURCE_EXHAUSTED -> {
            if (System.nanoTime() >= endNanos) {
              return false;
            }
            LockSupport.parkNanos(Math.min(1000, Math.max(1, e.retryAfterMs())) * 1_000_000L);
          }
          case FAILED_PRECONDITION, UNAVAILABLE -> { // read-only, dropping or closed: stop loading
            fatal = true;
            firstError.compareAndSet(null, e.kind() + ": " + e.getMessage());
            return false;
          }
          default -> {
            firstError.compareAndSet(null, e.kind() + ": " + e.getMessage());
            return false;
          }
        }
      } catch (RuntimeException e) {
        count(e.getClass().getSimpleName());
        firstError.compareAndSet(null, e.toString());
        return false;
      }
    }
  }

  private void count(String kind) {
    errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
  }

  /** Waits for every writer to exit (they stop at the end time by themselves). */
  void stop() throws InterruptedException {
    for (Thread t : threads) {
      t.join(Math.max(1, (endNanos - System.nanoTime()) / 1_000_000) + 120_000);
      if (t.isAlive()) {
        throw new IllegalStateException(t.getName() + " did not stop within 120 s of the end");
      }
    }
  }

  /** Batches due before the end that no writer sent (the backlog at the end). */
  long batchesNotSent() {
    long dueBeforeEnd = (long) Math.ceil((endNanos - startNanos) / nanosPerBatch);
    long sent;
    synchronized (acked) {
      sent = acked.cardinality();
    }
    return Math.max(0, dueBeforeEnd - sent - dropped.sum());
  }

  /** A copy of the indices of acknowledged batches. */
  BitSet ackedBatches() {
    synchronized (acked) {
      return (BitSet) acked.clone();
    }
  }

  int batchDocs() {
    return batchDocs;
  }

  /** Failed attempts by kind (a retried RESOURCE_EXHAUSTED counts once per attempt). */
  Map<String, Long> errors() {
    Map<String, Long> out = new TreeMap<>();
    errors.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  String firstError() {
    return firstError.get();
  }

  /** An empty histogram of the recorders' precision, to accumulate interval histograms into. */
  static Histogram newTotal() {
    return new Histogram(3);
  }
}
