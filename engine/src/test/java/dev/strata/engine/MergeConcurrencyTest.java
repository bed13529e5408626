package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.Mutation;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 16: "concurrent writers on the target during a three-way merge lose nothing". Three
 * writers hammer the target while it merges (and a fourth thread flushes it): each owns some keys
 * only the target writes and some the source changed too, and remembers the last value the engine
 * acknowledged for each. Afterwards, under every strategy that keeps the target's side (FAIL,
 * TARGET_WINS), every key a writer wrote holds that writer's last acknowledged value, whether the
 * write came before the merge read the target, in the window between the read and the commit (the
 * commit rule), or after it. Keys no writer touched hold the source's version if the merge applied
 * (and the base's if FAIL found a conflict). Under SOURCE_WINS the writers keep to keys the source
 * did not change, and lose nothing either.
 */
class MergeConcurrencyTest {
  private static final String C = "docs";
  private static final int DOCS = 1500;
  private static final int CHANGED = 600;

  @TempDir Path dir;
  EngineFixture fx;

  @BeforeEach
  void open() throws Exception {
    fx = new EngineFixture(dir, EngineFixture.testOptions().build());
  }

  @AfterEach
  void close() {
    fx.close();
  }

  @ParameterizedTest
  @EnumSource(MergeStrategy.class)
  void writersDuringAThreeWayMergeLoseNothing(MergeStrategy strategy) throws Exception {
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    List<Mutation> batch = new ArrayList<>();
    for (int i = 0; i < DOCS; i++) {
      batch.add(new Mutation.Put(doc("k" + i, "base " + i, "t", i)));
    }
    main.write(C, batch, Durability.SYNC);
    MergeTesting.flush(main);
    Fork feat = fx.engine.createFork("feat", null, StrataEngine.MAIN, false, 0);
    batch.clear();
    for (int i = 0; i < CHANGED; i++) {
      batch.add(new Mutation.Put(doc("k" + i, "feat " + i, "t", i)));
    }
    feat.write(C, batch, Durability.SYNC);
    MergeTesting.flush(feat);
    main.write(C, put(doc("m0", "main moved", "t", 0)), Durability.SYNC); // no fast-forward

    boolean overlap = strategy != MergeStrategy.SOURCE_WINS;
    Map<String, String> lastAcked = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(3);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> tasks = new ArrayList<>();
    for (int w = 0; w < 3; w++) {
      int writer = w;
      tasks.add(pool.submit(() -> {
        int round = 0;
        started.countDown();
        while (!stop.get()) {
          round++;
          // Own keys: w<writer>-0..19; shared with the source's changes: k<j> for j = writer mod 3, below 60.
          String id = round % 2 == 0 || !overlap ? "w" + writer + "-" + (round % 20) : "k" + (3 * (round % 20) + writer);
          String body = "writer " + writer + " round " + round;
          main.write(C, put(doc(id, body, "t", round)), round % 3 == 0 ? Durability.ASYNC : Durability.SYNC);
          lastAcked.put(id, body);
        }
        return null;
      }));
    }
    tasks.add(pool.submit(() -> {
      while (!stop.get()) {
        MergeTesting.flush(main);
        Thread.sleep(5);
      }
      return null;
    }));
    started.await(10, TimeUnit.SECONDS);
    Thread.sleep(50);
    MergeResult r = MergeTesting.merge(fx.engine, "feat", "main", strategy);
    Thread.sleep(50);
    stop.set(true);
    for (Future<?> t : tasks) {
      t.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    if (r.ticket() != null) {
      MergeTesting.await(main, r.ticket());
    }
    MergeTesting.flush(main);

    boolean applied = r.outcome() == MergeResult.Outcome.THREE_WAY;
    assertThat(r.outcome()).as("%s", r).isIn(MergeResult.Outcome.THREE_WAY, MergeResult.Outcome.CONFLICTS);
    if (strategy != MergeStrategy.FAIL) {
      assertThat(applied).as("only FAIL refuses: %s", r).isTrue();
    }
    List<String> lost = new ArrayList<>();
    for (int i = 0; i < DOCS; i++) {
      String id = "k" + i;
      String expected = lastAcked.getOrDefault(id, applied && i < CHANGED ? "feat " + i : "base " + i);
      check(main, id, expected, lost);
    }
    lastAcked.forEach((id, body) -> check(main, id, body, lost));
    assertThat(lost).as("writes lost or merge changes missing (%s, %d writes)", r, lastAcked.size()).isEmpty();
    fx.crashAndReopen();
    Fork again = fx.engine.fork(StrataEngine.MAIN);
    lastAcked.forEach((id, body) -> check(again, id, body, lost));
    assertThat(lost).as("after a crash").isEmpty();
  }

  private static void check(Fork f, String id, String expected, List<String> lost) {
    var v = f.get(C, id);
    Document d = v == null ? null : v.document();
    String body = d == null ? null : EngineFixture.body(d);
    if (!expected.equals(body)) {
      lost.add(id + ": expected '" + expected + "', found '" + body + "'");
    }
  }
}
