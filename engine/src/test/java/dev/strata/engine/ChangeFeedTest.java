package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The change feed (issue 16): a consumer that applies each change as it comes, remembers only the
 * last snapshot whose changes it completed, stops at random points (mid-snapshot too) and resumes
 * from there — through flushes, compactions, clean restarts, kill -9 and a fast-forward merge —
 * holds exactly the fork's state (compared with Scan at the head) whenever it has caught up. An
 * expired position fails with the documented error naming the oldest retained snapshot; a tag
 * keeps a position alive; a cursor held open rides over snapshots retention expired meanwhile.
 */
class ChangeFeedTest {
  private static final String C = "docs";

  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  private static EngineOptions options(int keep) {
    return EngineFixture.testOptions().retention(new RetentionOptions(keep, 0, 3_600_000)).build();
  }

  /** A consumer: its copy of the fork's documents and its persisted position. */
  private static final class Consumer {
    final Map<String, String> state = new TreeMap<>();
    String position;
    long changesSeen;

    /** Reads from the position; stops after {@code budget} changes (-1: until caught up). */
    void consume(StrataEngine e, String fork, long budget) {
      long[] left = {budget};
      try (ChangeFeed.Cursor cursor = e.openChanges(fork, position)) {
        e.readChanges(
            cursor,
            null,
            new ChangeFeed.Sink() {
              @Override
              public boolean change(ChangeFeed.Change c) {
                if (left[0] == 0) {
                  return false; // stops mid-snapshot: the position stays at the last complete one
                }
                left[0]--;
                changesSeen++;
                String key = c.collection() + "/" + c.id();
                if (c.document() == null) {
                  state.remove(key);
                } else {
                  state.put(key, ((FieldValue.Str) c.document().decode().fields().get("body")).value());
                }
                return true;
              }

              @Override
              public boolean snapshotDone(Manifest snapshot) {
                position = snapshot.getId();
                return left[0] != 0;
              }
            });
      }
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {1L, 2L, 3L})
  void aConsumerThatStopsAndResumesAnywhereReproducesTheFork(long seed) throws Exception {
    System.out.println("ChangeFeedTest seed " + seed);
    Random rnd = new Random(seed);
    fx = new EngineFixture(dir, options(1000));
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    main.createOrGetCollection("other", SCHEMA);
    Consumer consumer = new Consumer();
    consumer.position = MergeTesting.flush(main).getId(); // the empty state: where the consumer starts
    for (int round = 0; round < 40; round++) {
      int writes = 1 + rnd.nextInt(8);
      for (int i = 0; i < writes; i++) {
        String coll = rnd.nextInt(5) == 0 ? "other" : C;
        String id = "d" + rnd.nextInt(30);
        if (rnd.nextInt(4) == 0) {
          main.write(coll, List.of(new Mutation.Delete(id)), Durability.SYNC);
        } else {
          main.write(coll, put(doc(id, "r" + round + " w" + i, "t", round)), Durability.SYNC);
        }
      }
      int action = rnd.nextInt(10);
      if (action < 6) {
        MergeTesting.flush(main);
      } else if (action == 6) {
        fx.engine.compact(StrataEngine.MAIN, rnd.nextBoolean()).get(30, TimeUnit.SECONDS);
      } else if (action == 7) {
        fx.reopen();
      } else if (action == 8) {
        fx.crashAndReopen(); // SYNC writes come back from the WAL and reach a later snapshot
      } else {
        mergeSomething(rnd, round);
      }
      main = fx.engine.fork(StrataEngine.MAIN);
      if (rnd.nextBoolean()) {
        // A budget may end mid-snapshot: the consumer keeps what it applied, its position stays.
        consumer.consume(fx.engine, StrataEngine.MAIN, rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(12));
      }
    }
    MergeTesting.flush(main);
    consumer.consume(fx.engine, StrataEngine.MAIN, -1);
    assertThat(consumer.position).isEqualTo(main.head().orElseThrow().getId());
    assertThat(consumer.state).as("seed %d, %d changes", seed, consumer.changesSeen).isEqualTo(MergeTesting.state(main));
  }

  /** A fork of main gets a few writes and is merged back (a fast-forward when main is idle). */
  private void mergeSomething(Random rnd, int round) throws Exception {
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    MergeTesting.flush(main);
    Fork f = fx.engine.createFork("f" + round, null, StrataEngine.MAIN, false, 0);
    f.write(C, put(doc("d" + rnd.nextInt(30), "from fork " + round, "t", round)), Durability.SYNC);
    f.write(C, List.of(new Mutation.Delete("d" + rnd.nextInt(30))), Durability.SYNC);
    MergeTesting.flush(f);
    MergeResult r = MergeTesting.merge(fx.engine, f.name(), StrataEngine.MAIN, MergeStrategy.SOURCE_WINS);
    assertThat(r.outcome()).isEqualTo(MergeResult.Outcome.FAST_FORWARD);
    MergeTesting.await(main, r.ticket());
  }

  @Test
  void anExpiredPositionFailsNamingTheOldestRetainedSnapshotAndATagKeepsOneAlive() throws Exception {
    fx = new EngineFixture(dir, options(2));
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    main.write(C, put(doc("a", "one", "t", 1)), Durability.SYNC);
    String old = MergeTesting.flush(main).getId();
    main.write(C, put(doc("b", "two", "t", 1)), Durability.SYNC);
    String tagged = MergeTesting.flush(main).getId();
    fx.engine.tagSnapshot(tagged, "feed-position");
    for (int i = 0; i < 4; i++) {
      main.write(C, put(doc("c" + i, "more", "t", 1)), Durability.SYNC);
      MergeTesting.flush(main);
    }
    fx.engine.runRetention();
    String oldest = main.retainedSnapshots().get(0).id();
    assertThatThrownBy(() -> fx.engine.openChanges(StrataEngine.MAIN, old))
        .isInstanceOf(StrataException.class)
        .hasMessageContaining("'" + old + "' has expired")
        .hasMessageContaining("the oldest retained snapshot is '" + oldest + "'")
        .satisfies(e -> assertThat(((StrataException) e).kind()).isEqualTo(StrataException.Kind.FAILED_PRECONDITION));
    Consumer c = new Consumer();
    c.state.put(C + "/a", "one");
    c.state.put(C + "/b", "two");
    c.position = tagged; // a tagged position outlives retention
    c.consume(fx.engine, StrataEngine.MAIN, -1);
    assertThat(c.state).isEqualTo(MergeTesting.state(main));
    assertThatThrownBy(() -> fx.engine.openChanges(StrataEngine.MAIN, "other-0123456789abcdef-000000000001"))
        .satisfies(e -> assertThat(((StrataException) e).kind()).isEqualTo(StrataException.Kind.INVALID_ARGUMENT));
  }

  @Test
  void anOpenCursorRidesOverSnapshotsExpiredMeanwhileAndAForkFeedStartsAtItsBase() throws Exception {
    fx = new EngineFixture(dir, options(1));
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    main.write(C, put(doc("a", "one", "t", 1)), Durability.SYNC);
    Manifest start = MergeTesting.flush(main);
    Fork child = fx.engine.createFork("child", start.getId(), null, false, 0);
    List<ChangeFeed.Change> seen = new ArrayList<>();
    ChangeFeed.Sink collect =
        new ChangeFeed.Sink() {
          @Override
          public boolean change(ChangeFeed.Change ch) {
            seen.add(ch);
            return true;
          }

          @Override
          public boolean snapshotDone(Manifest snapshot) {
            return true;
          }
        };
    try (ChangeFeed.Cursor cursor = fx.engine.openChanges(StrataEngine.MAIN, start.getId())) {
      for (int i = 0; i < 3; i++) {
        main.write(C, put(doc("k" + i, "v" + i, "t", 1)), Durability.SYNC);
        main.write(C, List.of(new Mutation.Delete(i == 0 ? "a" : "k" + (i - 1))), Durability.SYNC);
        MergeTesting.flush(main);
      }
      fx.engine.runRetention(); // keeps only the head: the cursor's snapshot and the next ones expire
      assertThat(main.retainedSnapshots()).hasSize(2); // the head, and the fork base
      assertThat(fx.engine.readChanges(cursor, C, collect)).isTrue();
      assertThat(cursor.snapshotId()).isEqualTo(main.head().orElseThrow().getId());
    }
    Map<String, String> applied = new TreeMap<>(Map.of(C + "/a", "one"));
    for (ChangeFeed.Change ch : seen) {
      if (ch.document() == null) {
        applied.remove(C + "/" + ch.id());
      } else {
        applied.put(C + "/" + ch.id(), ((FieldValue.Str) ch.document().decode().fields().get("body")).value());
      }
    }
    assertThat(applied).isEqualTo(MergeTesting.state(main));

    child.write(C, put(doc("c", "on the child", "t", 1)), Durability.SYNC);
    MergeTesting.flush(child);
    seen.clear();
    try (ChangeFeed.Cursor cursor = fx.engine.openChanges("child", child.entry().baseSnapshotId())) {
      fx.engine.readChanges(cursor, null, collect);
    }
    assertThat(seen).singleElement().satisfies(ch -> assertThat(ch.id()).isEqualTo("c"));
  }
}
