package dev.strata.engine.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;
import net.jqwik.api.statistics.Statistics;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ordering, retry, back-pressure, drain and isolation logic of the flush pipeline, with fake
 * phases.
 */
class FlushCoordinatorTest {
  private StreamPool streams;
  private ExecutorService finalizers;
  private ScheduledExecutorService scheduler;

  @BeforeEach
  @BeforeProperty
  void start() {
    streams = new StreamPool("test-stream", 4, 4);
    finalizers = Executors.newFixedThreadPool(2);
    scheduler = Executors.newScheduledThreadPool(1);
  }

  @AfterEach
  @AfterProperty
  void stop() throws InterruptedException {
    streams.shutdownNow();
    finalizers.shutdownNow();
    scheduler.shutdownNow();
    assertThat(streams.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    for (StreamPool p : extraPools) {
      p.shutdownNow();
      assertThat(p.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
    extraPools.clear();
  }

  /** A fake fork: counts what is published and checks each publish extends the previous one. */
  private static final class Published {
    final List<Long> seqs = Collections.synchronizedList(new ArrayList<>());
    final AtomicLong lastCovered = new AtomicLong();
    final AtomicReference<String> violation = new AtomicReference<>();

    void publish(FlushTask<Long> task, Long out) {
      if (!out.equals(task.seq() * 10)) {
        violation.compareAndSet(null, "output of seq " + task.seq() + " was " + out);
      }
      long prev = lastCovered.getAndSet(task.coveredLsn());
      if (task.coveredLsn() < prev) {
        violation.compareAndSet(null, "covered LSN went back at seq " + task.seq());
      }
      seqs.add(task.seq());
    }
  }

  private final List<StreamPool> extraPools = new ArrayList<>();

  /** A stream pool of its own for one test, shut down after it. */
  private StreamPool pool(int threads, int maxDetached) {
    StreamPool p = new StreamPool("test-pool", threads, maxDetached);
    extraPools.add(p);
    return p;
  }

  private FlushCoordinator<Long, Long> coordinator(
      int permits,
      long timeoutMs,
      int retries,
      FlushCoordinator.StreamPhase<Long, Long> stream,
      Published published,
      List<Long> discarded,
      AtomicReference<Throwable> failed) {
    return coordinator("test", streams, permits, timeoutMs, retries, stream, published, discarded, failed);
  }

  private FlushCoordinator<Long, Long> coordinator(
      String fork,
      StreamPool pool,
      int permits,
      long timeoutMs,
      int retries,
      FlushCoordinator.StreamPhase<Long, Long> stream,
      Published published,
      List<Long> discarded,
      AtomicReference<Throwable> failed) {
    return new FlushCoordinator<>(
        new ReentrantLock(),
        fork,
        1,
        permits,
        timeoutMs,
        retries,
        5,
        pool,
        finalizers,
        scheduler,
        stream,
        published::publish,
        discarded::add,
        (seq, cause) -> failed.set(cause));
  }

  /**
   * Fork "x" on {@code pool}: one permit, a long time limit, and a stream that says it runs, then
   * holds its stream thread until {@code gate} opens.
   */
  private FlushCoordinator<Long, Long> blockedFork(StreamPool pool, CountDownLatch running, CountDownLatch gate) {
    return coordinator(
        "x",
        pool,
        1,
        60_000,
        0,
        (task, attempt) -> {
          running.countDown();
          gate.await(20, TimeUnit.SECONDS);
          return task.payload() * 10;
        },
        new Published(),
        new ArrayList<>(),
        new AtomicReference<>());
  }

  /** A stream phase that counts its calls in {@code calls} and succeeds at once. */
  private static FlushCoordinator.StreamPhase<Long, Long> counting(AtomicInteger calls) {
    return (task, attempt) -> {
      calls.incrementAndGet();
      return task.payload() * 10;
    };
  }

  private static FlushCoordinator.Rotation rotate(
      FlushCoordinator<Long, Long> c, AtomicLong lsn, long waitMs) throws InterruptedException {
    return c.rotate(waitMs, seq -> new FlushCoordinator.Swap<>(seq, lsn.addAndGet(3)));
  }

  /**
   * Streams finish in any order, publication is in seq order. The property counts the streams that
   * finished before an earlier seq's ({@code outOfOrder}) and requires some whenever two flushes
   * can be in flight: seq 1's last attempt waits for seq 2's stream to finish, so every such try
   * really exercises the reordering, and the random delays and failures reorder the rest.
   */
  @Property(tries = 25)
  void streamsFinishingInAnyOrderPublishInSeqOrder(
      @ForAll @IntRange(min = 1, max = 40) int flushes,
      @ForAll @IntRange(min = 1, max = 4) int permits,
      @ForAll long seed)
      throws Exception {
    Random random = new Random(seed);
    ConcurrentHashMap<Long, Integer> failuresLeft = new ConcurrentHashMap<>();
    for (long s = 1; s <= flushes; s++) {
      if (random.nextInt(4) == 0) {
        failuresLeft.put(s, 1 + random.nextInt(2));
      }
    }
    long[] delays = random.longs(flushes + 1, 0, 8).toArray();
    boolean mustReorder = permits >= 2 && flushes >= 2;
    CountDownLatch secondFinished = new CountDownLatch(1);
    List<Long> finished = Collections.synchronizedList(new ArrayList<>());
    Published published = new Published();
    List<Long> discarded = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failed = new AtomicReference<>();
    FlushCoordinator<Long, Long> c =
        coordinator(
            permits,
            10_000,
            3,
            (task, attempt) -> {
              Thread.sleep(delays[(int) task.seq()]);
              Integer left = failuresLeft.get(task.seq());
              if (left != null && attempt < left) {
                throw new IOException("injected failure of seq " + task.seq());
              }
              if (mustReorder && task.seq() == 1 && !secondFinished.await(5, TimeUnit.SECONDS)) {
                throw new IllegalStateException("seq 2 never finished its stream");
              }
              finished.add(task.seq());
              if (task.seq() == 2) {
                secondFinished.countDown();
              }
              return task.payload() * 10;
            },
            published,
            discarded,
            failed);
    AtomicLong lsn = new AtomicLong();
    List<Long> rotated = new ArrayList<>();
    for (int i = 0; i < flushes; i++) {
      rotated.add(rotate(c, lsn, 10_000).seq());
      assertThat(c.pendingFlushes()).isLessThanOrEqualTo(permits);
    }
    assertThat(c.drain(20_000)).isZero();
    assertThat(failed.get()).isNull();
    assertThat(published.violation.get()).isNull();
    assertThat(published.seqs).containsExactlyElementsOf(rotated);
    assertThat(rotated).isSorted();
    int outOfOrder = outOfOrder(finished);
    Statistics.label("streams finished before an earlier seq").collect(outOfOrder > 0 ? "some" : "none");
    assertThat(finished).containsExactlyInAnyOrderElementsOf(rotated);
    if (mustReorder) {
      assertThat(outOfOrder).as("streams finished out of seq order: %s", finished).isPositive();
    }
    // The finalizer gives the last permit back just after the drain sees zero in flight.
    Awaitility.await()
        .atMost(5, TimeUnit.SECONDS)
        .until(() -> c.availablePermits() == permits);
  }

  /** Streams that finished while a lower seq had not finished yet. */
  private static int outOfOrder(List<Long> finishOrder) {
    int n = 0;
    synchronized (finishOrder) {
      for (int i = 0; i < finishOrder.size(); i++) {
        for (int j = i + 1; j < finishOrder.size(); j++) {
          if (finishOrder.get(j) < finishOrder.get(i)) {
            n++;
            break;
          }
        }
      }
    }
    return n;
  }

  @Test
  void laterSeqsWaitForARetriedHole() throws Exception {
    CountDownLatch secondDone = new CountDownLatch(1);
    Published published = new Published();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    FlushCoordinator<Long, Long> c =
        coordinator(
            2,
            10_000,
            5,
            (task, attempt) -> {
              if (task.seq() == 1) {
                secondDone.await(5, TimeUnit.SECONDS);
                if (attempt < 2) {
                  throw new IOException("seq 1 fails twice");
                }
              } else {
                secondDone.countDown();
              }
              return task.payload() * 10;
            },
            published,
            new ArrayList<>(),
            failed);
    AtomicLong lsn = new AtomicLong();
    rotate(c, lsn, 1000);
    rotate(c, lsn, 1000);
    assertThat(c.drain(10_000)).isZero();
    assertThat(published.seqs).containsExactly(1L, 2L);
    assertThat(c.retryCount()).isEqualTo(2);
    assertThat(failed.get()).isNull();
  }

  @Test
  void permanentFailureFailsThePipelineAndPublishesNothingPastTheHole() throws Exception {
    Published published = new Published();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    List<Long> discarded = Collections.synchronizedList(new ArrayList<>());
    FlushCoordinator<Long, Long> c =
        coordinator(
            2,
            10_000,
            2,
            (task, attempt) -> {
              if (task.seq() == 1) {
                throw new IOException("disk on fire");
              }
              return task.payload() * 10;
            },
            published,
            discarded,
            failed);
    AtomicLong lsn = new AtomicLong();
    rotate(c, lsn, 1000);
    rotate(c, lsn, 1000);
    c.drain(10_000);
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> failed.get() != null);
    assertThat(failed.get()).hasMessageContaining("after 3 attempts").hasMessageContaining("disk on fire");
    assertThat(published.seqs).isEmpty();
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(20L));
    assertThatThrownBy(() -> rotate(c, lsn, 0))
        .isInstanceOf(StrataException.class)
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
  }

  @Test
  void aStreamThatTimesOutIsRetriedOnlyOnceItEndsAndItsLateOutputDiscarded() throws Exception {
    Published published = new Published();
    List<Long> discarded = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failed = new AtomicReference<>();
    AtomicInteger attempts = new AtomicInteger();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger mostAtOnce = new AtomicInteger();
    FlushCoordinator<Long, Long> c =
        coordinator(
            1,
            200,
            3,
            (task, attempt) -> {
              attempts.incrementAndGet();
              mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
              try {
                if (attempt == 0) {
                  // Ignores interruption on purpose: a stuck stream that still returns late.
                  long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(600);
                  while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                  }
                  return 999L;
                }
                return task.payload() * 10;
              } finally {
                running.decrementAndGet();
              }
            },
            published,
            discarded,
            failed);
    rotate(c, new AtomicLong(), 1000);
    assertThat(c.drain(10_000)).isZero();
    assertThat(failed.get()).isNull();
    assertThat(published.seqs).containsExactly(1L);
    assertThat(published.violation.get()).isNull();
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(999L));
    assertThat(attempts.get()).as("the abandoned attempt and one retry ran").isEqualTo(2);
    assertThat(mostAtOnce.get()).as("the retry waited for the abandoned attempt to end").isEqualTo(1);
  }

  /**
   * A seq whose stream hangs: its abandoned attempt keeps one thread, no retry of it ever runs (each
   * waits one time limit for that thread, then counts as failed), and the pipeline fails after its
   * retries. Today's code ran every retry alongside the hung attempt.
   */
  @Test
  void aHungStreamIsNeverRunTwiceAndFailsThePipelineAfterItsRetries() throws Exception {
    CountDownLatch hang = new CountDownLatch(1);
    AtomicInteger started = new AtomicInteger();
    Published published = new Published();
    List<Long> discarded = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failed = new AtomicReference<>();
    FlushCoordinator<Long, Long> c =
        coordinator(
            2,
            150,
            2,
            (task, attempt) -> {
              if (task.seq() == 1) {
                started.incrementAndGet();
                hang.await(20, TimeUnit.SECONDS);
              }
              return task.payload() * 10;
            },
            published,
            discarded,
            failed);
    AtomicLong lsn = new AtomicLong();
    rotate(c, lsn, 1000);
    rotate(c, lsn, 1000);
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> failed.get() != null);
    assertThat(failed.get()).hasMessageContaining("after 3 attempts").hasMessageContaining("still running");
    assertThat(started.get()).as("stream phases of seq 1 that ran").isEqualTo(1);
    assertThat(published.seqs).isEmpty();
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(20L));
    hang.countDown();
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(10L));
    assertThat(started.get()).isEqualTo(1);
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> streams.detachedCount() == 0);
  }

  /**
   * Defect 1 of issue 11 in the small: fork y's only stream is queued three times its time limit
   * behind fork x's long one (one stream thread, no replacements) and must still run once and
   * publish. Today's code started the timer at submission and failed y while it waited.
   */
  @Test
  void aStreamsTimeLimitCountsFromTheStartOfRunningNotFromQueueing() throws Exception {
    StreamPool one = pool(1, 0);
    CountDownLatch xRunning = new CountDownLatch(1);
    CountDownLatch xGate = new CountDownLatch(1);
    FlushCoordinator<Long, Long> x = blockedFork(one, xRunning, xGate);
    AtomicInteger yAttempts = new AtomicInteger();
    Published yPublished = new Published();
    AtomicReference<Throwable> yFailed = new AtomicReference<>();
    FlushCoordinator<Long, Long> y =
        coordinator(
            "y",
            one,
            1,
            300,
            2,
            counting(yAttempts),
            yPublished,
            Collections.synchronizedList(new ArrayList<>()),
            yFailed);
    rotate(x, new AtomicLong(), 1000);
    assertThat(xRunning.await(10, TimeUnit.SECONDS)).isTrue();
    rotate(y, new AtomicLong(), 1000);
    Thread.sleep(900); // three of y's time limits, queued behind x
    assertThat(yFailed.get()).isNull();
    assertThat(y.retryCount()).isZero();
    assertThat(yAttempts.get()).as("y's stream has not started").isZero();
    xGate.countDown();
    assertThat(y.drain(10_000)).isZero();
    assertThat(yFailed.get()).isNull();
    assertThat(yPublished.seqs).containsExactly(1L);
    assertThat(yAttempts.get()).isEqualTo(1);
    assertThat(y.retryCount()).isZero();
    assertThat(x.drain(10_000)).isZero();
  }

  /**
   * Fairness: fork x has nine streams queued, fork y one, on one stream thread. Round-robin lanes
   * start y's within one round (after at most one more of x's); today's FIFO pool ran all of x's
   * first.
   */
  @Test
  void forksTakeTurnsInTheStreamPool() throws Exception {
    StreamPool one = pool(1, 0);
    List<String> starts = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch xFirstRunning = new CountDownLatch(1);
    CountDownLatch xGate = new CountDownLatch(1);
    FlushCoordinator<Long, Long> x =
        coordinator(
            "x",
            one,
            10,
            60_000,
            0,
            (task, attempt) -> {
              starts.add("x" + task.seq());
              if (task.seq() == 1) {
                xFirstRunning.countDown();
                xGate.await(20, TimeUnit.SECONDS);
              }
              return task.payload() * 10;
            },
            new Published(),
            new ArrayList<>(),
            new AtomicReference<>());
    Published yPublished = new Published();
    FlushCoordinator<Long, Long> y =
        coordinator(
            "y",
            one,
            1,
            60_000,
            0,
            (task, attempt) -> {
              starts.add("y" + task.seq());
              return task.payload() * 10;
            },
            yPublished,
            new ArrayList<>(),
            new AtomicReference<>());
    AtomicLong xLsn = new AtomicLong();
    rotate(x, xLsn, 1000);
    assertThat(xFirstRunning.await(10, TimeUnit.SECONDS)).isTrue();
    for (int i = 0; i < 9; i++) {
      rotate(x, xLsn, 1000);
    }
    rotate(y, new AtomicLong(), 1000);
    xGate.countDown();
    assertThat(x.drain(20_000)).isZero();
    assertThat(y.drain(20_000)).isZero();
    assertThat(yPublished.seqs).containsExactly(1L);
    assertThat(starts).hasSize(11);
    assertThat(starts.indexOf("y1")).as("y's stream started in the first round: %s", starts).isLessThanOrEqualTo(2);
  }

  /**
   * Attempts queued when their pipeline closes are cancelled and never run (they report once, so
   * the close still completes). Today's pool ran them later and threw their segments away.
   */
  @Test
  void queuedAttemptsOfAClosedPipelineNeverRun() throws Exception {
    StreamPool one = pool(1, 0);
    CountDownLatch xRunning = new CountDownLatch(1);
    CountDownLatch xGate = new CountDownLatch(1);
    FlushCoordinator<Long, Long> x = blockedFork(one, xRunning, xGate);
    AtomicInteger yStarted = new AtomicInteger();
    List<Long> yDiscarded = Collections.synchronizedList(new ArrayList<>());
    FlushCoordinator<Long, Long> y =
        coordinator(
            "y",
            one,
            2,
            60_000,
            0,
            counting(yStarted),
            new Published(),
            yDiscarded,
            new AtomicReference<>());
    Published zPublished = new Published();
    FlushCoordinator<Long, Long> z =
        coordinator(
            "z", one, 1, 60_000, 0, (task, attempt) -> task.payload() * 10, zPublished, new ArrayList<>(),
            new AtomicReference<>());
    rotate(x, new AtomicLong(), 1000);
    assertThat(xRunning.await(10, TimeUnit.SECONDS)).isTrue();
    AtomicLong yLsn = new AtomicLong();
    rotate(y, yLsn, 1000);
    rotate(y, yLsn, 1000);
    assertThat(y.shutdown(50)).as("both of y's flushes were pending").isEqualTo(2);
    rotate(z, new AtomicLong(), 1000);
    xGate.countDown();
    // z was queued after y: had y's attempts still been queued, they would have run first.
    assertThat(z.drain(10_000)).isZero();
    assertThat(zPublished.seqs).containsExactly(1L);
    assertThat(yStarted.get()).as("stream phases of the closed pipeline that ran").isZero();
    assertThat(yDiscarded).isEmpty();
  }

  @Test
  void noPermitMeansAWriteStallThenResourceExhausted() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Published published = new Published();
    FlushCoordinator<Long, Long> c =
        coordinator(
            1,
            30_000,
            0,
            (task, attempt) -> {
              release.await(20, TimeUnit.SECONDS);
              return task.payload() * 10;
            },
            published,
            new ArrayList<>(),
            new AtomicReference<>());
    AtomicLong lsn = new AtomicLong();
    rotate(c, lsn, 1000);
    assertThat(c.tryRotate(seq -> new FlushCoordinator.Swap<>(seq, lsn.addAndGet(3))))
        .as("the interval trigger gives up at once")
        .isNull();
    assertThatThrownBy(() -> rotate(c, lsn, 0))
        .as("a zero wait refuses at once: back-pressure, never a silent no-op")
        .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED));
    assertThatThrownBy(() -> rotate(c, lsn, 150))
        .isInstanceOf(StrataException.class)
        .satisfies(
            e -> {
              StrataException se = (StrataException) e;
              assertThat(se.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
              assertThat(se.retryAfterMs()).isPositive();
            });
    assertThat(c.stallTimeMs()).isGreaterThanOrEqualTo(100);
    assertThat(c.drain(50)).as("drain times out with the flush pending").isEqualTo(1);
    release.countDown();
    assertThat(c.drain(10_000)).isZero();
    assertThat(published.seqs).containsExactly(1L);
  }

  @Test
  void anEmptySwapReturnsThePermit() throws Exception {
    FlushCoordinator<Long, Long> c =
        coordinator(
            1, 1000, 0, (t, a) -> t.payload() * 10, new Published(), new ArrayList<>(), new AtomicReference<>());
    assertThat(c.rotate(0, seq -> null)).isNull();
    assertThat(c.availablePermits()).isEqualTo(1);
  }
}
