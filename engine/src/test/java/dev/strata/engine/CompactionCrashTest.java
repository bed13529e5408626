package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.strata.engine.compaction.CompactionHooks;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.FaultInjectingVfs.Fault;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue #5: "a simulated crash at every step of a compaction → reopen finds no orphans and no lost
 * data". A full compaction of main (4 flushed segments with overwrites and deletes, plus
 * acknowledged writes still only in the WAL) is cut short
 *
 * <ul>
 *   <li>at each {@link CompactionHooks.Step}: the hook takes what a kill -9 at that instant leaves
 *       on disk (with, and without, a power loss of everything the Vfs did not make durable);
 *   <li>at every Vfs call of the job: that call and every later one fail (the process dies there),
 *       then power loss; and, separately, only that call fails, the engine carries on, then power
 *       loss.
 * </ul>
 *
 * After each reopen: every acknowledged document is back with its newest version (get, scan,
 * search), {@code verify()} is empty, no job directory is left under {@code <data>/tmp}, the
 * segment ids on disk and in RocksDB are exactly those the retained manifests refer to, and the
 * head is the pre-compaction head or the compaction's snapshot (the latter for sure if the
 * compaction had reported it published). Finally the fork compacts and flushes again.
 */
class CompactionCrashTest {
  private static final String C = "docs";

  @TempDir Path tmp;
  private final List<CrashHarness> harnesses = new ArrayList<>();
  private static Level savedLevel;

  @BeforeAll
  static void quietLogs() {
    ch.qos.logback.classic.Logger root =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    savedLevel = root.getLevel();
    root.setLevel(Level.OFF);
  }

  @AfterAll
  static void restoreLogs() {
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(savedLevel);
  }

  @AfterEach
  void closeAll() {
    for (CrashHarness h : harnesses) {
      try {
        h.close();
      } catch (RuntimeException e) {
        // best effort
      }
    }
  }

  private CrashHarness harness(Path dir, EngineOptions options) {
    CrashHarness h = new CrashHarness(dir, options);
    harnesses.add(h);
    return h;
  }

  /** A hook that does nothing until a case arms it. */
  private static final class ArmedHook implements CompactionHooks {
    final AtomicReference<CompactionHooks> armed = new AtomicReference<>(CompactionHooks.NONE);

    @Override
    public void at(String fork, Step step) throws Exception {
      armed.get().at(fork, step);
    }
  }

  /** Cheap options; no background compaction, retention or interval flush: only the job runs. */
  private static EngineOptions options(CompactionHooks hooks) {
    return EngineFixture.testOptions()
        .flushMaxRetries(0)
        .streamThreads(2)
        .maxPendingFlushes(2)
        .blockCacheBytes(1L << 20)
        .compaction(CompactionOptions.defaults().withEnabled(false).withCheckIntervalMs(3_600_000).withWriteRateBytesPerSec(0))
        .retention(new RetentionOptions(100, 3_600_000, 3_600_000))
        .compactionHooks(hooks)
        .build();
  }

  // ------------------------------------------------------------------------------ the workload

  /**
   * Four flushed segments (overwrites, deletes, a re-created key) and two acknowledged SYNC writes
   * left in the WAL only. Returns the model: id to newest body (absent = no document).
   */
  private static Map<String, String> workload(StrataEngine e) throws Exception {
    Fork main = e.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    Map<String, String> model = new TreeMap<>();
    for (int i = 0; i < 12; i++) {
      putDoc(main, model, "d" + i, "genzero alpha" + i);
    }
    flush(main);
    for (int i = 0; i < 6; i++) {
      putDoc(main, model, "d" + i, "genone beta" + i);
    }
    delete(main, model, "d6");
    flush(main);
    putDoc(main, model, "d6", "gentwo reborn");
    for (int i = 12; i < 15; i++) {
      putDoc(main, model, "d" + i, "gentwo gamma" + i);
    }
    delete(main, model, "d1");
    flush(main);
    putDoc(main, model, "d2", "genthree delta");
    delete(main, model, "d12");
    flush(main);
    // Acknowledged, in the WAL, not in any segment.
    putDoc(main, model, "d3", "genfour walonly");
    delete(main, model, "d4");
    assertThat(main.stats().segmentCount()).isEqualTo(4);
    return model;
  }

  private static void putDoc(Fork f, Map<String, String> model, String id, String body) {
    f.write(C, put(doc(id, body, "t", id.length())), Durability.SYNC);
    model.put(id, body);
  }

  private static void delete(Fork f, Map<String, String> model, String id) {
    f.write(C, List.of(new Mutation.Delete(id)), Durability.SYNC);
    model.remove(id);
  }

  private static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(2_000)).get(20, TimeUnit.SECONDS);
  }

  /** Builds the workload once in {@code template} and closes the engine cleanly. */
  private Map<String, String> template(Path template) throws Exception {
    CrashHarness setup = harness(template, options(CompactionHooks.NONE));
    Map<String, String> model = workload(setup.open());
    setup.close();
    return model;
  }

  // ------------------------------------------------------------------------------ the checks

  /** What the crashed run saw before the crash. */
  record Before(String headId, String compactionId, boolean reportedPublished, int compactedSegments) {
    Before(String headId, String compactionId, boolean reportedPublished) {
      this(headId, compactionId, reportedPublished, 1);
    }
  }

  private static Before before(StrataEngine e) {
    Fork main = e.fork(StrataEngine.MAIN);
    Manifest head = main.head().orElseThrow();
    return new Before(head.getId(), Fork.snapshotId(main.id(), head.getSeq() + 1), false);
  }

  /** Every check of a recovered engine; returns problems (empty = OK). */
  private static List<String> check(StrataEngine e, Path dir, Map<String, String> model, Before b) throws Exception {
    List<String> problems = new ArrayList<>();
    // No job directory survives the open.
    Path tmpDir = dir.resolve("tmp");
    if (Files.exists(tmpDir)) {
      try (Stream<Path> s = Files.list(tmpDir)) {
        List<String> left = s.map(p -> p.getFileName().toString()).toList();
        if (!left.isEmpty()) {
          problems.add("job directories left under <data>/tmp: " + left);
        }
      }
    }
    // Segments: exactly the referenced ones, on disk and in RocksDB.
    Set<Long> referenced = CrashHarness.referenced(e);
    Set<Long> onDisk = new TreeSet<>(e.segments().segmentIdsOnDisk());
    Set<Long> inDb = new TreeSet<>(e.segments().segmentIdsInRocksDb());
    if (!onDisk.equals(referenced)) {
      problems.add("segment directories " + CrashHarness.hex(onDisk) + " != referenced " + CrashHarness.hex(referenced));
    }
    // A segment with no key at all (a compaction that dropped everything) has no RocksDB range.
    Set<Long> expectedInDb = new TreeSet<>(referenced);
    for (Fork f : e.openForks()) {
      for (Manifest m : f.listSnapshots()) {
        m.getSegmentsList().stream()
            .filter(r -> r.getDocCount() == 0 && r.getTombstoneCount() == 0)
            .forEach(r -> expectedInDb.remove(Long.parseUnsignedLong(r.getSegmentId(), 16)));
      }
    }
    if (!inDb.equals(expectedInDb)) {
      problems.add("RocksDB key ranges " + CrashHarness.hex(inDb) + " != referenced (with keys) " + CrashHarness.hex(expectedInDb));
    }
    problems.addAll(CrashHarness.recoveryProblems(e));
    List<String> verify = e.verify();
    if (!verify.isEmpty()) {
      problems.add("verify: " + verify);
    }
    // The head: before or after the compaction, nothing else.
    Fork main = e.fork(StrataEngine.MAIN);
    Manifest head = main.head().orElseThrow();
    if (head.getId().equals(b.compactionId())) {
      if (head.getOrigin() != ManifestOrigin.MANIFEST_ORIGIN_COMPACTION || head.getSegmentsCount() != b.compactedSegments()) {
        problems.add("head " + head.getId() + " is not the full compaction's snapshot: " + head.getOrigin() + ", "
            + head.getSegmentsCount() + " segments");
      }
    } else if (!head.getId().equals(b.headId())) {
      problems.add("head " + head.getId() + " is neither the pre-compaction head " + b.headId()
          + " nor the compaction's " + b.compactionId());
    } else if (b.reportedPublished()) {
      problems.add("the compaction reported " + b.compactionId() + " published, but the head is " + head.getId());
    }
    problems.addAll(content(main, model, "after the reopen"));
    return problems;
  }

  /** get, scan and (after a flush) search against the model. */
  private static List<String> content(Fork main, Map<String, String> model, String when) throws Exception {
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      String id = "d" + i;
      DocumentVersion v = main.get(C, id);
      String got = v == null || v.isTombstone() ? null : EngineFixture.body(v.document());
      if (!java.util.Objects.equals(got, model.get(id))) {
        problems.add(when + ": get(" + id + ") = " + got + ", expected " + model.get(id));
      }
    }
    Map<String, String> scanned = new TreeMap<>();
    for (SegmentEntry en : main.scan(C, "", 1000, null)) {
      scanned.put(en.id(), EngineFixture.body(en.version().document()));
    }
    if (!scanned.equals(model)) {
      problems.add(when + ": scan = " + scanned + ", expected " + model);
    }
    flush(main); // the WAL-only writes become searchable
    Set<String> all = new TreeSet<>();
    for (SearchHit h : main.search(C, SearchQuery.of("*", 1000), null).hits()) {
      all.add(h.id());
    }
    if (!all.equals(model.keySet())) {
      problems.add(when + ": search * = " + all + ", expected " + model.keySet());
    }
    for (String term : List.of("genzero", "genone", "gentwo", "genthree", "genfour", "genfive")) {
      Set<String> hits = new TreeSet<>();
      for (SearchHit h : main.search(C, SearchQuery.of(term, 1000), null).hits()) {
        hits.add(h.id());
      }
      Set<String> expected = new TreeSet<>();
      model.forEach((id, body) -> {
        if (body.startsWith(term + " ")) {
          expected.add(id);
        }
      });
      if (!hits.equals(expected)) {
        problems.add(when + ": search " + term + " = " + hits + ", expected " + expected);
      }
    }
    return problems;
  }

  /** After the checks: the recovered fork compacts again and stays exact and clean. */
  private static List<String> compactsAgain(StrataEngine e, Path dir, Map<String, String> model) throws Exception {
    List<String> problems = new ArrayList<>();
    Fork main = e.fork(StrataEngine.MAIN);
    CompactionResult r = e.compact(StrataEngine.MAIN, true).get(30, TimeUnit.SECONDS);
    if (r.published().isEmpty() || main.stats().segmentCount() != 1) {
      problems.add("a full compaction after recovery did not publish one segment: " + r);
    }
    problems.addAll(content(main, model, "after a second compaction"));
    problems.addAll(CrashHarness.recoveryProblems(e));
    return problems;
  }

  private static void copyFresh(Path template, Path dir) throws IOException {
    deleteTree(dir);
    CrashHarness.copyTree(template, dir);
  }

  private static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
    } catch (IOException e) {
      // the temp dir cleanup catches the rest
    }
  }

  /** Waits for the job, which may fail; true if it reported a published snapshot. */
  private static boolean outcome(CompletableFuture<CompactionResult> job) {
    try {
      return job.get(30, TimeUnit.SECONDS).published().isPresent();
    } catch (Exception ex) {
      return false;
    }
  }

  // ------------------------------------------------------------------------------ 1. at each step

  @Test
  void aCrashAtEachCompactionStepLosesNothingAndLeavesNoOrphan() throws Exception {
    Path template = tmp.resolve("template");
    Map<String, String> model = template(template);
    List<String> failures = new ArrayList<>();
    long start = System.nanoTime();
    int runs = 0;
    for (CompactionHooks.Step step : CompactionHooks.Step.values()) {
      for (boolean powerLoss : List.of(true, false)) {
        String what = "crash at " + step + (powerLoss ? " with power loss" : " (kill -9 only)");
        Path live = tmp.resolve("live-" + step + "-" + powerLoss);
        Path crashed = tmp.resolve("crashed-" + step + "-" + powerLoss);
        copyFresh(template, live);
        ArmedHook hook = new ArmedHook();
        CrashHarness h = harness(live, options(hook));
        runs++;
        try {
          StrataEngine e = h.open();
          Before b = before(e);
          FaultInjectingVfs vfs = h.vfs;
          AtomicReference<Throwable> hookFailure = new AtomicReference<>();
          java.util.concurrent.CountDownLatch taken = new java.util.concurrent.CountDownLatch(1);
          hook.armed.set(
              (fork, s) -> {
                if (s != step) {
                  return;
                }
                // The process dies here: what is on disk at this instant is all a restart gets.
                try {
                  if (powerLoss) {
                    vfs.crash();
                  }
                  CrashHarness.copyTree(live, crashed);
                } catch (Throwable t) {
                  hookFailure.set(t);
                } finally {
                  taken.countDown();
                }
                throw new IllegalStateException("simulated crash at " + s);
              });
          CompletableFuture<CompactionResult> job = e.compact(StrataEngine.MAIN, true);
          boolean published = outcome(job);
          assertThat(taken.await(30, TimeUnit.SECONDS)).as("the job reached " + step).isTrue();
          assertThat(hookFailure.get()).as("taking the crash image").isNull();
          // PUBLISHED runs after the manifest is durable: the job did publish.
          boolean mustBeCompacted = step == CompactionHooks.Step.PUBLISHED;
          assertThat(published).as("reported published").isEqualTo(mustBeCompacted);
          h.kill();
          CrashHarness r = harness(crashed, options(CompactionHooks.NONE));
          StrataEngine again = r.open();
          List<String> p = check(again, crashed, model, new Before(b.headId(), b.compactionId(), mustBeCompacted));
          if (p.isEmpty()) {
            p = compactsAgain(again, crashed, model);
          }
          p.forEach(x -> failures.add(what + ": " + x));
          r.close();
        } catch (AssertionError | Exception ex) {
          failures.add(what + ": " + ex);
        } finally {
          h.close();
          deleteTree(live);
          deleteTree(crashed);
        }
      }
    }
    System.out.printf("compaction step crashes: %d runs in %d ms%n", runs, (System.nanoTime() - start) / 1_000_000);
    assertThat(failures).as("crash points of a compaction that broke a guarantee").isEmpty();
  }

  // ------------------------------------------------------------------------------ 2. at every Vfs call

  /** How a crash point at Vfs call K is simulated. */
  private enum Mode {
    /** The process dies at call K: it and every later call of the seam fail; then power loss. */
    DIE_AT_CALL,
    /** Only call K fails, the engine carries on (the job fails and cleans up); then power loss. */
    FAULT_THEN_POWER_LOSS;

    void arm(FaultInjectingVfs v, long ordinal) {
      v.failOperation(ordinal, Fault.IO_ERROR);
      if (this == DIE_AT_CALL) {
        for (long k = ordinal + 1; k < ordinal + 2000; k++) {
          v.failOperation(k, Fault.IO_ERROR);
        }
      }
    }
  }

  @Test
  void aCrashAtEveryVfsCallOfACompactionLosesNothingAndLeavesNoOrphan() throws Exception {
    Path template = tmp.resolve("template");
    Map<String, String> model = template(template);

    // Measure the job's calls once, with their names.
    Path countDir = tmp.resolve("count");
    copyFresh(template, countDir);
    CrashHarness counting = harness(countDir, options(CompactionHooks.NONE));
    CrashOpLog opLog = new CrashOpLog(countDir);
    counting.base = opLog;
    StrataEngine ce = counting.open();
    long base = counting.vfs.operationCount();
    CompactionResult clean = ce.compact(StrataEngine.MAIN, true).get(30, TimeUnit.SECONDS);
    long total = counting.vfs.operationCount() - base;
    assertThat(clean.published()).isPresent();
    assertThat(check(ce, countDir, model, new Before("", clean.published().get().getId(), true))).isEmpty();
    counting.close();
    System.out.printf("compaction sweep: %d Vfs calls in one full compaction%n", total);
    for (long i = 0; i < total; i++) {
      System.out.printf("  call %2d: %s%n", i, opLog.label(base + i));
    }
    assertThat(total).as("a compaction makes Vfs calls").isPositive();

    List<String> failures = new ArrayList<>();
    long start = System.nanoTime();
    int runs = 0;
    for (Mode mode : Mode.values()) {
      for (long k = 0; k < total; k++) {
        String what = mode + " at call " + k + " (" + opLog.label(base + k) + ")";
        Path dir = tmp.resolve("sweep-" + mode + "-" + k);
        copyFresh(template, dir);
        CrashHarness h = harness(dir, options(CompactionHooks.NONE));
        runs++;
        try {
          StrataEngine e = h.open();
          Before b = before(e);
          long at = h.vfs.operationCount() + k;
          mode.arm(h.vfs, at);
          boolean published = outcome(e.compact(StrataEngine.MAIN, true));
          boolean fired = h.vfs.operationCount() > at;
          if (!fired) {
            failures.add(what + ": the job no longer reaches this call");
          }
          h.powerLoss();
          StrataEngine again = h.open();
          List<String> p = check(again, dir, model, new Before(b.headId(), b.compactionId(), published));
          if (p.isEmpty() && mode == Mode.DIE_AT_CALL) {
            p = compactsAgain(again, dir, model);
          }
          p.forEach(x -> failures.add(what + ": " + x));
        } catch (AssertionError | Exception ex) {
          failures.add(what + ": " + ex);
        } finally {
          h.close();
          deleteTree(dir);
        }
      }
    }
    System.out.printf("compaction sweep: %d runs in %d ms%n", runs, (System.nanoTime() - start) / 1_000_000);
    failures.forEach(f -> System.out.println("FAILURE " + f));
    assertThat(failures).as("crash points of a compaction that broke a guarantee").isEmpty();
  }
  // ------------------------------------------------------------------------------ 3. the GC after it

  /**
   * The compaction's last step is the reclaim of the run it replaced: retention expires the
   * pre-compaction snapshots and GC deletes their segments. A crash at every Vfs call of that pass
   * (the process dies there: that call and every later one fail, then power loss) must leave the compacted head, the data, and no
   * orphan segment.
   */
  @Test
  void aCrashAtEveryVfsCallOfTheGcAfterACompactionLosesNothingAndLeavesNoOrphan() throws Exception {
    Path template = tmp.resolve("template");
    Map<String, String> model = template(template);
    CrashHarness prep = harness(template, options(CompactionHooks.NONE));
    String compacted =
        prep.open().compact(StrataEngine.MAIN, true).get(30, TimeUnit.SECONDS).published().orElseThrow().getId();
    prep.close();
    EngineOptions keepOne =
        options(CompactionHooks.NONE).toBuilder().retention(new RetentionOptions(1, 0, 3_600_000)).build();

    Path countDir = tmp.resolve("gc-count");
    copyFresh(template, countDir);
    CrashHarness counting = harness(countDir, keepOne);
    CrashOpLog opLog = new CrashOpLog(countDir);
    counting.base = opLog;
    StrataEngine ce = counting.open();
    Set<Long> before = new HashSet<>(ce.segments().segmentIdsOnDisk());
    long base = counting.vfs.operationCount();
    ce.runRetention();
    long total = counting.vfs.operationCount() - base;
    Set<Long> after = new HashSet<>(ce.segments().segmentIdsOnDisk());
    assertThat(ce.fork(StrataEngine.MAIN).listSnapshots()).extracting(Manifest::getId).containsExactly(compacted);
    assertThat(after).as("the GC reclaimed the compacted run").hasSize(1).isNotEqualTo(before);
    assertThat(check(ce, countDir, model, new Before(compacted, compacted, true))).isEmpty();
    counting.close();
    System.out.printf("gc sweep: %d Vfs calls in the retention pass after a compaction%n", total);
    for (long i = 0; i < total; i++) {
      System.out.printf("  call %2d: %s%n", i, opLog.label(base + i));
    }

    List<String> failures = new ArrayList<>();
    long start = System.nanoTime();
    int runs = 0;
    // Only DIE_AT_CALL: a failed GC call is retried by the next pass, so the fault-then-carry-on
    // mode adds little here, and the sweep stays cheap.
    for (Mode mode : List.of(Mode.DIE_AT_CALL)) {
      for (long k = 0; k < total; k++) {
        String what = "gc, " + mode + " at call " + k + " (" + opLog.label(base + k) + ")";
        Path dir = tmp.resolve("gc-" + mode + "-" + k);
        copyFresh(template, dir);
        CrashHarness h = harness(dir, keepOne);
        runs++;
        try {
          StrataEngine e = h.open();
          mode.arm(h.vfs, h.vfs.operationCount() + k);
          try {
            e.runRetention();
          } catch (StrataException ex) {
            // may fail; the restart decides
          }
          h.powerLoss();
          StrataEngine again = h.open();
          List<String> p = check(again, dir, model, new Before(compacted, compacted, true));
          p.forEach(x -> failures.add(what + ": " + x));
        } catch (AssertionError | Exception ex) {
          failures.add(what + ": " + ex);
        } finally {
          h.close();
          deleteTree(dir);
        }
      }
    }
    System.out.printf("gc sweep: %d runs in %d ms%n", runs, (System.nanoTime() - start) / 1_000_000);
    failures.forEach(f -> System.out.println("FAILURE " + f));
    assertThat(failures).as("crash points of the GC after a compaction that broke a guarantee").isEmpty();
  }

  // ------------------------------------------------------------------------------ 5. a flush during the merge

  /**
   * A flush published while the job merges is newer than the merged segment and shadows its copy
   * of the key. Crashed right after the compaction published (power loss), the reopened engine
   * rebuilds liveness from the manifests: get, scan and search must still see only the newest
   * version, and nothing is orphaned.
   */
  @Test
  void aFlushPublishedDuringTheMergeStaysNewestAcrossACrashAfterPublication() throws Exception {
    Path template = tmp.resolve("template");
    Map<String, String> model = template(template);
    Path live = tmp.resolve("rebase-live");
    Path crashed = tmp.resolve("rebase-crashed");
    copyFresh(template, live);
    ArmedHook hook = new ArmedHook();
    CrashHarness h = harness(live, options(hook));
    StrataEngine e = h.open();
    Fork main = e.fork(StrataEngine.MAIN);
    Manifest pre = main.head().orElseThrow();
    FaultInjectingVfs vfs = h.vfs;
    java.util.concurrent.CountDownLatch ingested = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    hook.armed.set(
        (fork, s) -> {
          if (s == CompactionHooks.Step.INGESTED) {
            ingested.countDown();
            go.await(30, TimeUnit.SECONDS);
          } else if (s == CompactionHooks.Step.PUBLISHED) {
            vfs.crash();
            CrashHarness.copyTree(live, crashed);
            throw new IllegalStateException("simulated crash at " + s);
          }
        });
    CompletableFuture<CompactionResult> job = e.compact(StrataEngine.MAIN, true);
    assertThat(ingested.await(30, TimeUnit.SECONDS)).isTrue();
    putDoc(main, model, "d2", "genfive newest"); // d2 is "genthree delta" in the merged segment
    putDoc(main, model, "d5", "genfive other");
    Manifest during = flush(main); // also flushes the WAL-only writes of the template
    go.countDown();
    CompactionResult r = job.get(30, TimeUnit.SECONDS);
    assertThat(r.published()).isPresent();
    assertThat(r.published().get().getSegmentsCount()).isEqualTo(2);
    h.kill();
    CrashHarness again = harness(crashed, options(CompactionHooks.NONE));
    StrataEngine e2 = again.open();
    String compactionId = Fork.snapshotId(main.id(), during.getSeq() + 1);
    assertThat(pre.getSeq() + 1).isEqualTo(during.getSeq());
    assertThat(e2.fork(StrataEngine.MAIN).head().orElseThrow().getId()).isEqualTo(compactionId);
    assertThat(check(e2, crashed, model, new Before(during.getId(), compactionId, true, 2))).isEmpty();
    assertThat(compactsAgain(e2, crashed, model)).isEmpty();
  }

  // ------------------------------------------------------------------------------ 6. a failed publication

  /**
   * {@link Fork#publishCompaction}: the future "never fails for an abort, fails if the publication
   * itself failed (the fork is then read-only)"; {@link CompactionScheduler#compactNow}: "fails with
   * the job's error". An I/O error writing the compaction's manifest fails the fork's pipeline (it
   * turns read-only), so {@code compact()} must fail and the failure must be counted — not be
   * reported as an ordinary abort. Then a crash and reopen must recover cleanly.
   */
  @Test
  void aCompactionWhoseManifestWriteFailsReportsAFailureNotAnAbort() throws Exception {
    Path template = tmp.resolve("template");
    Map<String, String> model = template(template);
    Path dir = tmp.resolve("publish-fails");
    copyFresh(template, dir);
    java.util.concurrent.atomic.AtomicBoolean failManifestRename = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicReference<FaultInjectingVfs> vfsRef = new java.util.concurrent.atomic.AtomicReference<>();
    CrashHarness h =
        harness(
            dir,
            options(
                (fork, step) -> {
                  // After the merge's own rename (of its Lucene index), the next one is the manifest's.
                  if (step == CompactionHooks.Step.BEFORE_PUBLISH && failManifestRename.get()) {
                    vfsRef.get().failNext(FaultInjectingVfs.Op.RENAME, Fault.IO_ERROR);
                  }
                }));
    StrataEngine e = h.open();
    vfsRef.set(h.vfs);
    Before b = before(e);
    Fork main = e.fork(StrataEngine.MAIN);
    String headBefore = main.head().orElseThrow().getId();
    var soft = new org.assertj.core.api.SoftAssertions();

    // 1. The manifest's temp file cannot be created: nothing is published and nothing is in doubt,
    //    so the job fails (counted, in Stats) and the fork goes on, writable, with its old head.
    h.vfs.failNext(FaultInjectingVfs.Op.CREATE, Fault.IO_ERROR);
    Throwable failure = null;
    CompactionResult result = null;
    try {
      result = e.compact(StrataEngine.MAIN, true).get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException ex) {
      failure = ex.getCause();
    }
    soft.assertThat(failure)
        .as("compact() must fail when the publication failed; it returned %s", result)
        .isInstanceOf(FaultInjectingVfs.InjectedIOException.class);
    soft.assertThat(e.compactions().failureCount()).as("counted as a compaction failure").isEqualTo(1);
    soft.assertThat(main.stats().lastCompactionError()).as("Stats.last_error").isNotNull();
    soft.assertThat(main.stats().compactionsAborted()).as("not an abort").isZero();
    soft.assertThat(main.readOnlyReason()).as("a clean failure leaves the fork writable").isNull();
    soft.assertThat(main.head().orElseThrow().getId()).isEqualTo(headBefore);
    soft.assertThat(check(e, dir, model, b)).as("live state after the clean failure").isEmpty();

    // 2. The rename fails: the manifest may or may not be durable, so the pipeline fails and the
    //    fork turns read-only, naming the publication (not a flush); a restart recovers.
    failManifestRename.set(true);
    Before b2 = before(e); // the check above flushed: the head moved on
    failure = null;
    try {
      result = e.compact(StrataEngine.MAIN, true).get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException ex) {
      failure = ex.getCause();
    }
    soft.assertThat(failure).as("compact() fails on a publication in doubt; it returned %s", result).isNotNull();
    // The job's future fails first; the finalizer then fails the pipeline.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (main.readOnlyReason() == null && System.nanoTime() < until) {
      Thread.sleep(10);
    }
    soft.assertThat(main.readOnlyReason()).as("in doubt: the pipeline fails").isNotNull();
    soft.assertThat(main.readOnlyReason()).as("the reason names the publication").startsWith("publication of seq");
    h.powerLoss();
    StrataEngine again = h.open();
    soft.assertThat(check(again, dir, model, b2)).as("recovery").isEmpty();
    soft.assertAll();
  }

  // ------------------------------------------------------------------------------ 4. an empty output

  /**
   * A full compaction whose output holds nothing (every document was deleted, so the run reaching
   * the bottom drops every tombstone) must still publish a sound snapshot, then survive a crash at
   * each step like any other.
   */
  @Test
  void aFullCompactionThatDropsEveryDocumentSurvivesACrashAtEachStep() throws Exception {
    Path template = tmp.resolve("empty-template");
    CrashHarness setup = harness(template, options(CompactionHooks.NONE));
    Fork main = setup.open().fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    Map<String, String> model = new TreeMap<>();
    for (int i = 0; i < 5; i++) {
      putDoc(main, model, "d" + i, "genzero gone" + i);
    }
    flush(main);
    for (int i = 0; i < 5; i++) {
      delete(main, model, "d" + i);
    }
    flush(main);
    setup.close();

    List<String> failures = new ArrayList<>();
    for (CompactionHooks.Step step : CompactionHooks.Step.values()) {
      String what = "empty output, power loss at " + step;
      Path live = tmp.resolve("empty-live-" + step);
      Path crashed = tmp.resolve("empty-crashed-" + step);
      copyFresh(template, live);
      ArmedHook hook = new ArmedHook();
      CrashHarness h = harness(live, options(hook));
      try {
        StrataEngine e = h.open();
        Before b = before(e);
        FaultInjectingVfs vfs = h.vfs;
        hook.armed.set(
            (fork, s) -> {
              if (s == step) {
                vfs.crash();
                CrashHarness.copyTree(live, crashed);
                throw new IllegalStateException("simulated crash at " + s);
              }
            });
        boolean published = outcome(e.compact(StrataEngine.MAIN, true));
        boolean mustBeCompacted = step == CompactionHooks.Step.PUBLISHED;
        if (published != mustBeCompacted) {
          failures.add(what + ": reported published = " + published);
        }
        h.kill();
        CrashHarness r = harness(crashed, options(CompactionHooks.NONE));
        StrataEngine again = r.open();
        check(again, crashed, model, new Before(b.headId(), b.compactionId(), mustBeCompacted))
            .forEach(x -> failures.add(what + ": " + x));
        r.close();
      } catch (AssertionError | Exception ex) {
        failures.add(what + ": " + ex);
      } finally {
        h.close();
        deleteTree(live);
        deleteTree(crashed);
      }
    }
    failures.forEach(f -> System.out.println("FAILURE " + f));
    assertThat(failures).as("crash points of an all-deleting compaction that broke a guarantee").isEmpty();
  }
}
