package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.body;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.WriteExecutors;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Fork#writeAsync}: the rules of the synchronous write (validation first, durable before
 * visible, every LSN marked done) with nobody waiting for the group commit; stalled writes on the
 * stall executor; a refusing executor is back-pressure with nothing applied.
 */
class AsyncWriteTest {
  @TempDir Path dir;
  EngineFixture fx;
  final ExecutorService appendPool = Executors.newFixedThreadPool(4, named("test-append-"));
  final ExecutorService stallPool = Executors.newFixedThreadPool(2, named("test-stall-"));
  final AtomicInteger appendTasks = new AtomicInteger();
  final AtomicInteger stallTasks = new AtomicInteger();
  final WriteExecutors executors =
      new WriteExecutors(
          r -> {
            appendTasks.incrementAndGet();
            appendPool.execute(r);
          },
          r -> {
            stallTasks.incrementAndGet();
            stallPool.execute(r);
          });

  @AfterEach
  void close() throws InterruptedException {
    if (fx != null) {
      fx.close();
    }
    appendPool.shutdownNow();
    stallPool.shutdownNow();
    appendPool.awaitTermination(5, TimeUnit.SECONDS);
    stallPool.awaitTermination(5, TimeUnit.SECONDS);
  }

  private Fork open(EngineOptions options) throws Exception {
    fx = new EngineFixture(dir, options);
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection("docs", SCHEMA);
    return main;
  }

  @Test
  void aSyncWriteCompletesFromTheGroupCommitDurableAndVisible() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    AtomicReference<String> completedOn = new AtomicReference<>();
    CompletableFuture<Long> f =
        main.writeAsync("docs", put(doc("a", "hello", "x", 1)), Durability.SYNC, executors, () -> false)
            .whenComplete((lsn, err) -> completedOn.set(Thread.currentThread().getName()));
    long lsn = f.get(10, TimeUnit.SECONDS);
    assertThat(completedOn.get()).as("not the caller's thread").startsWith("test-append-");
    assertThat(main.stats().walDurableLsn()).isGreaterThanOrEqualTo(lsn);
    assertThat(body(main.get("docs", "a").document())).isEqualTo("hello");
    assertThat(appendTasks.get()).isPositive();
    assertThat(stallTasks.get()).isZero();
  }

  @Test
  void concurrentAsyncWritesGetDistinctLsnsAndAFlushCoversThemAll() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    List<CompletableFuture<Long>> all = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      Durability d = i % 3 == 0 ? Durability.ASYNC : Durability.SYNC;
      all.add(main.writeAsync("docs", put(doc("d" + i, "body " + i, "t", i)), d, executors, () -> false));
    }
    Set<Long> lsns = new HashSet<>();
    for (CompletableFuture<Long> f : all) {
      lsns.add(f.get(30, TimeUnit.SECONDS));
    }
    assertThat(lsns).hasSize(500);
    // The flush's stream waits for the applied watermark: it covers every acknowledged write.
    var snap = main.awaitTicket(main.flush(1000)).get(30, TimeUnit.SECONDS);
    assertThat(snap.getCoveredLsn()).isGreaterThanOrEqualTo(lsns.stream().mapToLong(Long::longValue).max().orElseThrow());
    for (int i = 0; i < 500; i++) {
      assertThat(body(main.get("docs", "d" + i).document())).isEqualTo("body " + i);
    }
  }

  @Test
  void aBadDocumentIsRefusedOnTheCallersThreadAndNothingIsApplied() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    long before = main.stats().walLastLsn();
    Document bad = new Document("bad", Map.of("n", new FieldValue.Str("not a number")));
    assertThatThrownBy(() -> main.writeAsync("docs", List.of(new Mutation.Put(bad)), Durability.SYNC, executors, () -> false))
        .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.INVALID_ARGUMENT));
    assertThatThrownBy(() -> main.writeAsync("nope", put(doc("a", "x", "y", 1)), Durability.SYNC, executors, () -> false))
        .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.NOT_FOUND));
    assertThat(main.stats().walLastLsn()).isEqualTo(before);
    assertThat(appendTasks.get() + stallTasks.get()).isZero();
  }

  @Test
  void aWriteAbandonedBeforeItsAppendIsNotApplied() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    long before = main.stats().walLastLsn();
    CompletableFuture<Long> f = main.writeAsync("docs", put(doc("gone", "x", "y", 1)), Durability.SYNC, executors, () -> true);
    assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).isInstanceOf(CancellationException.class);
    assertThat(main.stats().walLastLsn()).isEqualTo(before);
    assertThat(main.get("docs", "gone")).isNull();
  }

  @Test
  void aRefusingExecutorIsResourceExhaustedWithNothingApplied() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    long before = main.stats().walLastLsn();
    WriteExecutors full =
        new WriteExecutors(
            r -> {
              throw new RejectedExecutionException("full");
            },
            r -> {
              throw new RejectedExecutionException("full");
            });
    assertThatThrownBy(() -> main.writeAsync("docs", put(doc("a", "x", "y", 1)), Durability.SYNC, full, () -> false))
        .isInstanceOfSatisfying(StrataException.class, e -> {
          assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
          assertThat(e.retryAfterMs()).isPositive();
        });
    assertThat(main.stats().walLastLsn()).isEqualTo(before);
    assertThat(main.get("docs", "a")).isNull();
  }

  @Test
  void aWriteThatMustStallRunsOnTheStallExecutorAndTimesOutAsBackPressure() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    FlushHooks hold =
        (fork, seq, attempt) -> {
          if (!release.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not released");
          }
        };
    Fork main =
        open(
            EngineFixture.testOptions()
                .l0MaxBytes(4096)
                .maxPendingFlushes(1)
                .writeStallTimeoutMs(300)
                .hooks(hold)
                .build());
    try {
      // Fill L0 twice: the first rotate takes the only permit (its stream waits on the hook), so
      // the active buffer stays full.
      int i = 0;
      while (main.stats().frozenL0Bytes() == 0 || main.stats().l0Bytes() - main.stats().frozenL0Bytes() < 4096) {
        main.write("docs", put(doc("fill" + i, "x".repeat(200), "t", i)), Durability.ASYNC);
        i++;
      }
      int stallsBefore = stallTasks.get();
      CompletableFuture<Long> stalled =
          main.writeAsync("docs", put(doc("late", "late", "t", 0)), Durability.SYNC, executors, () -> false);
      assertThat(stallTasks.get()).as("routed to the stall executor").isEqualTo(stallsBefore + 1);
      assertThatThrownBy(() -> stalled.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED));
      assertThat(main.get("docs", "late")).isNull();
    } finally {
      release.countDown();
    }
    // Once the held flush has published, the same write succeeds.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (main.stats().frozenL0Bytes() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    long lsn = main.writeAsync("docs", put(doc("late", "late", "t", 0)), Durability.SYNC, executors, () -> false).get(20, TimeUnit.SECONDS);
    assertThat(main.get("docs", "late").lsn()).isEqualTo(lsn);
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
