package dev.strata.engine.fork;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The bound on L0 of all forks together ({@link WriteBufferManager}), with two fake forks whose
 * active and frozen bytes the test sets: when it asks for flushes, whom it asks, when writers stall,
 * that they resume when memory is freed, and that the stall times out.
 */
class WriteBufferManagerTest {
  private static final long SHARE = 8_000;

  /** A fork as the manager sees it: active and frozen bytes; a rotate freezes the active bytes. */
  private static final class FakeFork {
    final AtomicLong active = new AtomicLong();
    final AtomicLong frozen = new AtomicLong();
    final AtomicInteger rotations = new AtomicInteger();
    volatile boolean permitFree = true;

    boolean rotate() {
      if (!permitFree || active.get() == 0) {
        return false;
      }
      rotations.incrementAndGet();
      frozen.addAndGet(active.getAndSet(0));
      return true;
    }

    WriteBufferManager.Registration join(WriteBufferManager wbm, String name) {
      return wbm.register(name, active::get, () -> active.get() + frozen.get(), this::rotate);
    }
  }

  private final WriteBufferManager wbm = new WriteBufferManager(SHARE);
  private final FakeFork a = new FakeFork();
  private final FakeFork b = new FakeFork();

  @Test
  void belowSevenEighthsNothingHappens() {
    a.join(wbm, "a");
    b.join(wbm, "b");
    a.active.set(3_000);
    b.active.set(3_000); // 6,000 < 7,000
    wbm.beforeWrite(1_000, () -> true);
    assertThat(a.rotations.get() + b.rotations.get()).isZero();
    assertThat(wbm.stalls()).isZero();
    assertThat(wbm.usageBytes()).isEqualTo(6_000);
  }

  @Test
  void pastSevenEighthsOfActiveBytesTheLargestForkRotates() {
    a.join(wbm, "a");
    b.join(wbm, "b");
    a.active.set(2_000);
    b.active.set(5_500); // 7,500 > 7,000
    wbm.beforeWrite(1_000, () -> true);
    assertThat(b.rotations).hasValue(1);
    assertThat(a.rotations).hasValue(0);
    assertThat(wbm.flushesRequested()).isEqualTo(1);
    assertThat(wbm.stalls()).as("7,500 bytes are under the share").isZero();
  }

  @Test
  void aForkWithoutAFreePermitIsSkippedForTheNextLargest() {
    a.join(wbm, "a");
    b.join(wbm, "b");
    a.active.set(2_000);
    b.active.set(5_500);
    b.permitFree = false;
    wbm.beforeWrite(1_000, () -> true);
    assertThat(b.rotations).hasValue(0);
    assertThat(a.rotations).hasValue(1);
  }

  @Test
  void aWriterStallsAtTheShareAndResumesWhenAFlushFreesMemory() throws Exception {
    a.join(wbm, "a");
    a.frozen.set(SHARE); // a flush in flight holds the whole share
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> wbm.beforeWrite(30_000, () -> true));
    Thread.sleep(200);
    assertThat(writer).as("the writer waits while L0 is at its share").isNotDone();
    assertThat(wbm.stalls()).isEqualTo(1);
    a.frozen.set(0); // the flush published: its buffer left L0
    wbm.memoryReleased();
    writer.get(5, TimeUnit.SECONDS);
    assertThat(wbm.stallMs()).isGreaterThanOrEqualTo(150);
  }

  @Test
  void aStallThatOutlastsTheTimeoutIsResourceExhaustedWithARetryDelay() {
    a.join(wbm, "a");
    a.frozen.set(SHARE + 1);
    assertThatThrownBy(() -> wbm.beforeWrite(100, () -> true))
        .isInstanceOfSatisfying(
            StrataException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
              assertThat(e.retryAfterMs()).isPositive();
            })
        .hasMessageContaining("memory.budget");
  }

  @Test
  void aForkThatStopsTakingWritesEndsItsWritersStall() throws Exception {
    a.join(wbm, "a");
    a.frozen.set(SHARE);
    AtomicLong writable = new AtomicLong(1);
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(() -> wbm.beforeWrite(30_000, () -> writable.get() == 1));
    Thread.sleep(100);
    writable.set(0);
    writer.get(5, TimeUnit.SECONDS); // the caller then reports the fork's state
  }

  @Test
  void aForkThatLeavesFreesItsShareAndWakesStalledWriters() throws Exception {
    WriteBufferManager.Registration ra = a.join(wbm, "a");
    b.join(wbm, "b");
    a.frozen.set(SHARE);
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> wbm.beforeWrite(30_000, () -> true));
    Thread.sleep(100);
    assertThat(writer).isNotDone();
    ra.close(); // fork a closed or dropped
    writer.get(5, TimeUnit.SECONDS);
    assertThat(wbm.usageBytes()).isZero();
  }

  @Test
  void aShareOfZeroBoundsNothing() {
    WriteBufferManager off = new WriteBufferManager(0);
    a.join(off, "a");
    a.frozen.set(Long.MAX_VALUE / 4);
    a.active.set(Long.MAX_VALUE / 4);
    off.beforeWrite(1, () -> true);
    assertThat(a.rotations).hasValue(0);
  }
}
