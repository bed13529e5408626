package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.DelayedSyncVfs;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §5.7 between forks (issue 11, defects 1 and 5, and the noisy neighbour): a fork whose
 * streams are slow or whose disk is slow never turns another fork read-only, and never holds up
 * another fork's publications. No timing is asserted: slowness is made with gates and delays, and
 * the assertions are about what happened (or did not) while a neighbour was slow.
 */
class ForkIsolationTest {
  @TempDir Path dir;
  private StrataEngine engine;
  private DelayedSyncVfs vfs;

  @AfterEach
  void close() {
    if (engine != null) {
      engine.close();
    }
  }

  private Fork open(EngineOptions options) throws Exception {
    vfs = new DelayedSyncVfs(new FaultInjectingVfs(), 60_000);
    engine = StrataEngine.open(dir, vfs, options);
    Fork main = engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection("docs", SCHEMA);
    // The first segment of a JVM loads Lucene's and RocksDB's classes: not under test here.
    main.write("docs", put(doc("seed", "seed", "t", 0)), Durability.SYNC);
    main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);
    return main;
  }

  private Path forkDir(Fork f) {
    return dir.resolve("forks").resolve(f.id());
  }

  /** Holds chosen forks' streams at a gate and counts every fork's stream attempts. */
  private static final class GatedForks implements FlushHooks {
    final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();

    int attempts(String fork) {
      AtomicInteger n = attempts.get(fork);
      return n == null ? 0 : n.get();
    }

    @Override
    public void beforeStream(String fork, long seq, int attempt) throws Exception {
      attempts.computeIfAbsent(fork, f -> new AtomicInteger()).incrementAndGet();
      CountDownLatch gate = gates.get(fork);
      if (gate != null && !gate.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("gate of " + fork + " never opened");
      }
    }
  }

  /**
   * Defect 1: a sibling fork's two streams hang and hold both stream threads. Today's code timed
   * main's streams out while they waited in the shared queue, re-queued them behind themselves and
   * turned main read-only (and ran every queued attempt later, throwing the segments away). Now
   * main's time limit starts when its stream runs, the sibling's abandoned streams give their
   * threads' places to replacements, and no retry of the sibling runs while its hung attempts do.
   */
  @Test
  void aSiblingWhoseStreamsHangNeverTurnsAHealthyForkReadOnly() throws Exception {
    GatedForks hooks = new GatedForks();
    CountDownLatch siblingGate = new CountDownLatch(1);
    Fork main =
        open(
            EngineFixture.testOptions()
                .streamThreads(2)
                .streamTimeoutMs(1_500)
                .maxPendingFlushes(2)
                .hooks(hooks)
                .build());
    Fork sibling = engine.createFork("sibling", null, StrataEngine.MAIN, false, 10_000);
    hooks.gates.put("sibling", siblingGate);
    List<CompletableFuture<Manifest>> siblingTickets = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      sibling.write("docs", put(doc("s" + i, "stuck", "t", i)), Durability.SYNC);
      siblingTickets.add(sibling.awaitTicket(sibling.flush(1_000)));
    }
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> hooks.attempts("sibling") == 2);
    int mainAttemptsBefore = hooks.attempts("main");

    for (int round = 0; round < 5; round++) {
      main.write("docs", put(doc("m" + round, "healthy", "t", round)), Durability.SYNC);
      Manifest m = main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);
      assertThat(m.getForkName()).isEqualTo(StrataEngine.MAIN);
      assertThat(main.readOnlyReason()).isNull();
    }
    assertThat(main.get("docs", "m4")).isNotNull();
    assertThat(hooks.attempts("main") - mainAttemptsBefore).as("main's stream attempts").isEqualTo(5);
    assertThat(siblingTickets).noneMatch(CompletableFuture::isDone);
    assertThat(hooks.attempts("sibling")).as("no retry of the sibling ran beside its hung attempts").isEqualTo(2);

    siblingGate.countDown();
    for (CompletableFuture<Manifest> t : siblingTickets) {
      Awaitility.await().atMost(60, TimeUnit.SECONDS).until(t::isDone);
    }
    assertThat(main.readOnlyReason()).isNull();
    assertThat(main.verifyChain()).isEmpty();
  }

  /**
   * Defect 5: three forks' publications are blocked in their manifest fsyncs (more forks than
   * today's two finalizer threads). Another fork's flush must still publish, and each blocked
   * fork holds only its own finalizer thread. Today the third blocked fork and main queued behind
   * the first two.
   */
  @Test
  void forksBlockedInPublicationIoDoNotDelayAnotherForksPublication() throws Exception {
    Fork main = open(EngineFixture.testOptions().streamThreads(2).build());
    List<Fork> blocked = new ArrayList<>();
    List<CompletableFuture<Manifest>> blockedTickets = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Fork f = engine.createFork("blocked" + i, null, StrataEngine.MAIN, false, 10_000);
      f.write("docs", put(doc("b", "blocked", "t", i)), Durability.SYNC);
      blocked.add(f);
    }
    for (Fork f : blocked) {
      vfs.hold(forkDir(f).resolve("manifests"));
      blockedTickets.add(f.awaitTicket(f.flush(1_000)));
    }
    Awaitility.await()
        .atMost(30, TimeUnit.SECONDS)
        .until(() -> blocked.stream().filter(f -> vfs.waitingNow(forkDir(f).resolve("manifests")) > 0).count() >= 2);

    main.write("docs", put(doc("m", "not held up", "t", 1)), Durability.SYNC);
    Manifest published = main.awaitTicket(main.flush(1_000)).get(30, TimeUnit.SECONDS);
    assertThat(published.getForkName()).isEqualTo(StrataEngine.MAIN);
    assertThat(blockedTickets).noneMatch(CompletableFuture::isDone);
    Awaitility.await()
        .atMost(30, TimeUnit.SECONDS)
        .until(() -> blocked.stream().allMatch(f -> vfs.waitingNow(forkDir(f).resolve("manifests")) > 0));

    blocked.forEach(f -> vfs.release(forkDir(f).resolve("manifests")));
    for (int i = 0; i < blocked.size(); i++) {
      assertThat(blockedTickets.get(i).get(30, TimeUnit.SECONDS).getForkName()).isEqualTo("blocked" + i);
      assertThat(blocked.get(i).verifyChain()).isEmpty();
    }
  }

  /**
   * The noisy neighbour: four forks' fsyncs (WAL, manifests, directories) each take 200 ms while
   * they take ASYNC writes and flush as fast as their permits allow, keeping the stream threads and
   * their finalizers busy with slow I/O. Main, under steady SYNC writes and flushes, never turns
   * read-only, every ticket resolves, and main's publications go on while several neighbours sit
   * in slow publication fsyncs at once: with today's two shared finalizer threads, main's
   * publication could only run beside at most one of them. The latency ratio is the bench's job
   * ({@code EngineLoad --only noisy}).
   */
  @Test
  void aNoisyNeighboursSlowFsyncsNeverTurnAnotherForkReadOnlyNorHoldUpItsPublications() throws Exception {
    Fork main = open(EngineFixture.testOptions().streamThreads(2).streamTimeoutMs(1_000).build());
    List<Fork> noisy = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Fork f = engine.createFork("noisy" + i, null, StrataEngine.MAIN, false, 10_000);
      vfs.delay(forkDir(f), 200);
      noisy.add(f);
    }
    AtomicInteger mostNeighboursPublishingBeside = new AtomicInteger();
    main.watch(
        m -> {
          // Runs on main's finalizer, inside main's publication.
          long n = noisy.stream().filter(f -> vfs.waitingNow(forkDir(f).resolve("manifests")) > 0).count();
          mostNeighboursPublishingBeside.accumulateAndGet((int) n, Math::max);
        });
    AtomicReference<Throwable> loadError = new AtomicReference<>();
    List<Thread> load = new ArrayList<>();
    CountDownLatch stop = new CountDownLatch(1);
    for (Fork f : noisy) {
      Thread t = new Thread(() -> noisyLoad(f, stop, loadError), "noisy-load-" + f.name());
      t.start();
      load.add(t);
    }
    try {
      Awaitility.await().atMost(30, TimeUnit.SECONDS).until(() -> vfs.slowedSyncs() > 10);
      for (int round = 0; round < 20; round++) {
        main.write("docs", put(doc("m" + round, "steady", "t", round)), Durability.SYNC);
        main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);
        assertThat(main.readOnlyReason()).isNull();
      }
    } finally {
      stop.countDown();
      for (Thread t : load) {
        t.join(60_000);
      }
    }
    assertThat(loadError.get()).isNull();
    assertThat(main.readOnlyReason()).isNull();
    assertThat(main.stats().flushesPublished()).isGreaterThanOrEqualTo(21);
    assertThat(mostNeighboursPublishingBeside.get())
        .as("neighbours inside a slow publication fsync while main published")
        .isGreaterThanOrEqualTo(2);
    // The neighbours make progress too, only slower: main can finish its 20 rounds while a
    // neighbour's first publication (which also writes the manifest its create derived in memory)
    // still sits in its delayed fsyncs.
    Awaitility.await()
        .atMost(60, TimeUnit.SECONDS)
        .untilAsserted(() -> assertThat(noisy).allMatch(f -> f.stats().flushesPublished() > 0));
    assertThat(main.verifyChain()).isEmpty();
  }

  /** ASYNC writes and flushes on {@code f} until {@code stop}; RESOURCE_EXHAUSTED is back-pressure. */
  private static void noisyLoad(Fork f, CountDownLatch stop, AtomicReference<Throwable> error) {
    int i = 0;
    try {
      while (stop.getCount() > 0) {
        try {
          f.write("docs", put(doc("n" + i, "noisy " + i, "t", i)), Durability.ASYNC);
          f.flush(200);
        } catch (StrataException e) {
          if (e.kind() != StrataException.Kind.RESOURCE_EXHAUSTED) {
            throw e;
          }
        }
        i++;
      }
    } catch (Throwable t) {
      error.compareAndSet(null, t);
    }
  }
}
