package dev.strata.engine.fork;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushCoordinator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The two write stalls: L0 full (rotate, wait for a permit) and too many segments (wait for compaction). */
class WriteControllerTest {
  private static final long L0_MAX = 1_000;
  private static final int STOP_SEGMENTS = 4;

  private final AtomicLong activeBytes = new AtomicLong();
  private final AtomicInteger headSegments = new AtomicInteger();
  private final AtomicInteger rotations = new AtomicInteger();
  private final ForkLifecycle lifecycle = new ForkLifecycle("f");
  /** No global L0 bound: these tests are about the fork's own stalls. */
  private static final WriteBufferManager NO_BUDGET = new WriteBufferManager(0);

  /** A rotate that empties the active buffer, as a real one swaps in a fresh buffer. */
  private FlushCoordinator.Rotation rotate(long permitWaitMs, boolean onlyIfFull) {
    assertThat(onlyIfFull).as("a stalled writer rotates only if still full").isTrue();
    rotations.incrementAndGet();
    activeBytes.set(0);
    return new FlushCoordinator.Rotation(rotations.get(), 10L * rotations.get());
  }

  private WriteController controller(long stallTimeoutMs, WriteController.Rotator rotator) {
    return new WriteController(
        "f", L0_MAX, stallTimeoutMs, STOP_SEGMENTS, activeBytes::get, headSegments::get, rotator, lifecycle,
        NO_BUDGET, activeBytes::get, activeBytes::get, () -> false);
  }

  @Test
  void belowTheL0LimitAWriteNeverStallsNorRotates() {
    WriteController wc = controller(1_000, this::rotate);
    activeBytes.set(L0_MAX - 1);
    headSegments.set(STOP_SEGMENTS + 10); // only looked at when the writer must rotate
    wc.beforeWrite();
    assertThat(rotations).hasValue(0);
    assertThat(wc.segmentStalls()).isZero();
  }

  @Test
  void aFullL0RotatesOnceAndTheWriteGoesOn() {
    WriteController wc = controller(1_000, this::rotate);
    activeBytes.set(L0_MAX);
    wc.beforeWrite();
    assertThat(rotations).hasValue(1);
    assertThat(activeBytes).hasValue(0);
  }

  @Test
  void noPermitInTimeIsResourceExhaustedWithARetryDelay() {
    StrataException overloaded = StrataException.overloaded("all permits busy", 250);
    WriteController wc =
        controller(
            2_500,
            (wait, onlyIfFull) -> {
              assertThat(wait).as("the rotate waits the stall timeout").isEqualTo(2_500);
              throw overloaded;
            });
    activeBytes.set(L0_MAX);
    assertThatThrownBy(wc::beforeWrite).isSameAs(overloaded);
  }

  @Test
  void anotherWriterRotatedFirstSoNothingIsLeftToDo() {
    WriteController wc =
        controller(
            1_000,
            (wait, onlyIfFull) -> {
              activeBytes.set(0); // the other writer's rotate emptied the buffer meanwhile
              return null;
            });
    activeBytes.set(L0_MAX + 5);
    wc.beforeWrite();
    assertThat(activeBytes).hasValue(0);
  }

  @Test
  void tooManySegmentsStallsTheWriterUntilACompactionWakesIt() throws Exception {
    WriteController wc = controller(60_000, this::rotate);
    activeBytes.set(L0_MAX);
    headSegments.set(STOP_SEGMENTS);
    CompletableFuture<Void> writer = CompletableFuture.runAsync(wc::beforeWrite);
    waitUntil(() -> wc.segmentStalls() == 1);
    Thread.sleep(50);
    assertThat(writer).as("stalled while the head has too many segments").isNotDone();
    assertThat(rotations).hasValue(0);
    headSegments.set(STOP_SEGMENTS - 1); // a compaction published
    wc.wake();
    writer.get(30, TimeUnit.SECONDS);
    assertThat(rotations).as("then it rotates as usual").hasValue(1);
  }

  @Test
  void theSegmentStallTimesOutWithResourceExhausted() {
    WriteController wc = controller(200, this::rotate);
    activeBytes.set(L0_MAX);
    headSegments.set(STOP_SEGMENTS + 3);
    assertThatThrownBy(wc::beforeWrite)
        .isInstanceOfSatisfying(
            StrataException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
              assertThat(e.getMessage()).contains("7 segments");
            });
    assertThat(wc.segmentStalls()).isEqualTo(1);
    assertThat(rotations).hasValue(0);
  }

  @Test
  void aStalledWriterLearnsAtOnceThatTheForkTurnedReadOnly() throws Exception {
    WriteController wc = controller(60_000, this::rotate);
    lifecycle.onReadOnly(reason -> wc.wake());
    activeBytes.set(L0_MAX);
    headSegments.set(STOP_SEGMENTS);
    CompletableFuture<Void> writer = CompletableFuture.runAsync(wc::beforeWrite);
    waitUntil(() -> wc.segmentStalls() == 1);
    lifecycle.turnReadOnly("test: flush failed");
    assertThatThrownBy(() -> writer.get(30, TimeUnit.SECONDS))
        .hasCauseInstanceOf(StrataException.class)
        .cause()
        .hasMessageContaining("read-only")
        .hasMessageContaining("test: flush failed");
  }

  @Test
  void compactionDisabledMeansNoSegmentStall() {
    WriteController wc =
        new WriteController("f", L0_MAX, 100, 0, activeBytes::get, headSegments::get, this::rotate, lifecycle,
            NO_BUDGET, activeBytes::get, activeBytes::get, () -> false);
    activeBytes.set(L0_MAX);
    headSegments.set(1_000);
    wc.beforeWrite();
    assertThat(wc.segmentStalls()).isZero();
    assertThat(rotations).hasValue(1);
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not reached within 30 s");
      }
      Thread.sleep(5);
    }
  }
}
