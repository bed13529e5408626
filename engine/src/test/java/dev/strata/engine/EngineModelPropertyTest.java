package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import dev.strata.wal.WalOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * Model-based property of the whole engine (issue #3, test 7): random sequences of put, delete,
 * multi-mutation writes (the same id twice: last wins), flush + await, createFork (from a retained
 * snapshot or from a fork's head, with or without flush-first), dropFork, clean reopen and
 * simulated crash + reopen run against a real engine (RocksDB + Lucene) and against an in-memory
 * model: per fork, the state after every acknowledged write keyed by its WAL LSN (SPEC §5.3: a
 * snapshot sees exactly the writes with LSN ≤ its covered LSN), plus the model copy recorded for
 * every snapshot a flush ticket resolved to.
 *
 * <p>After every op: each live fork's head agrees with the model (Get of every id, Scan), its
 * manifest chain verifies, its head never goes back, and every retained snapshot not yet checked
 * since the last reopen/crash/fork/drop agrees with its model copy (Get of every id through {@link
 * PublishedSnapshot#get}, Scan at the snapshot, and Search for every vocabulary word: exactly the
 * ids whose body holds that word). After reopen, crash, createFork, dropFork and at the end every
 * retained snapshot is checked again (segments are shared between forks; a snapshot never
 * changes).
 *
 * <p>Writes are SYNC or ASYNC, and some steps write from several threads at once (the model
 * applies them in LSN order: the engine's newest-LSN-wins). A power loss keeps an unknown prefix of
 * the ASYNC writes: after a crash the model is cut back to the fork's recovered LSN, which must lie
 * between the WAL's durable LSN read just before the crash and the last LSN written. Explicit
 * compactions (a policy step or a full merge) and retention passes (keep 2) run in between; a
 * snapshot retention expired leaves the model, and every fork's head and every live fork's base
 * must survive it.
 *
 * <p>All randomness comes from jqwik's samples (picks are indexes taken modulo the current
 * choices), so the printed seed and shrunk sample replay a failure.
 */
class EngineModelPropertyTest {
  static final String COLL = "docs";
  /** A small id space so overwrites are common; UTF-8 byte order differs from UTF-16 for the last two. */
  static final List<String> IDS =
      List.of("a", "b", "c", "d", "e", "f", "g", "h", "k k", "é", "\uE000", "😀");
  static final List<String> WORDS = List.of("apple", "birch", "cedar", "delta", "ember", "fjord");
  static final List<String> TAGS = List.of("red", "green");
  static final List<String> FORK_NAMES = List.of("f1", "f2", "f3");
  static final long AWAIT_S = 30;
  /** About 1 s per try on 2 cores (each opens, reopens and closes a real engine). */
  static final int TRIES = 50;
  static final int MIN_OPS = 20;
  static final int MAX_OPS = 50;

  // ------------------------------------------------------------------------------------- ops

  /** One step; fork and snapshot choices are picks modulo what exists at that moment. */
  sealed interface Op {}

  /** A mutation inside a write. */
  record Mut(String id, boolean delete, List<String> words, String tag, long n) {
    Mutation toMutation() {
      return delete ? new Mutation.Delete(id) : new Mutation.Put(document());
    }

    Document document() {
      return EngineFixture.doc(id, String.join(" ", words), tag, n);
    }

    Mut withId(String other) {
      return new Mut(other, delete, words, tag, n);
    }

    @Override
    public String toString() {
      return delete ? "del(" + id + ")" : "put(" + id + "," + words + "," + tag + "," + n + ")";
    }
  }

  /** One write of one or more mutations (a put, a delete, or a batch). */
  record Write(int fork, List<Mut> muts, boolean async) implements Op {}

  /** Writes from several threads at once on one fork, each thread its own sequence. */
  record ConcurrentWrites(int fork, List<List<Mut>> perThread, boolean async) implements Op {}

  /** An explicit compaction: one policy step, or every segment of the head into one. */
  record Compact(int fork, boolean full) implements Op {}

  /** One retention and GC pass. */
  record Retention() implements Op {}

  record Flush(int fork) implements Op {}

  record CreateFork(int name, boolean fromHead, int source, boolean flushFirst) implements Op {}

  record DropFork(int fork) implements Op {}

  record Reopen() implements Op {}

  record CrashReopen() implements Op {}

  /** Engine options of one try. */
  record Config(long l0MaxBytes, int maxPendingFlushes, long walSegmentBytes, int streamThreads) {}

  @Provide
  Arbitrary<Config> configs() {
    return Combinators.combine(
            Arbitraries.of(1024L, 2048L, 16L << 10, 64L << 20),
            Arbitraries.integers().between(1, 3),
            // Tiny WAL segments make every published flush delete WAL files (truncation).
            Arbitraries.of(64L << 20, 300L, 4096L),
            Arbitraries.of(4, 1))
        .as(Config::new);
  }

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Integer> pick = Arbitraries.integers().between(0, 63);
    Arbitrary<String> id = Arbitraries.of(IDS);
    Arbitrary<List<String>> words = Arbitraries.of(WORDS).list().ofMinSize(1).ofMaxSize(4);
    Arbitrary<String> tag = Arbitraries.of(TAGS);
    Arbitrary<Long> n = Arbitraries.longs().between(0, 999);
    Arbitrary<Mut> put = Combinators.combine(id, words, tag, n).as((i, w, t, x) -> new Mut(i, false, w, t, x));
    Arbitrary<Mut> del = id.map(i -> new Mut(i, true, List.of(), "", 0));
    Arbitrary<Mut> mut = Arbitraries.frequencyOf(Tuple.of(3, put), Tuple.of(1, del));
    Arbitrary<Boolean> async = Arbitraries.of(false, false, true);
    Arbitrary<Op> single = Combinators.combine(pick, put, async).as((f, m, a) -> new Write(f, List.of(m), a));
    Arbitrary<Op> delete = Combinators.combine(pick, del, async).as((f, m, a) -> new Write(f, List.of(m), a));
    Arbitrary<Op> batch =
        Combinators.combine(pick, mut.list().ofMinSize(1).ofMaxSize(4), mut, async)
            .as(
                (f, ms, dup, a) -> {
                  // The same id twice in one write: the later mutation wins.
                  List<Mut> all = new ArrayList<>(ms);
                  all.add(dup.withId(ms.get(0).id()));
                  return new Write(f, all, a);
                });
    Arbitrary<Op> concurrent =
        Combinators.combine(pick, mut.list().ofMinSize(1).ofMaxSize(6).list().ofMinSize(2).ofMaxSize(3), async)
            .as(ConcurrentWrites::new);
    Arbitrary<Op> compact = Combinators.combine(pick, Arbitraries.of(false, true)).as(Compact::new);
    Arbitrary<Op> retention = Arbitraries.just(new Retention());
    Arbitrary<Op> flush = pick.map(Flush::new);
    Arbitrary<Op> createFork =
        Combinators.combine(pick, Arbitraries.of(true, false), pick, Arbitraries.of(false, true))
            .as(CreateFork::new);
    Arbitrary<Op> dropFork = pick.map(DropFork::new);
    Arbitrary<Op> reopen = Arbitraries.just(new Reopen());
    Arbitrary<Op> crash = Arbitraries.just(new CrashReopen());
    return Arbitraries.frequencyOf(
            Tuple.of(28, single),
            Tuple.of(8, delete),
            Tuple.of(10, batch),
            Tuple.of(14, flush),
            Tuple.of(8, createFork),
            Tuple.of(3, dropFork),
            Tuple.of(2, reopen),
            Tuple.of(3, crash),
            Tuple.of(5, concurrent),
            Tuple.of(3, compact),
            Tuple.of(3, retention))
        .list()
        .ofMinSize(MIN_OPS)
        .ofMaxSize(MAX_OPS)
        .withSizeDistribution(RandomDistribution.uniform());
  }

  // ------------------------------------------------------------------------------------- model

  /** Ids ordered by their UTF-8 bytes, the engine's key order. */
  static final Comparator<String> UTF8_ORDER =
      (a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

  static TreeMap<String, Document> copy(Map<String, Document> m) {
    TreeMap<String, Document> c = new TreeMap<>(UTF8_ORDER);
    c.putAll(m);
    return c;
  }

  /** The model of one fork: its state after every acknowledged write, by LSN. */
  static final class ModelFork {
    final String name;
    final String forkId;
    /** LSN → state after the write with that LSN; key 0 = the base (empty for main). */
    final TreeMap<Long, TreeMap<String, Document>> history = new TreeMap<>();
    TreeMap<String, Document> head;
    long lastLsn;
    /** Covered LSN of the newest snapshot a ticket resolved to (or that was seen as head). */
    long publishedLsn;

    ModelFork(String name, String forkId, Map<String, Document> base) {
      this.name = name;
      this.forkId = forkId;
      this.head = copy(base);
      history.put(0L, copy(base));
    }

    void apply(long lsn, List<Mut> muts) {
      assertThat(lsn).as("LSNs of fork %s strictly increase", name).isGreaterThan(lastLsn);
      TreeMap<String, Document> next = copy(head);
      for (Mut m : muts) {
        if (m.delete()) {
          next.remove(m.id());
        } else {
          next.put(m.id(), m.document());
        }
      }
      head = next;
      lastLsn = lsn;
      history.put(lsn, copy(next));
    }

    /**
     * After a power loss that kept the WAL up to {@code lsn}: later (ASYNC) writes never happened,
     * and their LSNs will be handed out again.
     */
    void cutBackTo(long lsn) {
      history.tailMap(lsn, false).clear();
      head = copy(history.floorEntry(lsn).getValue());
      lastLsn = lsn;
    }

    /** The state a snapshot covering {@code coveredLsn} must show. */
    TreeMap<String, Document> at(long coveredLsn) {
      return history.floorEntry(coveredLsn).getValue();
    }
  }

  /** A snapshot a flush ticket resolved to, with the model copy taken then. */
  record Recorded(String forkName, String forkId, TreeMap<String, Document> state) {}

  static final class Model {
    final Map<String, ModelFork> forks = new TreeMap<>();
    final Map<String, Recorded> snapshots = new LinkedHashMap<>();
    /** Snapshot ids checked since the last event that could change them. */
    final Set<String> verified = new HashSet<>();
    /** Every snapshot id ever checked, and how many of them no ticket resolved to (size flushes). */
    final Set<String> everChecked = new HashSet<>();
    int maxForks = 1;
    int forksCreated;
    int forksDropped;
    int crashes;
    int reopens;
    int asyncLost;
    int compactions;
    int expired;
  }

  // ------------------------------------------------------------------------------------- property

  @Property(tries = TRIES, shrinking = ShrinkingMode.BOUNDED)
  void engineAgreesWithModel(@ForAll("configs") Config config, @ForAll("ops") List<Op> ops) throws Exception {
    Path dir = Files.createTempDirectory("strata-model");
    EngineOptions options =
        EngineFixture.testOptions()
            .l0MaxBytes(config.l0MaxBytes())
            .maxPendingFlushes(config.maxPendingFlushes())
            .streamThreads(config.streamThreads())
            .writeStallTimeoutMs(30_000)
            .retention(new RetentionOptions(2, 0, 3_600_000))
            .wal(WalOptions.builder().segmentBytes(config.walSegmentBytes()).build())
            .build();
    try (EngineFixture fx = new EngineFixture(dir, options)) {
      Model model = new Model();
      Fork main = fx.engine.fork(StrataEngine.MAIN);
      main.createOrGetCollection(COLL, SCHEMA);
      ModelFork mainModel = new ModelFork(StrataEngine.MAIN, main.id(), Map.of());
      mainModel.lastLsn = main.stats().walLastLsn(); // the collection definition
      model.forks.put(StrataEngine.MAIN, mainModel);
      int step = 0;
      for (Op op : ops) {
        step++;
        String where = "step " + step + " " + op;
        apply(fx, model, op, where);
        check(fx, model, where);
      }
      model.verified.clear();
      check(fx, model, "final check");
      fx.reopen();
      model.verified.clear();
      check(fx, model, "after final reopen");
      long unrecorded = model.everChecked.stream().filter(id -> !model.snapshots.containsKey(id)).count();
      Statistics.label("snapshots checked").collect(bucket(model.everChecked.size()));
      Statistics.label("size-triggered snapshots (no ticket)").collect(bucket(unrecorded));
      Statistics.label("max live forks").collect(model.maxForks);
      Statistics.label("forks created / dropped").collect(model.forksCreated > 0, model.forksDropped > 0);
      Statistics.label("crash / clean reopen mid-run").collect(model.crashes > 0, model.reopens > 0);
      Statistics.label("ASYNC writes lost to a crash").collect(model.asyncLost > 0);
      Statistics.label("compactions / expired snapshots").collect(model.compactions > 0, model.expired > 0);
    } finally {
      deleteTree(dir);
    }
  }

  private static List<ModelFork> live(Model model) {
    return new ArrayList<>(model.forks.values());
  }

  private static void apply(EngineFixture fx, Model model, Op op, String where) throws Exception {
    StrataEngine engine = fx.engine;
    switch (op) {
      case Write w -> {
        List<ModelFork> forks = live(model);
        ModelFork mf = forks.get(w.fork() % forks.size());
        Fork f = engine.fork(mf.name);
        long lsn = f.write(COLL, w.muts().stream().map(Mut::toMutation).toList(), w.async() ? Durability.ASYNC : Durability.SYNC);
        mf.apply(lsn, w.muts());
      }
      case ConcurrentWrites cw -> concurrentWrites(engine, model, cw);
      case Compact c -> {
        List<ModelFork> forks = live(model);
        ModelFork mf = forks.get(c.fork() % forks.size());
        engine.compact(mf.name, c.full()).get(AWAIT_S, TimeUnit.SECONDS);
        model.compactions++;
        model.verified.clear();
      }
      case Retention r -> retention(engine, model, where);
      case Flush fl -> {
        List<ModelFork> forks = live(model);
        ModelFork mf = forks.get(fl.fork() % forks.size());
        Fork f = engine.fork(mf.name);
        FlushTicket t = f.flush(10_000);
        Manifest m = f.awaitTicket(t).get(AWAIT_S, TimeUnit.SECONDS);
        assertThat(m.getForkId()).as(where).isEqualTo(mf.forkId);
        assertThat(m.getCoveredLsn()).as("%s: the flushed snapshot covers every acknowledged write", where)
            .isGreaterThanOrEqualTo(mf.lastLsn);
        mf.publishedLsn = Math.max(mf.publishedLsn, m.getCoveredLsn());
        Recorded prev = model.snapshots.putIfAbsent(m.getId(), new Recorded(mf.name, mf.forkId, copy(mf.head)));
        if (prev != null) {
          assertThat(prev.state()).as("%s: snapshot %s resolved again with other contents", where, m.getId())
              .isEqualTo(mf.head);
        }
      }
      case CreateFork c -> createFork(engine, model, c, where);
      case DropFork d -> {
        List<ModelFork> forks = live(model).stream().filter(x -> !x.name.equals(StrataEngine.MAIN)).toList();
        if (forks.isEmpty()) {
          assertThatThrownBy(() -> engine.dropFork(StrataEngine.MAIN, 1000))
              .isInstanceOf(StrataException.class)
              .extracting(e -> ((StrataException) e).kind())
              .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
          return;
        }
        ModelFork mf = forks.get(d.fork() % forks.size());
        engine.dropFork(mf.name, 30_000);
        model.forks.remove(mf.name);
        model.forksDropped++;
        assertThatThrownBy(() -> engine.fork(mf.name))
            .isInstanceOf(StrataException.class)
            .extracting(e -> ((StrataException) e).kind())
            .isEqualTo(StrataException.Kind.NOT_FOUND);
        model.verified.clear();
      }
      case Reopen r -> {
        model.reopens++;
        fx.reopen();
        model.verified.clear();
      }
      case CrashReopen r -> {
        model.crashes++;
        // A power loss keeps at least what the WAL had fsynced when the crash began.
        Map<String, Long> durable = new LinkedHashMap<>();
        for (ModelFork mf : model.forks.values()) {
          durable.put(mf.name, engine.fork(mf.name).stats().walDurableLsn());
        }
        fx.crashAndReopen();
        for (ModelFork mf : model.forks.values()) {
          Fork f = fx.engine.fork(mf.name);
          long recovered = Math.max(f.stats().walLastLsn(), f.head().map(Manifest::getCoveredLsn).orElse(0L));
          assertThat(recovered)
              .as("%s: fork %s recovered LSN vs the durable LSN before the crash", where, mf.name)
              .isBetween(Math.min(durable.get(mf.name), mf.lastLsn), mf.lastLsn);
          if (recovered < mf.lastLsn) {
            model.asyncLost++;
            mf.cutBackTo(recovered);
          }
        }
        model.verified.clear();
      }
    }
  }

  private static final ExecutorService WRITERS = Executors.newFixedThreadPool(3, r -> {
    Thread t = new Thread(r, "model-writer");
    t.setDaemon(true);
    return t;
  });

  /** Several threads write at once; the model applies every acknowledged write in LSN order. */
  private static void concurrentWrites(StrataEngine engine, Model model, ConcurrentWrites cw) throws Exception {
    List<ModelFork> forks = live(model);
    ModelFork mf = forks.get(cw.fork() % forks.size());
    Fork f = engine.fork(mf.name);
    Durability d = cw.async() ? Durability.ASYNC : Durability.SYNC;
    List<Future<TreeMap<Long, Mut>>> threads = new ArrayList<>();
    for (List<Mut> seq : cw.perThread()) {
      threads.add(
          WRITERS.submit(
              () -> {
                TreeMap<Long, Mut> acked = new TreeMap<>();
                for (Mut m : seq) {
                  acked.put(f.write(COLL, List.of(m.toMutation()), d), m);
                }
                return acked;
              }));
    }
    TreeMap<Long, Mut> all = new TreeMap<>();
    for (Future<TreeMap<Long, Mut>> t : threads) {
      all.putAll(t.get(AWAIT_S, TimeUnit.SECONDS));
    }
    all.forEach((lsn, m) -> mf.apply(lsn, List.of(m)));
  }

  /**
   * One retention pass: snapshots past "keep 2" go, but never a fork's head or a live fork's base;
   * the model forgets the recorded copies of those that went.
   */
  private static void retention(StrataEngine engine, Model model, String where) {
    engine.runRetention();
    Set<String> retained = new HashSet<>();
    for (ModelFork mf : model.forks.values()) {
      Fork f = engine.fork(mf.name);
      f.listSnapshots().forEach(m -> retained.add(m.getId()));
      f.head().ifPresent(h -> assertThat(retained).as("%s: head of %s", where, mf.name).contains(h.getId()));
    }
    for (ModelFork mf : model.forks.values()) {
      String base = engine.fork(mf.name).entry().baseSnapshotId();
      if (!base.isEmpty() && model.forks.values().stream().anyMatch(o -> base.startsWith(o.forkId + "-"))) {
        assertThat(retained).as("%s: base %s of live fork %s", where, base, mf.name).contains(base);
      }
    }
    int before = model.snapshots.size();
    model.snapshots.keySet().removeIf(id -> !retained.contains(id) && model.forks.values().stream().anyMatch(mf -> id.startsWith(mf.forkId + "-")));
    model.expired += before - model.snapshots.size();
    model.verified.clear();
  }

  private static void createFork(StrataEngine engine, Model model, CreateFork c, String where) {
    String name = FORK_NAMES.get(c.name() % FORK_NAMES.size());
    if (model.forks.containsKey(name)) {
      assertThatThrownBy(() -> engine.createFork(name, null, StrataEngine.MAIN, false, 1000))
          .as(where)
          .isInstanceOf(StrataException.class)
          .extracting(e -> ((StrataException) e).kind())
          .isEqualTo(StrataException.Kind.ALREADY_EXISTS);
      return;
    }
    Fork created;
    if (c.fromHead()) {
      List<ModelFork> forks = live(model);
      ModelFork src = forks.get(c.source() % forks.size());
      Fork s = engine.fork(src.name);
      if (!c.flushFirst() && s.head().isEmpty()) {
        assertThatThrownBy(() -> engine.createFork(name, null, src.name, false, 1000))
            .as(where)
            .isInstanceOf(StrataException.class)
            .extracting(e -> ((StrataException) e).kind())
            .isEqualTo(StrataException.Kind.FAILED_PRECONDITION);
        return;
      }
      created = engine.createFork(name, null, src.name, c.flushFirst(), AWAIT_S * 1000);
    } else {
      List<Manifest> all = new ArrayList<>();
      for (ModelFork mf : live(model)) {
        all.addAll(engine.fork(mf.name).listSnapshots());
      }
      if (all.isEmpty()) {
        return;
      }
      Manifest from = all.get(c.source() % all.size());
      created = engine.createFork(name, from.getId(), null, false, 0);
    }
    // The base the engine chose (a background flush may have moved a head since we looked).
    String baseId = created.entry().baseSnapshotId();
    ModelFork src =
        model.forks.values().stream()
            .filter(mf -> baseId.startsWith(mf.forkId + "-"))
            .findFirst()
            .orElseThrow(() -> new AssertionError(where + ": base " + baseId + " is of no live fork"));
    Manifest base = engine.fork(src.name).loadSnapshot(baseId);
    if (c.fromHead() && c.flushFirst()) {
      assertThat(base.getCoveredLsn()).as("%s: flush_first base covers every write", where)
          .isGreaterThanOrEqualTo(src.lastLsn);
    }
    TreeMap<String, Document> state = src.at(base.getCoveredLsn());
    Recorded rec = model.snapshots.get(baseId);
    if (rec != null) {
      assertThat(state).as("%s: recorded copy of %s", where, baseId).isEqualTo(rec.state());
    }
    model.forks.put(name, new ModelFork(name, created.id(), state));
    model.forksCreated++;
    model.maxForks = Math.max(model.maxForks, model.forks.size());
    Manifest first = created.head().orElseThrow(() -> new AssertionError(where + ": new fork has no head"));
    assertThat(first.getBaseSnapshotId()).as(where).isEqualTo(baseId);
    assertThat(first.getParentId()).as(where).isEqualTo(baseId);
    model.verified.clear();
  }

  // ------------------------------------------------------------------------------------- checks

  private static void check(EngineFixture fx, Model model, String where) throws Exception {
    StrataEngine engine = fx.engine;
    assertThat(engine.openForks().stream().map(Fork::name).toList())
        .as("%s: open forks", where)
        .containsExactlyElementsOf(model.forks.keySet());
    for (ModelFork mf : model.forks.values()) {
      Fork f = engine.fork(mf.name);
      String at = where + ", fork " + mf.name;
      assertThat(f.id()).as(at).isEqualTo(mf.forkId);
      assertThat(f.readOnlyReason()).as(at).isNull();
      assertThat(f.verifyChain()).as("%s: manifest chain", at).isEmpty();
      // Head: Get of every id and Scan (L0 + frozen + head segments).
      for (String id : IDS) {
        assertThat(doc(f.get(COLL, id))).as("%s: Get(%s) at head", at, id).isEqualTo(mf.head.get(id));
      }
      assertThat(f.scan(COLL, "", 1000, null).stream().map(SegmentEntry::id).toList())
          .as("%s: Scan at head", at)
          .containsExactlyElementsOf(mf.head.keySet());
      String start = IDS.get(Math.floorMod(where.hashCode(), IDS.size()));
      assertThat(f.scan(COLL, start, 3, null).stream().map(SegmentEntry::id).toList())
          .as("%s: Scan at head from '%s', limit 3", at, start)
          .containsExactlyElementsOf(mf.head.tailMap(start, true).keySet().stream().limit(3).toList());
      // Published state never goes back (not even after a crash). A size-triggered flush may
      // publish at any moment, so take one reference on the head and read everything through it.
      Manifest head = null;
      PublishedSnapshot h = f.acquireHead();
      if (h != null) {
        try {
          head = h.manifest();
          checkSearch(f, h, mf.at(head.getCoveredLsn()), at + ", head snapshot " + head.getId());
          // Search with no snapshot = the head snapshot, never L0; comparable when the head did
          // not move during the call.
          Map<String, SearchResult> byDefault = new LinkedHashMap<>();
          for (String word : WORDS) {
            byDefault.put(word, f.search(COLL, SearchQuery.of(word, 100), null));
          }
          if (f.head().map(Manifest::getId).orElse("").equals(head.getId())) {
            for (String word : WORDS) {
              checkSearchResult(
                  byDefault.get(word),
                  word,
                  mf.at(head.getCoveredLsn()),
                  at + ", default (head) snapshot " + head.getId());
            }
          }
        } finally {
          h.release();
        }
      }
      long headLsn = head == null ? 0 : head.getCoveredLsn();
      assertThat(headLsn).as("%s: head covered LSN", at).isGreaterThanOrEqualTo(mf.publishedLsn);
      mf.publishedLsn = headLsn;
      List<Manifest> snaps = f.listSnapshots();
      if (head != null) {
        assertThat(snaps.stream().map(Manifest::getId).toList()).as(at).contains(head.getId());
      }
      long prevSeq = -1;
      for (Manifest m : snaps) {
        assertThat(m.getForkId()).as(at).isEqualTo(mf.forkId);
        assertThat(m.getSeq()).as("%s: seqs increase", at).isGreaterThan(prevSeq);
        prevSeq = m.getSeq();
        model.everChecked.add(m.getId());
        if (model.verified.add(m.getId())) {
          checkSnapshot(engine, f, mf, m, model.snapshots.get(m.getId()), at + ", snapshot " + m.getId());
        }
      }
      // Every snapshot a ticket resolved to stays retained until a retention pass expires it.
      for (Map.Entry<String, Recorded> e : model.snapshots.entrySet()) {
        if (e.getValue().forkId().equals(mf.forkId)) {
          assertThat(snaps.stream().map(Manifest::getId).toList())
              .as("%s: recorded snapshot %s is retained", at, e.getKey())
              .contains(e.getKey());
        }
      }
    }
  }

  private static void checkSnapshot(
      StrataEngine engine, Fork f, ModelFork mf, Manifest m, Recorded rec, String at) {
    TreeMap<String, Document> expected = mf.at(m.getCoveredLsn());
    if (rec != null) {
      assertThat(expected).as("%s: model copy recorded at flush vs. model at covered LSN %d", at, m.getCoveredLsn())
          .isEqualTo(rec.state());
    }
    PublishedSnapshot snap = f.acquireSnapshot(m.getId());
    try {
      assertThat(snap.id()).as(at).isEqualTo(m.getId());
      for (String id : IDS) {
        assertThat(doc(snap.get(engine.segments(), COLL, id)))
            .as("%s: Get(%s) at snapshot (covered LSN %d)", at, id, m.getCoveredLsn())
            .isEqualTo(expected.get(id));
      }
      assertThat(f.scan(COLL, "", 1000, snap).stream().map(SegmentEntry::id).toList())
          .as("%s: Scan at snapshot", at)
          .containsExactlyElementsOf(expected.keySet());
      checkSearch(f, snap, expected, at);
    } finally {
      snap.release();
    }
  }

  private static void checkSearch(Fork f, PublishedSnapshot snap, Map<String, Document> expected, String at) {
    for (String word : WORDS) {
      checkSearchResult(f.search(COLL, SearchQuery.of(word, 100), snap), word, expected, at);
    }
    checkSearchResult(f.search(COLL, SearchQuery.of("*", 100), snap), "*", expected, at);
  }

  private static void checkSearchResult(SearchResult r, String word, Map<String, Document> expected, String at) {
    Set<String> want = new TreeSet<>();
    for (Document d : expected.values()) {
      if (word.equals("*") || Arrays.asList(EngineFixture.body(d).split(" ")).contains(word)) {
        want.add(d.id());
      }
    }
    Set<String> got = new TreeSet<>();
    for (SearchHit h : r.hits()) {
      assertThat(got.add(h.id())).as("%s: search '%s' returned %s twice", at, word, h.id()).isTrue();
      assertThat(h.document()).as("%s: search '%s' hit %s", at, word, h.id()).isEqualTo(expected.get(h.id()));
    }
    assertThat(got).as("%s: search '%s'", at, word).isEqualTo(want);
    assertThat(r.totalHits()).as("%s: search '%s' totalHits", at, word).isEqualTo(want.size());
  }

  private static String bucket(long n) {
    return n == 0 ? "0" : n <= 3 ? "1-3" : n <= 10 ? "4-10" : n <= 30 ? "11-30" : ">30";
  }

  private static Document doc(DocumentVersion v) {
    return v == null || v.isTombstone() ? null : v.document();
  }

  static void deleteTree(Path root) throws IOException {
    dev.strata.vfs.LocalVfs.INSTANCE.deleteRecursively(root);
  }
}
