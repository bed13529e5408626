package dev.strata.engine.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The ordering, retry, back-pressure and drain logic of the flush pipeline, with fake phases. */
class FlushCoordinatorTest {
  private ExecutorService streams;
  private ExecutorService finalizers;
  private ScheduledExecutorService scheduler;

  @BeforeEach
  @BeforeProperty
  void start() {
    streams = Executors.newFixedThreadPool(4);
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

  private FlushCoordinator<Long, Long> coordinator(
      int permits,
      long timeoutMs,
      int retries,
      FlushCoordinator.StreamPhase<Long, Long> stream,
      Published published,
      List<Long> discarded,
      AtomicReference<Throwable> failed) {
    return new FlushCoordinator<>(
        new ReentrantLock(),
        "test",
        1,
        permits,
        timeoutMs,
        retries,
        5,
        streams,
        finalizers,
        scheduler,
        stream,
        published::publish,
        discarded::add,
        (seq, cause) -> failed.set(cause));
  }

  private static FlushCoordinator.Rotation rotate(
      FlushCoordinator<Long, Long> c, AtomicLong lsn, long waitMs) throws InterruptedException {
    return c.rotate(waitMs, seq -> new FlushCoordinator.Swap<>(seq, lsn.addAndGet(3)));
  }

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
                throw new java.io.IOException("injected failure of seq " + task.seq());
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
    // The finalizer gives the last permit back just after the drain sees zero in flight.
    org.awaitility.Awaitility.await()
        .atMost(5, TimeUnit.SECONDS)
        .until(() -> c.availablePermits() == permits);
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
                  throw new java.io.IOException("seq 1 fails twice");
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
                throw new java.io.IOException("disk on fire");
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
    org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> failed.get() != null);
    assertThat(failed.get()).hasMessageContaining("after 3 attempts").hasMessageContaining("disk on fire");
    assertThat(published.seqs).isEmpty();
    org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(20L));
    assertThatThrownBy(() -> rotate(c, lsn, 0))
        .isInstanceOf(StrataException.class)
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
  }

  @Test
  void aStreamThatTimesOutIsRetriedAndItsLateOutputDiscarded() throws Exception {
    Published published = new Published();
    List<Long> discarded = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failed = new AtomicReference<>();
    AtomicInteger attempts = new AtomicInteger();
    FlushCoordinator<Long, Long> c =
        coordinator(
            1,
            200,
            3,
            (task, attempt) -> {
              attempts.incrementAndGet();
              if (attempt == 0) {
                // Ignores interruption on purpose: a stuck stream that still returns late.
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(600);
                while (System.nanoTime() < until) {
                  Thread.onSpinWait();
                }
                return 999L;
              }
              return task.payload() * 10;
            },
            published,
            discarded,
            failed);
    rotate(c, new AtomicLong(), 1000);
    assertThat(c.drain(10_000)).isZero();
    assertThat(published.seqs).containsExactly(1L);
    assertThat(published.violation.get()).isNull();
    org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> discarded.contains(999L));
    assertThat(attempts.get()).isEqualTo(2);
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
