package dev.strata.bench.engine;

import dev.strata.bench.LongSamples;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One thread ({@code load-flusher}) asking the fork for a flush every {@code everyMs} and timing
 * each ticket: from the moment {@code Fork.flush} is called (so a wait for a flush permit counts)
 * until {@code awaitTicket}'s future completes (the covering snapshot is published). Open loop:
 * it does not wait for a ticket before asking for the next flush, only for {@code flush()} itself
 * to return, which blocks while every permit is taken.
 *
 * <p>Thread-safety: {@code start} and {@code stop} from one controlling thread.
 */
final class FlushProbe {
  private final Fork fork;
  private final long everyMs;
  private final long permitWaitMs;
  private final Thread thread;
  private final LongSamples ticketNanos = new LongSamples(); // guarded by itself
  private final LongSamples flushCallNanos = new LongSamples(); // flusher thread only
  private final AtomicInteger outstanding = new AtomicInteger();
  private final AtomicLong ticketErrors = new AtomicLong();
  private final AtomicReference<String> firstError = new AtomicReference<>();
  private volatile boolean stop;

  FlushProbe(Fork fork, long everyMs, long permitWaitMs) {
    this.fork = fork;
    this.everyMs = everyMs;
    this.permitWaitMs = permitWaitMs;
    this.thread = new Thread(this::run, "load-flusher");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void run() {
    long next = System.nanoTime();
    while (!stop) {
      long t0 = System.nanoTime();
      try {
        FlushTicket ticket = fork.flush(permitWaitMs);
        flushCallNanos.add(System.nanoTime() - t0);
        outstanding.incrementAndGet();
        fork.awaitTicket(ticket)
            .whenComplete(
                (manifest, err) -> {
                  long dt = System.nanoTime() - t0;
                  if (err == null) {
                    synchronized (ticketNanos) {
                      ticketNanos.add(dt);
                    }
                  } else {
                    ticketErrors.incrementAndGet();
                    firstError.compareAndSet(null, "ticket: " + err);
                  }
                  outstanding.decrementAndGet();
                });
      } catch (RuntimeException e) {
        ticketErrors.incrementAndGet();
        firstError.compareAndSet(null, "flush(): " + e);
      }
      next += TimeUnit.MILLISECONDS.toNanos(everyMs);
      long sleep = next - System.nanoTime();
      if (sleep > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(sleep);
        } catch (InterruptedException e) {
          return;
        }
      } else {
        next = System.nanoTime(); // flush() blocked past the period: no catch-up burst
      }
    }
  }

  /**
   * Stops asking for flushes, then waits up to {@code awaitMs} for the tickets already issued (the
   * writers should be stopped first, so the pipeline drains).
   */
  Result stop(long awaitMs) throws InterruptedException {
    stop = true;
    thread.join(120_000);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(awaitMs);
    while (outstanding.get() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    LongSamples tickets = new LongSamples();
    synchronized (ticketNanos) {
      tickets.addAll(ticketNanos);
    }
    return new Result(
        tickets, flushCallNanos, ticketErrors.get(), outstanding.get(), firstError.get());
  }

  /**
   * @param ticketNanos flush() call to ticket resolution, per resolved ticket
   * @param flushCallNanos duration of each {@code flush()} call (mostly waiting for a permit)
   * @param errors failed flush() calls and failed tickets
   * @param unresolved tickets still open when {@link #stop} gave up waiting
   * @param firstError the first failure, or null
   */
  record Result(
      LongSamples ticketNanos, LongSamples flushCallNanos, long errors, int unresolved, String firstError) {}
}
