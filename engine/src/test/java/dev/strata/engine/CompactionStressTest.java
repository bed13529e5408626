package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.compaction.CompactionHooks;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.wal.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #5, test 1: about 200 compactions (full merges and policy steps) over 8 forks, 4 running
 * at a time ({@code compaction.max_concurrent = 4}), while {@link FaultInjectingVfs#failRandomly}
 * fails the compaction jobs' own file operations (on {@code strata-compaction-*} threads, under
 * {@code <data>/tmp/} and {@code <data>/segments/}) and a {@link CompactionHooks} throws at random
 * steps. An in-memory model per fork (forks made from main's snapshots start from that snapshot's
 * state) is compared after every round and at the end (Get of every id, Scan, Search per word).
 *
 * <p>Asserts: every failed compaction failed because of an injected fault (nothing else); no job
 * directory name was ever created twice; every job directory created was deleted by its job unless
 * that very delete was injected to fail (and those go at the next open); reads match the model;
 * {@code verify()} is empty; after retention + GC the segments on disk are exactly those the
 * retained manifests refer to; the same after a clean reopen.
 */
class CompactionStressTest {
  static final String COLL = "docs";
  static final List<String> WORDS = List.of("apple", "birch", "cedar", "delta", "ember", "fjord");
  static final int IDS_PER_FORK = 30;
  static final int DRIVERS = 4;
  /** Rounds per driver; each round issues 2–4 compactions, so about 200 in all. */
  static final int ROUNDS = 22;
  static final long SEED = Long.getLong("strata.stress.seed", 0x5EED_C0FFEEL);
  static final double VFS_FAULT_P = 0.04;
  static final double HOOK_FAULT_P = 0.03;

  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  /** Thrown by the test's hook: an injected failure. */
  static final class HookFailure extends Exception {
    HookFailure(String m) {
      super(m);
    }
  }

  /** One fork's expected state (only its driver thread touches it during the run). */
  static final class ModelFork {
    final String name;
    final TreeMap<String, Document> state;

    ModelFork(String name, Map<String, Document> base) {
      this.name = name;
      this.state = new TreeMap<>(base);
    }
  }

  // What the VFS predicate saw (it runs for every call, under the fault injector's monitor).
  final Set<String> jobDirsCreated = ConcurrentHashMap.newKeySet();
  final ConcurrentLinkedQueue<String> jobDirCollisions = new ConcurrentLinkedQueue<>();
  final Set<Path> jobDirsDeleteFailed = ConcurrentHashMap.newKeySet();
  final AtomicInteger vfsFaults = new AtomicInteger();
  final AtomicInteger hookFaults = new AtomicInteger();
  volatile boolean faultsOn;

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void twoHundredCompactionsAcrossEightForksWithInjectedFaults() throws Exception {
    long t0 = System.nanoTime();
    Random hookRandom = new Random(SEED ^ 0x1234);
    CompactionHooks hooks =
        (fork, step) -> {
          if (!faultsOn || step == CompactionHooks.Step.PUBLISHED) {
            return;
          }
          boolean fail;
          synchronized (hookRandom) {
            fail = hookRandom.nextDouble() < HOOK_FAULT_P;
          }
          if (fail) {
            hookFaults.incrementAndGet();
            throw new HookFailure("injected hook failure at " + step + " on fork " + fork);
          }
        };
    CompactionOptions copts =
        CompactionOptions.defaults()
            .withEnabled(false) // the test issues every compaction itself
            .withMaxConcurrent(4)
            .withMergeFactor(2) // tiny segments are all one tier: a policy step merges 2-3 of them
            .withWriteRateBytesPerSec(0);
    EngineOptions options =
        EngineFixture.testOptions()
            .compaction(copts)
            .compactionHooks(hooks)
            // Retention runs only when the test calls runRetention: keep 2 snapshots per fork.
            .retention(new RetentionOptions(2, 0, 3_600_000))
            .build();
    fx = new EngineFixture(dir, options);
    Path tmp = dir.resolve("tmp");
    Path segs = dir.resolve("segments");
    Random vfsRandom = new Random(SEED);
    fx.vfs.failRandomly(
        (op, path) -> {
          String p = path.toString();
          boolean jobDir = p.startsWith(tmp.toString() + "/");
          if (jobDir && op == FaultInjectingVfs.Op.CREATE_DIRS && !p.contains(" -> ")) {
            if (!jobDirsCreated.add(path.getFileName().toString())) {
              jobDirCollisions.add(p);
            }
          }
          if (!faultsOn
              || !Thread.currentThread().getName().startsWith("strata-compaction-")
              || !(jobDir || p.startsWith(segs.toString() + "/") || p.equals(segs.toString()) || p.equals(tmp.toString()))) {
            return false;
          }
          if (vfsRandom.nextDouble() >= VFS_FAULT_P) {
            return false;
          }
          vfsFaults.incrementAndGet();
          if (op == FaultInjectingVfs.Op.DELETE && jobDir) {
            jobDirsDeleteFailed.add(path);
          }
          return true;
        },
        1.0,
        SEED);

    StrataEngine engine = fx.engine;
    Fork main = engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(COLL, SCHEMA);
    Map<String, ModelFork> model = new LinkedHashMap<>();
    ModelFork mainModel = new ModelFork(StrataEngine.MAIN, Map.of());
    model.put(StrataEngine.MAIN, mainModel);
    Random setup = new Random(SEED + 1);

    // Main: four flushed rounds; remember each snapshot's state, then fork from old snapshots, from
    // the head, and from a compacted head.
    List<String> mainSnaps = new ArrayList<>();
    Map<String, TreeMap<String, Document>> snapState = new LinkedHashMap<>();
    for (int round = 0; round < 4; round++) {
      writeRandom(main, mainModel, setup, 12);
      Manifest m = flush(main);
      mainSnaps.add(m.getId());
      snapState.put(m.getId(), new TreeMap<>(mainModel.state));
    }
    forkFromSnapshot(engine, model, "f1", mainSnaps.get(0), snapState);
    forkFromSnapshot(engine, model, "f2", mainSnaps.get(1), snapState);
    forkFromSnapshot(engine, model, "f3", mainSnaps.get(2), snapState);
    forkFromHead(engine, model, "f4", mainModel);
    CompactionResult first = engine.compact(StrataEngine.MAIN, true).get(60, TimeUnit.SECONDS);
    assertThat(first.published()).isPresent();
    forkFromHead(engine, model, "f5", mainModel); // its base is a compacted snapshot
    forkFromSnapshot(engine, model, "f6", mainSnaps.get(3), snapState); // pre-compaction snapshot
    writeRandom(main, mainModel, setup, 8);
    forkFromHead(engine, model, "f7", mainModel); // flush-first picks up the new writes
    assertThat(engine.openForks()).hasSize(8);
    for (ModelFork mf : model.values()) {
      checkReads(engine.fork(mf.name), mf, "setup, fork " + mf.name, true);
    }

    // The run: 4 drivers, 2 forks each; per round each driver writes and flushes both forks, then
    // compacts both (full or policy, sometimes a second one queued behind the first).
    faultsOn = true;
    List<ModelFork> all = new ArrayList<>(model.values());
    ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> failureKinds = new ConcurrentLinkedQueue<>();
    AtomicInteger attempted = new AtomicInteger();
    AtomicInteger published = new AtomicInteger();
    AtomicInteger nothing = new AtomicInteger();
    AtomicInteger injectedFailures = new AtomicInteger();
    AtomicInteger retentionRuns = new AtomicInteger();
    ExecutorService drivers = Executors.newFixedThreadPool(DRIVERS);
    StrataEngine running = engine;
    List<Future<?>> done = new ArrayList<>();
    for (int d = 0; d < DRIVERS; d++) {
      int driver = d;
      List<ModelFork> mine = List.of(all.get(2 * d), all.get(2 * d + 1));
      done.add(
          drivers.submit(
              () -> {
                Random r = new Random(SEED * 31 + driver);
                for (int round = 0; round < ROUNDS; round++) {
                  String where = "driver " + driver + " round " + round;
                  List<CompletableFuture<CompactionResult>> jobs = new ArrayList<>();
                  List<String> what = new ArrayList<>();
                  for (ModelFork mf : mine) {
                    Fork f = running.fork(mf.name);
                    int writes = 1 + r.nextInt(2);
                    for (int w = 0; w < writes; w++) {
                      writeRandom(f, mf, r, 1 + r.nextInt(6));
                    }
                    if (r.nextInt(5) != 0) {
                      flush(f);
                    }
                    int n = r.nextInt(4) == 0 ? 2 : 1;
                    for (int k = 0; k < n; k++) {
                      boolean full = k == 0 && r.nextInt(3) == 0;
                      attempted.incrementAndGet();
                      what.add(mf.name + (full ? " full" : " policy"));
                      jobs.add(running.compact(mf.name, full));
                    }
                  }
                  for (int j = 0; j < jobs.size(); j++) {
                    try {
                      CompactionResult res = jobs.get(j).get(60, TimeUnit.SECONDS);
                      assertThat(res.abortReason()).as("%s: %s aborted", where, what.get(j)).isNull();
                      if (res.published().isPresent()) {
                        published.incrementAndGet();
                      } else {
                        nothing.incrementAndGet();
                      }
                    } catch (ExecutionException e) {
                      Throwable cause = e.getCause();
                      if (isInjected(cause)) {
                        injectedFailures.incrementAndGet();
                        failureKinds.add(cause.getClass().getSimpleName());
                      } else {
                        unexpected.add(new AssertionError(where + ": " + what.get(j) + " failed: " + cause, cause));
                      }
                    }
                  }
                  for (ModelFork mf : mine) {
                    Fork f = running.fork(mf.name);
                    assertThat(f.readOnlyReason()).as("%s: fork %s", where, mf.name).isNull();
                    checkReads(f, mf, where + ", fork " + mf.name, false);
                  }
                  if (driver == 0 && round % 5 == 4) {
                    running.runRetention(); // GC racing the other drivers' compactions
                    retentionRuns.incrementAndGet();
                  }
                }
                return null;
              }));
    }
    drivers.shutdown();
    for (Future<?> f : done) {
      try {
        f.get(150, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        unexpected.add(e.getCause());
      }
    }
    faultsOn = false;
    fx.vfs.clearFaults();
    long runMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    System.out.printf(
        "compaction stress: %d attempted, %d published, %d nothing to merge, %d failed by injection"
            + " (%d vfs faults, %d hook faults; kinds %s), %d job dirs, %d job-dir deletes failed,"
            + " %d retention passes during the run, %d ms%n",
        attempted.get(), published.get(), nothing.get(), injectedFailures.get(), vfsFaults.get(),
        hookFaults.get(), new TreeSet<>(failureKinds), jobDirsCreated.size(), jobDirsDeleteFailed.size(),
        retentionRuns.get(), runMs);
    if (!unexpected.isEmpty()) {
      AssertionError e = new AssertionError(unexpected.size() + " unexpected failure(s); first: " + unexpected.peek());
      unexpected.forEach(e::addSuppressed);
      throw e;
    }
    assertThat(attempted.get()).isBetween(150, 300);
    assertThat(published.get()).as("compactions published").isGreaterThan(80);
    assertThat(injectedFailures.get()).as("compactions failed by injection").isPositive();
    assertThat(jobDirCollisions).as("job directory names created twice").isEmpty();
    assertThat(jobDirsCreated.size()).as("job directories created").isGreaterThanOrEqualTo(published.get());

    // The end state: everything flushed, reads exact, verify clean.
    for (ModelFork mf : model.values()) {
      Fork f = engine.fork(mf.name);
      flush(f);
      assertThat(f.readOnlyReason()).as("fork %s", mf.name).isNull();
      checkReads(f, mf, "end, fork " + mf.name, true);
    }
    assertThat(engine.verify()).as("verify").isEmpty();
    // Job directories: only those whose own delete was made to fail are left (the next open
    // removes them).
    Set<Path> leftover = new HashSet<>(listOrEmpty(tmp));
    assertThat(leftover).as("job directories left (delete-failed: %s)", jobDirsDeleteFailed)
        .isSubsetOf(jobDirsDeleteFailed);
    engine.runRetention();
    assertSegmentsOnDiskAreExactlyReferenced(engine, "after retention");

    fx.reopen();
    engine = fx.engine;
    assertThat(listOrEmpty(tmp)).as("job directories after reopen").isEmpty();
    for (ModelFork mf : model.values()) {
      checkReads(engine.fork(mf.name), mf, "after reopen, fork " + mf.name, true);
    }
    assertThat(engine.verify()).as("verify after reopen").isEmpty();
    engine.runRetention();
    assertSegmentsOnDiskAreExactlyReferenced(engine, "after reopen");
    System.out.printf("compaction stress total %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
  }

  // ------------------------------------------------------------------------------------ helpers

  static boolean isInjected(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof FaultInjectingVfs.InjectedIOException || c instanceof HookFailure) {
        return true;
      }
    }
    return false;
  }

  static List<Path> listOrEmpty(Path d) throws Exception {
    if (!Files.isDirectory(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.toList();
    }
  }

  static void assertSegmentsOnDiskAreExactlyReferenced(StrataEngine engine, String where) throws Exception {
    Set<Long> referenced = new TreeSet<>();
    Set<Long> nonEmpty = new TreeSet<>();
    for (Fork f : engine.openForks()) {
      for (Manifest m : f.listSnapshots()) {
        for (var ref : m.getSegmentsList()) {
          long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
          referenced.add(id);
          if (ref.getDocCount() + ref.getTombstoneCount() > 0) {
            nonEmpty.add(id);
          }
        }
      }
    }
    assertThat(engine.segments().segmentIdsOnDisk()).as("%s: segment directories", where)
        .containsExactlyInAnyOrderElementsOf(referenced);
    Set<Long> inRocks = engine.segments().segmentIdsInRocksDb();
    assertThat(inRocks).as("%s: segment key ranges in RocksDB", where).isSubsetOf(referenced);
    assertThat(inRocks).as("%s: segment key ranges in RocksDB", where).containsAll(nonEmpty);
  }

  static void writeRandom(Fork f, ModelFork mf, Random r, int muts) {
    List<Mutation> batch = new ArrayList<>();
    TreeMap<String, Document> next = new TreeMap<>(mf.state);
    for (int i = 0; i < muts; i++) {
      String id = String.format("k%02d", r.nextInt(IDS_PER_FORK));
      if (r.nextInt(5) == 0) {
        batch.add(new Mutation.Delete(id));
        next.remove(id);
      } else {
        int nw = 1 + r.nextInt(3);
        List<String> words = new ArrayList<>();
        for (int w = 0; w < nw; w++) {
          words.add(WORDS.get(r.nextInt(WORDS.size())));
        }
        Document d = EngineFixture.doc(id, String.join(" ", words) + " " + mf.name, "t" + r.nextInt(3), r.nextInt(1000));
        batch.add(new Mutation.Put(d));
        next.put(id, d);
      }
    }
    f.write(COLL, batch, Durability.SYNC);
    mf.state.clear();
    mf.state.putAll(next);
  }

  static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(10_000)).get(60, TimeUnit.SECONDS);
  }

  static void forkFromSnapshot(
      StrataEngine engine, Map<String, ModelFork> model, String name, String snapId,
      Map<String, TreeMap<String, Document>> snapState) {
    Fork f = engine.createFork(name, snapId, null, false, 0);
    assertThat(f.entry().baseSnapshotId()).isEqualTo(snapId);
    model.put(name, new ModelFork(name, snapState.get(snapId)));
  }

  static void forkFromHead(StrataEngine engine, Map<String, ModelFork> model, String name, ModelFork source) {
    engine.createFork(name, null, source.name, true, 60_000);
    model.put(name, new ModelFork(name, source.state));
  }

  /** Get of every id and Scan at the head; Search (over the head snapshot) when {@code search}. */
  static void checkReads(Fork f, ModelFork mf, String where, boolean allWords) {
    for (int i = 0; i < IDS_PER_FORK; i++) {
      String id = String.format("k%02d", i);
      DocumentVersion v = f.get(COLL, id);
      assertThat(v == null ? null : v.document()).as("%s: get(%s)", where, id).isEqualTo(mf.state.get(id));
    }
    List<SegmentEntry> scan = f.scan(COLL, "", 10_000, null);
    Map<String, Document> got = new LinkedHashMap<>();
    scan.forEach(e -> got.put(e.id(), e.version().document()));
    assertThat(got).as("%s: scan", where).containsExactlyEntriesOf(mf.state);
    // Search reads the head snapshot; every round flushes before it compacts, but a round may skip
    // the flush, so compare only when the head covers every write.
    if (f.stats().l0Bytes() == 0 && f.stats().frozenBuffers() == 0) {
      List<String> words = allWords ? WORDS : List.of(WORDS.get(Math.floorMod(where.hashCode(), WORDS.size())));
      for (String word : words) {
        checkSearch(f, mf, word, where);
      }
      checkSearch(f, mf, "*", where);
    }
  }

  static void checkSearch(Fork f, ModelFork mf, String word, String where) {
    Set<String> want = new TreeSet<>();
    mf.state.forEach(
        (id, d) -> {
          if (word.equals("*") || List.of(EngineFixture.body(d).split(" ")).contains(word)) {
            want.add(id);
          }
        });
    SearchResult r = f.search(COLL, SearchQuery.of(word, 1000), null);
    Set<String> ids = new TreeSet<>();
    for (SearchHit h : r.hits()) {
      assertThat(ids.add(h.id())).as("%s: search '%s' returned %s twice", where, word, h.id()).isTrue();
      assertThat(h.document()).as("%s: search '%s' hit %s", where, word, h.id()).isEqualTo(mf.state.get(h.id()));
    }
    assertThat(ids).as("%s: search '%s'", where, word).isEqualTo(want);
    assertThat(r.totalHits()).as("%s: search '%s' total hits", where, word).isEqualTo(want.size());
  }
}
