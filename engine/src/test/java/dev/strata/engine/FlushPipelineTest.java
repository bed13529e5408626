package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.body;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.CollectionRegistry;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SPEC §2 and §5 guarantees of the flush pipeline, on the real engine (issue #3 tests 1–5, 8, 9). */
class FlushPipelineTest {
  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  private Fork open(EngineOptions options) throws Exception {
    fx = new EngineFixture(dir, options);
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection("docs", SCHEMA);
    return main;
  }

  /** Delays or fails chosen (fork, seq) streams. Thread-safe. */
  static final class ScriptedHooks implements FlushHooks {
    final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
    final Map<String, Integer> failures = new ConcurrentHashMap<>();
    final Set<String> failForever = ConcurrentHashMap.newKeySet();
    final AtomicInteger attempts = new AtomicInteger();

    static String key(String fork, long seq) {
      return fork + "#" + seq;
    }

    @Override
    public void beforeStream(String fork, long seq, int attempt) throws Exception {
      attempts.incrementAndGet();
      CountDownLatch gate = gates.get(key(fork, seq));
      if (gate == null) {
        gate = gates.get(fork + "#*");
      }
      if (gate != null && !gate.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("gate never opened");
      }
      if (failForever.contains(fork)) {
        throw new java.io.IOException("injected permanent failure on " + fork);
      }
      Integer n = failures.get(key(fork, seq));
      if (n != null && attempt < n) {
        throw new java.io.IOException("injected failure " + attempt + " of seq " + seq);
      }
    }
  }

  @Test
  void streamsFinishingOutOfOrderPublishInSeqOrderAndTicketsResolveInOrder() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch firstGate = new CountDownLatch(1);
    Fork main = open(EngineFixture.testOptions().maxPendingFlushes(4).hooks(hooks).build());
    // The first flush's seq is 1 on a new fork.
    hooks.gates.put(ScriptedHooks.key("main", 1), firstGate);
    List<Manifest> watched = Collections.synchronizedList(new ArrayList<>());
    main.watch(watched::add);

    List<FlushTicket> tickets = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      main.write("docs", put(doc("d" + i, "round " + i, "t", i), doc("shared", "version" + i, "t", i)), Durability.SYNC);
      tickets.add(main.flush(1000));
    }
    List<CompletableFuture<Manifest>> futures = new ArrayList<>();
    List<Integer> resolvedOrder = Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < tickets.size(); i++) {
      int n = i;
      futures.add(main.awaitTicket(tickets.get(i)).whenComplete((m, e) -> resolvedOrder.add(n)));
    }
    // Seqs 2 and 3 finish their streams, but seq 1 holds the line.
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> hooks.attempts.get() == 3);
    Thread.sleep(200);
    assertThat(watched).isEmpty();
    assertThat(futures).noneMatch(CompletableFuture::isDone);

    firstGate.countDown();
    CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
    assertThat(resolvedOrder).containsExactly(0, 1, 2);
    assertThat(watched).extracting(Manifest::getSeq).containsExactly(1L, 2L, 3L);
    assertThat(watched.get(1).getParentId()).isEqualTo(watched.get(0).getId());
    assertThat(watched.get(2).getParentId()).isEqualTo(watched.get(1).getId());
    assertThat(watched.get(2).getSegmentsCount()).isEqualTo(3);
    assertThat(main.verifyChain()).isEmpty();
    for (int i = 0; i < 3; i++) {
      assertThat(body(main.get("docs", "d" + i).document())).isEqualTo("round " + i);
    }
    // Seqs 2 and 3 computed their liveness before seq 1 was published; the finalizer's patch
    // must still hide the older versions of "shared" from search.
    assertThat(main.search("docs", SearchQuery.of("version0 OR version1", 10), null).hits()).isEmpty();
    assertThat(main.search("docs", SearchQuery.of("version2", 10), null).hits())
        .extracting(SearchHit::id)
        .containsExactly("shared");
    assertThat(main.search("docs", SearchQuery.of("round", 10), null).totalHits()).isEqualTo(3);
  }

  @Test
  void noPermitMeansWritersStallThenGetResourceExhaustedAndL0StaysBounded() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch gate = new CountDownLatch(1);
    hooks.gates.put("main#*", gate);
    long l0Max = 64 * 1024;
    int permits = 1;
    int writers = 4;
    Fork main =
        open(
            EngineFixture.testOptions()
                .maxPendingFlushes(permits)
                .l0MaxBytes(l0Max)
                .writeStallTimeoutMs(300)
                .hooks(hooks)
                .build());
    String text = "x".repeat(2000);
    long oneWrite = 4 * 1024 + 2 * 2000;
    // (permits + 1) buffers, each at most l0.max_bytes plus the writes that crossed it together:
    // one per concurrent writer.
    long bound = (permits + 1) * (l0Max + writers * oneWrite);
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    List<Future<List<String>>> results = new ArrayList<>();
    AtomicLong maxL0 = new AtomicLong();
    for (int w = 0; w < writers; w++) {
      int id = w;
      results.add(
          pool.submit(
              () -> {
                List<String> written = new ArrayList<>();
                for (int i = 0; i < 500; i++) {
                  String key = "w" + id + "-" + i;
                  try {
                    main.write("docs", put(doc(key, text, "t", i)), Durability.ASYNC);
                    written.add(key);
                  } catch (StrataException e) {
                    assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
                    assertThat(e.retryAfterMs()).isPositive();
                    assertThat(main.get("docs", key)).as("the refused write was not applied").isNull();
                    return written;
                  } finally {
                    long l0 = main.stats().l0Bytes();
                    maxL0.accumulateAndGet(l0, Math::max);
                    assertThat(l0).as("L0 bytes after a write of writer %d", id).isLessThanOrEqualTo(bound);
                  }
                }
                throw new AssertionError("writer " + id + " never met the write stall");
              }));
    }
    List<String> all = new ArrayList<>();
    for (Future<List<String>> f : results) {
      all.addAll(f.get(60, TimeUnit.SECONDS));
    }
    pool.shutdown();
    assertThat(main.stats().stallTimeMs()).isGreaterThanOrEqualTo(300);
    assertThat(maxL0.get()).isLessThanOrEqualTo(bound);

    gate.countDown();
    Manifest m = main.awaitTicket(main.flush(5000)).get(20, TimeUnit.SECONDS);
    assertThat(m.getCoveredLsn()).isGreaterThan(0);
    for (String key : all) {
      assertThat(main.get("docs", key)).as(key).isNotNull();
    }
  }

  @Test
  void aStreamThatFailsIsRetriedAndOneThatAlwaysFailsTurnsTheForkReadOnlyWithoutLosingData()
      throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    hooks.failures.put(ScriptedHooks.key("main", 1), 2);
    Fork main = open(EngineFixture.testOptions().flushMaxRetries(3).hooks(hooks).build());
    main.write("docs", put(doc("a", "retried", "t", 1)), Durability.SYNC);
    Manifest m = main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    assertThat(m.getSeq()).isEqualTo(1);
    assertThat(main.stats().flushRetries()).isEqualTo(2);
    assertThat(main.readOnlyReason()).isNull();

    hooks.failForever.add("main");
    long lsn = main.write("docs", put(doc("b", "kept by the WAL", "t", 2)), Durability.SYNC);
    CompletableFuture<Manifest> doomed = main.awaitTicket(main.flush(1000));
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> main.readOnlyReason() != null);
    assertThat(main.readOnlyReason()).contains("injected permanent failure");
    assertThat(main.stats().readOnlyReason()).isNotNull();
    assertThatThrownBy(() -> doomed.get(5, TimeUnit.SECONDS)).hasMessageContaining("read-only");
    assertThatThrownBy(() -> main.write("docs", put(doc("c", "no", "t", 3)), Durability.SYNC))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
    assertThat(body(main.get("docs", "b").document())).as("still readable from L0").isEqualTo("kept by the WAL");

    hooks.failForever.clear();
    fx.reopen();
    Fork again = fx.engine.fork("main");
    assertThat(again.readOnlyReason()).isNull();
    assertThat(body(again.get("docs", "b").document())).isEqualTo("kept by the WAL");
    Manifest after = again.awaitTicket(again.flush(1000)).get(20, TimeUnit.SECONDS);
    assertThat(after.getCoveredLsn()).isGreaterThanOrEqualTo(lsn);
  }

  @Test
  void sizeTriggeredFlushesOnANonMainForkPublishToThatFork() throws Exception {
    Fork main = open(EngineFixture.testOptions().l0MaxBytes(32 * 1024).build());
    main.write("docs", put(doc("base", "base doc", "t", 0)), Durability.SYNC);
    main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    long mainSeq = main.head().orElseThrow().getSeq();
    Fork feature = fx.engine.createFork("feature", null, "main", false, 10_000);
    String text = "y".repeat(3000);
    for (int i = 0; i < 100; i++) {
      feature.write("docs", put(doc("f" + i, text, "t", i)), Durability.ASYNC);
    }
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> feature.stats().flushesPublished() >= 2);
    Manifest fh = feature.head().orElseThrow();
    assertThat(fh.getForkId()).isEqualTo(feature.id());
    assertThat(fh.getSegmentsCount()).isGreaterThanOrEqualTo(3);
    assertThat(main.head().orElseThrow().getSeq()).as("main got no flush of the fork's data").isEqualTo(mainSeq);
    assertThat(main.get("docs", "f1")).isNull();
    assertThat(feature.get("docs", "base")).isNotNull();
    assertThat(feature.verifyChain()).isEmpty();
  }

  @Test
  void writersRacingContinuousRotatesAlwaysLandInTheRightL0Buffer() throws Exception {
    Fork main = open(EngineFixture.testOptions().maxPendingFlushes(4).writeStallTimeoutMs(30_000).build());
    int writers = 4;
    int perWriter = 1500;
    int keysPerWriter = 100; // each key is overwritten 15 times by its writer
    ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
    CountDownLatch done = new CountDownLatch(writers);
    List<Future<?>> futures = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      int id = w;
      futures.add(
          pool.submit(
              () -> {
                try {
                  for (int i = 0; i < perWriter; i++) {
                    main.write(
                        "docs", put(doc("w" + id + "-" + (i % keysPerWriter), "v" + i, "t", i)), Durability.ASYNC);
                  }
                } finally {
                  done.countDown();
                }
                return null;
              }));
    }
    futures.add(
        pool.submit(
            () -> {
              while (done.getCount() > 0) {
                main.flush(30_000);
              }
              return null;
            }));
    for (Future<?> f : futures) {
      f.get(120, TimeUnit.SECONDS); // a misrouted record would surface here as an exception
    }
    pool.shutdown();
    Manifest last = main.awaitTicket(main.flush(30_000)).get(30, TimeUnit.SECONDS);
    assertThat(main.stats().l0Bytes()).isZero();
    assertThat(last.getCoveredLsn()).isEqualTo(main.stats().walLastLsn());
    assertLastWritesWin(main, writers, perWriter, keysPerWriter);
    fx.reopen();
    assertLastWritesWin(fx.engine.fork("main"), writers, perWriter, keysPerWriter);
  }

  /** Every key holds exactly the last version its (only) writer wrote, at the head and in search. */
  private static void assertLastWritesWin(Fork f, int writers, int perWriter, int keysPerWriter) {
    for (int w = 0; w < writers; w++) {
      for (int k = 0; k < keysPerWriter; k++) {
        int lastI = perWriter - keysPerWriter + k;
        String key = "w" + w + "-" + k;
        assertThat(body(f.get("docs", key).document())).as(key).isEqualTo("v" + lastI);
      }
    }
    assertThat(f.search("docs", SearchQuery.of(null, 1), null).totalHits())
        .as("one live document per key")
        .isEqualTo((long) writers * keysPerWriter);
  }

  @Test
  void thirtyTwoThreadsCreatingOneCollectionGetOneCreationAndNoErrors() throws Exception {
    Fork main = open(EngineFixture.testOptions().build());
    ExecutorService pool = Executors.newFixedThreadPool(32);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<CollectionRegistry.Collection>> results = new ArrayList<>();
    long before = main.stats().walLastLsn();
    for (int i = 0; i < 32; i++) {
      results.add(
          pool.submit(
              () -> {
                start.await();
                return main.createOrGetCollection("race", SCHEMA);
              }));
    }
    start.countDown();
    Set<Long> lsns = ConcurrentHashMap.newKeySet();
    for (Future<CollectionRegistry.Collection> f : results) {
      lsns.add(f.get(30, TimeUnit.SECONDS).createdLsn());
    }
    pool.shutdown();
    assertThat(lsns).hasSize(1);
    assertThat(main.stats().walLastLsn()).as("exactly one definition record").isEqualTo(before + 1);
  }

  @Test
  void aForkWhoseStreamIsStalledDoesNotSlowAnother() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch stuck = new CountDownLatch(1);
    hooks.gates.put("slow#*", stuck);
    Fork main = open(EngineFixture.testOptions().hooks(hooks).build());
    main.write("docs", put(doc("seed", "seed", "t", 0)), Durability.SYNC);
    main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    Fork slow = fx.engine.createFork("slow", null, "main", false, 10_000);
    Fork fast = fx.engine.createFork("fast", null, "main", false, 10_000);
    slow.write("docs", put(doc("s", "stuck", "t", 1)), Durability.SYNC);
    CompletableFuture<Manifest> slowTicket = slow.awaitTicket(slow.flush(1000));
    for (int round = 0; round < 10; round++) {
      fast.write("docs", put(doc("f" + round, "moving", "t", round)), Durability.SYNC);
      slow.write("docs", put(doc("s" + round, "still accepted", "t", round)), Durability.SYNC);
      fast.awaitTicket(fast.flush(1000)).get(10, TimeUnit.SECONDS);
    }
    Awaitility.await().atMost(5, TimeUnit.SECONDS).until(() -> fast.stats().flushesPublished() == 10);
    assertThat(slowTicket).isNotDone();
    stuck.countDown();
    slowTicket.get(20, TimeUnit.SECONDS);
  }

  @Test
  void dropWithADrainTimeoutLeavesTheForkWholeAndWritable() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch stuck = new CountDownLatch(1);
    hooks.gates.put("doomed#*", stuck);
    Fork main = open(EngineFixture.testOptions().hooks(hooks).build());
    main.write("docs", put(doc("seed", "seed", "t", 0)), Durability.SYNC);
    main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    Fork doomed = fx.engine.createFork("doomed", null, "main", false, 10_000);
    doomed.write("docs", put(doc("x", "pending", "t", 1)), Durability.SYNC);
    doomed.flush(1000);
    assertThatThrownBy(() -> fx.engine.dropFork("doomed", 200))
        .isInstanceOf(StrataException.class)
        .hasMessageContaining("1 flushes pending")
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.DEADLINE_EXCEEDED);
    doomed.write("docs", put(doc("y", "still writable", "t", 2)), Durability.SYNC);
    assertThat(fx.engine.fork("doomed").get("docs", "x")).isNotNull();

    stuck.countDown();
    fx.engine.dropFork("doomed", 10_000);
    assertThatThrownBy(() -> fx.engine.fork("doomed"))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.NOT_FOUND);
    assertThatThrownBy(() -> fx.engine.dropFork("main", 1000))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
    // Its own segments are gone; main's are not.
    assertThat(main.get("docs", "seed")).isNotNull();
    fx.reopen();
    assertThat(fx.engine.openForks()).extracting(Fork::name).containsExactly("main");
    assertThat(fx.engine.segments().segmentIdsOnDisk())
        .containsExactlyInAnyOrderElementsOf(fx.engine.fork("main").referencedSegments());
  }

  @Test
  void dropWhileWritersAndFlushesRunLeavesOtherForksUnaffected() throws Exception {
    Fork main = open(EngineFixture.testOptions().l0MaxBytes(16 * 1024).build());
    main.write("docs", put(doc("seed", "seed", "t", 0)), Durability.SYNC);
    main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    Fork victim = fx.engine.createFork("victim", null, "main", false, 10_000);
    Fork child = fx.engine.createFork("child", null, "main", false, 10_000);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    AtomicInteger mainWrites = new AtomicInteger();
    AtomicInteger childWrites = new AtomicInteger();
    CountDownLatch stop = new CountDownLatch(1);
    List<Future<?>> workers = new ArrayList<>();
    String text = "z".repeat(1000);
    workers.add(pool.submit(() -> writeUntil(main, "m", text, stop, mainWrites)));
    workers.add(pool.submit(() -> writeUntil(child, "c", text, stop, childWrites)));
    workers.add(
        pool.submit(
            () -> {
              try {
                writeUntil(victim, "v", text, stop, new AtomicInteger());
              } catch (StrataException e) {
                // expected once the drop starts
              }
              return null;
            }));
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> mainWrites.get() > 50 && childWrites.get() > 50);
    fx.engine.dropFork("victim", 20_000);
    int mainAtDrop = mainWrites.get();
    Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> mainWrites.get() > mainAtDrop + 50);
    stop.countDown();
    for (Future<?> w : workers) {
      w.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    for (Fork f : List.of(main, child)) {
      f.awaitTicket(f.flush(5000)).get(20, TimeUnit.SECONDS);
      assertThat(f.verifyChain()).isEmpty();
      assertThat(f.readOnlyReason()).isNull();
    }
    for (int i = 0; i < mainWrites.get(); i++) {
      assertThat(main.get("docs", "m" + i)).as("m" + i).isNotNull();
    }
    for (int i = 0; i < childWrites.get(); i++) {
      assertThat(child.get("docs", "c" + i)).as("c" + i).isNotNull();
    }
  }

  private static Object writeUntil(Fork f, String prefix, String text, CountDownLatch stop, AtomicInteger count)
      throws InterruptedException {
    while (stop.getCount() > 0) {
      int i = count.get();
      f.write("docs", put(doc(prefix + i, text, "t", i)), Durability.SYNC);
      count.incrementAndGet();
    }
    return null;
  }
}
