package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.Mutation;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Conflicts are detected exactly (issue 16): random writes on a base fork, then on a source and a
 * target forked from it (the target's partly flushed, partly still in L0), then a merge of the
 * source into the target with each strategy, compared with a map model of three-way merging:
 *
 * <pre>
 * per key: b = base, s = source, t = target (absent = deleted or never written)
 *   s == b            → t            (the source did not change it)
 *   t == b            → s            (only the source changed it)
 *   t == s            → t            (both made the same change)
 *   otherwise         → a conflict: FAIL applies nothing at all, SOURCE_WINS → s, TARGET_WINS → t
 * </pre>
 *
 * Checked: the outcome (fast-forward exactly when the target took no write and the source did; up
 * to date when the source took none, or changed no document's content against a written target; conflicts under FAIL exactly when the model has some), the conflict list
 * (keys, and which side deleted), the counts, and the target's whole state at its head — before and
 * after the flush that publishes the merge. One engine serves every try; each try's forks are
 * dropped after it.
 */
class MergeModelPropertyTest {
  private static final String C = "docs";
  private static final int KEYS = 6;
  private static StrataEngine engine;
  private static Path dir;
  private static final AtomicInteger TRY = new AtomicInteger();

  /** One write: key {@code key}, value {@code value} (-1 deletes). */
  record Op(int key, int value) {}

  @Provide
  Arbitrary<Op> ops() {
    return Combinators.combine(Arbitraries.integers().between(0, KEYS - 1), Arbitraries.integers().between(-1, 2))
        .as(Op::new);
  }

  @BeforeContainer
  static void openEngine() throws Exception {
    dir = Files.createTempDirectory("merge-model");
    engine = StrataEngine.open(dir, LocalVfs.INSTANCE, EngineFixture.testOptions().streamThreads(2).build());
    Fork main = engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    main.write(C, put(doc("seed", "seed", "t", 1)), Durability.SYNC);
    MergeTesting.flush(main);
  }

  @AfterContainer
  static void closeEngine() throws Exception {
    engine.close();
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Property(tries = 25, shrinking = ShrinkingMode.BOUNDED)
  void aMergeEqualsTheThreeWayModelUnderEveryStrategy(
      @ForAll @Size(max = 8) List<@From("ops") Op> baseOps,
      @ForAll @Size(max = 6) List<@From("ops") Op> sourceOps,
      @ForAll @Size(max = 6) List<@From("ops") Op> targetOps,
      @ForAll boolean flushTargetFirstHalf)
      throws Exception {
    int n = TRY.incrementAndGet();
    List<String> made = new ArrayList<>();
    try {
      Fork base = fork("base" + n, StrataEngine.MAIN, made);
      Map<String, String> b = apply(base, baseOps, new TreeMap<>());
      MergeTesting.flush(base);
      Fork source = fork("src" + n, base.name(), made);
      Map<String, String> s = apply(source, sourceOps, new TreeMap<>(b));
      MergeTesting.flush(source);
      for (MergeStrategy strategy : MergeStrategy.values()) {
        Fork target = fork("t" + strategy.ordinal() + "-" + n, base.name(), made);
        Map<String, String> t = new TreeMap<>(b);
        int half = flushTargetFirstHalf ? targetOps.size() / 2 : 0;
        apply(target, targetOps.subList(0, half), t);
        if (half > 0) {
          MergeTesting.flush(target);
        }
        apply(target, targetOps.subList(half, targetOps.size()), t);
        check(strategy, target, source, b, s, t, sourceOps.isEmpty(), targetOps.isEmpty());
      }
    } finally {
      for (int i = made.size() - 1; i >= 0; i--) {
        engine.dropFork(made.get(i), 10_000);
      }
    }
  }

  private static Fork fork(String name, String from, List<String> made) {
    Fork f = engine.createFork(name, null, from, false, 0);
    made.add(name);
    return f;
  }

  /** Applies {@code ops} to the fork and to {@code model} ("id" → body); returns the model. */
  private static Map<String, String> apply(Fork f, List<Op> ops, Map<String, String> model) {
    for (Op op : ops) {
      String id = "k" + op.key();
      if (op.value() < 0) {
        f.write(C, List.of(new Mutation.Delete(id)), Durability.SYNC);
        model.remove(id);
      } else {
        f.write(C, put(doc(id, "v" + op.value(), "t", 1)), Durability.SYNC);
        model.put(id, "v" + op.value());
      }
    }
    return model;
  }

  private static void check(
      MergeStrategy strategy,
      Fork target,
      Fork source,
      Map<String, String> b,
      Map<String, String> s,
      Map<String, String> t,
      boolean sourceUntouched,
      boolean targetUntouched)
      throws Exception {
    Map<String, String> expected = new TreeMap<>();
    Map<String, Boolean[]> conflicts = new TreeMap<>(); // id → {source deleted, target deleted}
    List<String> keys = new ArrayList<>();
    Stream.of(b.keySet(), s.keySet(), t.keySet()).forEach(keys::addAll);
    Map<String, Boolean> changedBySource = new HashMap<>();
    for (String k : new TreeSet<>(keys)) {
      String bv = b.get(k);
      String sv = s.get(k);
      String tv = t.get(k);
      String out;
      if (Objects.equals(sv, bv)) {
        out = tv;
      } else if (Objects.equals(tv, bv)) {
        out = sv;
        changedBySource.put(k, true);
      } else if (Objects.equals(tv, sv)) {
        out = tv;
      } else {
        conflicts.put(k, new Boolean[] {sv == null, tv == null});
        out = strategy == MergeStrategy.SOURCE_WINS ? sv : tv;
        if (strategy == MergeStrategy.SOURCE_WINS) {
          changedBySource.put(k, true);
        }
      }
      if (out != null) {
        expected.put(k, out);
      }
    }
    boolean sourceChanged = b.keySet().stream().anyMatch(k -> !Objects.equals(b.get(k), s.get(k)))
        || s.keySet().stream().anyMatch(k -> !b.containsKey(k));
    boolean blocked = strategy == MergeStrategy.FAIL && !conflicts.isEmpty();
    if (blocked) {
      expected = new TreeMap<>(t);
    }

    MergeResult r = MergeTesting.merge(engine, source.name(), target.name(), strategy);
    String where = strategy + " " + r;
    if (sourceUntouched) {
      assertThat(r.outcome()).as(where).isEqualTo(MergeResult.Outcome.UP_TO_DATE);
    } else if (targetUntouched) {
      // Structural: the source wrote (maybe rewriting the same values), the target did not.
      assertThat(r.outcome()).as(where).isEqualTo(MergeResult.Outcome.FAST_FORWARD);
    } else if (blocked) {
      assertThat(r.outcome()).as(where).isEqualTo(MergeResult.Outcome.CONFLICTS);
    } else if (!sourceChanged) {
      assertThat(r.outcome()).as(where).isEqualTo(MergeResult.Outcome.UP_TO_DATE);
    } else {
      assertThat(r.outcome()).as(where).isIn(MergeResult.Outcome.THREE_WAY, MergeResult.Outcome.UP_TO_DATE);
      assertThat(r.outcome() == MergeResult.Outcome.THREE_WAY).as(where).isEqualTo(!changedBySource.isEmpty());
    }
    if (!targetUntouched) {
      assertThat(r.conflictCount()).as(where).isEqualTo(conflicts.size());
      assertThat(r.conflicts()).extracting(MergeResult.Conflict::id).as(where).containsExactlyElementsOf(conflicts.keySet());
      for (MergeResult.Conflict c : r.conflicts()) {
        Boolean[] deleted = conflicts.get(c.id());
        assertThat(c.sourceDeleted()).as(where + " " + c).isEqualTo(deleted[0]);
        assertThat(c.targetDeleted()).as(where + " " + c).isEqualTo(deleted[1]);
        assertThat(c.targetLsn()).as(where + " " + c).isPositive();
      }
    }
    assertThat(ids(MergeTesting.state(target))).as(where).isEqualTo(expected);
    if (r.ticket() != null) {
      MergeTesting.await(target, r.ticket());
      assertThat(ids(MergeTesting.state(target))).as(where + " once published").isEqualTo(expected);
    }
  }

  /** "docs/k1" → "k1", without the seed document every fork inherits from main. */
  private static Map<String, String> ids(Map<String, String> state) {
    Map<String, String> out = new TreeMap<>();
    state.forEach((k, v) -> {
      String id = k.substring(C.length() + 1);
      if (!id.equals("seed")) {
        out.put(id, v);
      }
    });
    return out;
  }
}
