package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12, fork create: at most two fsyncs on the create path (the catalog entry is the commit
 * point; the fork's first manifest is derived from it and written by the fork's first
 * publication), counted through the Vfs seam; and the protocol's crash safety: a crash at every Vfs
 * call of a create and of a new fork's first flush, a power loss before the first flush, and a drop
 * of the base's fork before it, all leave the fork whole (its base's data and every acknowledged
 * write of its own) or absent.
 */
class ForkCreateTest {
  private static final String C = "docs";

  @TempDir Path tmp;
  private final List<CrashHarness> harnesses = new ArrayList<>();
  private static Level savedLevel;

  @BeforeAll
  static void quietLogs() {
    savedLevel = CrashHarness.silenceLogs();
  }

  @AfterAll
  static void restoreLogs() {
    CrashHarness.restoreLogs(savedLevel);
  }

  @AfterEach
  void closeAll() {
    CrashHarness.closeAll(harnesses);
  }

  private CrashHarness harness(Path dir) {
    CrashHarness h =
        new CrashHarness(
            dir,
            EngineFixture.testOptions().flushMaxRetries(0).streamThreads(2).blockCacheBytes(1L << 20).build());
    harnesses.add(h);
    return h;
  }

  private static void write(Fork f, String id, String body) {
    f.write(C, put(doc(id, body, "t", 0)), Durability.SYNC);
  }

  private static String bodyOf(Fork f, String id) {
    DocumentVersion v = f.get(C, id);
    return v == null || v.isTombstone() ? null : EngineFixture.body(v.document());
  }

  private static Manifest flushAndWait(Fork f) throws Exception {
    return f.awaitTicket(f.flush(1000)).get(10, TimeUnit.SECONDS);
  }

  /** main with one flushed document, and fork b of it with one more, flushed. */
  private static void setup(StrataEngine e) throws Exception {
    Fork main = e.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    write(main, "m1", "main one");
    flushAndWait(main);
    Fork b = e.createFork("b", null, StrataEngine.MAIN, false, 10_000);
    write(b, "b1", "b one");
    flushAndWait(b);
  }

  /** The file fsyncs and directory fsyncs among the Vfs calls logged since {@code mark}. */
  private static List<String> fsyncsSince(CrashOpLog log, int mark) {
    List<String> ops = log.ops();
    return ops.subList(mark, ops.size()).stream()
        .filter(op -> op.startsWith("SYNC ") || op.startsWith("SYNC_DIR "))
        .toList();
  }

  // ------------------------------------------------------------------ the fsync budget

  @Test
  void creatingAForkDoesAtMostTwoFsyncs() throws Exception {
    Path dir = tmp.resolve("count");
    CrashHarness h = harness(dir);
    CrashOpLog opLog = new CrashOpLog(dir);
    h.base = opLog;
    StrataEngine e = h.open();
    setup(e);

    int mark = opLog.ops().size();
    Fork a = e.createFork("a", null, "b", false, 10_000); // from a flushed fork's head
    List<String> fromFlushed = fsyncsSince(opLog, mark);

    mark = opLog.ops().size();
    e.createFork("c", null, "a", false, 10_000); // from a fork that never flushed
    List<String> fromNew = fsyncsSince(opLog, mark);

    mark = opLog.ops().size();
    String tag = e.fork("b").head().orElseThrow().getId();
    e.createFork("d", tag, null, false, 10_000); // from a snapshot id
    List<String> fromId = fsyncsSince(opLog, mark);

    assertThat(fromFlushed).as("fsyncs creating a fork of b's head").hasSizeLessThanOrEqualTo(2);
    assertThat(fromNew).as("fsyncs creating a fork of a fork that never flushed").hasSizeLessThanOrEqualTo(2);
    assertThat(fromId).as("fsyncs creating a fork of a snapshot id").hasSizeLessThanOrEqualTo(2);
    assertThat(bodyOf(a, "b1")).isEqualTo("b one");
    assertThat(bodyOf(a, "m1")).isEqualTo("main one");
  }

  @Test
  void openingAForkReadsEachManifestOnce() throws Exception {
    Path dir = tmp.resolve("reads");
    CrashHarness h = harness(dir);
    StrataEngine e = h.open();
    setup(e);
    Fork b = e.fork("b");
    for (int i = 0; i < 5; i++) {
      write(b, "x" + i, "more " + i);
      flushAndWait(b);
    }
    int retained = b.listSnapshots().size();
    h.close();
    CrashOpLog opLog = new CrashOpLog(dir);
    h.base = opLog;
    h.open();
    String manifests = ManifestStore.directoryFor(dir, h.engine.fork("b").id()).toString();
    long reads = opLog.ops().stream().filter(op -> op.startsWith("READ ") && (dir + op.substring(5)).startsWith(manifests)).count();
    assertThat(reads).as("manifest reads opening fork b with %d retained manifests", retained).isEqualTo(retained);
  }

  // ------------------------------------------------------------------ crash safety of the protocol

  @Test
  void aNewForksFirstManifestIsDerivedAgainAfterAPowerLossAndWrittenByItsFirstFlush() throws Exception {
    CrashHarness h = harness(tmp.resolve("derived"));
    StrataEngine e = h.open();
    setup(e);
    Fork a = e.createFork("a", null, "b", false, 10_000);
    String firstId = a.head().orElseThrow().getId();
    assertThat(a.isHeadDurable()).isFalse();
    write(a, "a1", "a one");
    e = h.crashAndReopen(true);
    a = e.fork("a");
    assertThat(a.head().orElseThrow().getId()).isEqualTo(firstId);
    assertThat(bodyOf(a, "a1")).isEqualTo("a one");
    assertThat(bodyOf(a, "b1")).isEqualTo("b one");
    assertThat(a.verifyChain()).isEmpty();
    Manifest second = flushAndWait(a);
    assertThat(a.isHeadDurable()).isTrue();
    assertThat(second.getParentId()).isEqualTo(firstId);
    assertThat(a.listSnapshots()).extracting(Manifest::getSeq).containsExactly(1L, 2L);
    e = h.crashAndReopen(true);
    a = e.fork("a");
    assertThat(a.listSnapshots()).extracting(Manifest::getId).containsExactly(firstId, second.getId());
    assertThat(a.verifyChain()).isEmpty();
    assertThat(bodyOf(a, "a1")).isEqualTo("a one");
    assertThat(CrashHarness.recoveryProblems(e)).isEmpty();
  }

  @Test
  void droppingTheBaseForkFirstWritesTheFirstManifestOfEveryForkMadeFromIt() throws Exception {
    CrashHarness h = harness(tmp.resolve("drop-base"));
    StrataEngine e = h.open();
    setup(e);
    Fork a = e.createFork("a", null, "b", false, 10_000);
    Fork c = e.createFork("c", null, "a", false, 10_000); // its base is a's derived manifest
    write(a, "a1", "a one");
    e.dropFork("b", 10_000);
    assertThat(a.isHeadDurable()).isTrue();
    assertThat(c.isHeadDurable()).as("c's base is a's, which stays").isFalse();
    e = h.crashAndReopen(true);
    assertThat(e.openForks()).extracting(Fork::name).containsExactly("a", "c", "main");
    for (String name : List.of("a", "c")) {
      Fork f = e.fork(name);
      assertThat(bodyOf(f, "b1")).as(name).isEqualTo("b one");
      assertThat(bodyOf(f, "m1")).as(name).isEqualTo("main one");
      assertThat(f.verifyChain()).as(name).isEmpty();
    }
    assertThat(bodyOf(e.fork("a"), "a1")).isEqualTo("a one");
    e.dropFork("a", 10_000);
    e = h.crashAndReopen(true);
    assertThat(bodyOf(e.fork("c"), "b1")).isEqualTo("b one");
    assertThat(CrashHarness.recoveryProblems(e)).isEmpty();
  }

  @Test
  void aCreateRacingADropOfItsBasesForkLeavesTheNewForkRecoverable() throws Exception {
    CrashHarness h = harness(tmp.resolve("race"));
    StrataEngine e = h.open();
    Fork main = e.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    write(main, "m1", "main one");
    flushAndWait(main);
    List<String> failures = new ArrayList<>();
    for (int round = 0; round < 12; round++) {
      final int r0 = round;
      final StrataEngine cur = e;
      Fork b = cur.createFork("b", null, StrataEngine.MAIN, false, 10_000);
      write(b, "b1", "b one " + round);
      flushAndWait(b);
      CountDownLatch go = new CountDownLatch(1);
      String name = "a" + round;
      CompletableFuture<Fork> created =
          CompletableFuture.supplyAsync(
              () -> {
                await(go);
                return cur.createFork(name, null, "b", false, 10_000);
              });
      CompletableFuture<Void> dropped =
          CompletableFuture.runAsync(
              () -> {
                await(go);
                cur.dropFork("b", 10_000);
              });
      go.countDown();
      Fork a;
      try {
        a = created.get(30, TimeUnit.SECONDS);
      } catch (Exception ex) {
        a = null; // b was gone before the create found its head: a legitimate outcome
      }
      dropped.get(30, TimeUnit.SECONDS);
      if (a != null) {
        write(a, "a1", "a one");
      }
      StrataEngine again = h.crashAndReopen(true);
      if (a != null) {
        Fork r = again.fork(name);
        if (!("b one " + round).equals(bodyOf(r, "b1")) || !"a one".equals(bodyOf(r, "a1"))) {
          failures.add("round " + round + ": fork " + name + " lost data: b1=" + bodyOf(r, "b1") + " a1=" + bodyOf(r, "a1"));
        }
        again.dropFork(name, 10_000);
      }
      again.runRetention(); // GC of the dropped forks' segments, waited for
      failures.addAll(CrashHarness.recoveryProblems(again).stream().map(p -> "round " + r0 + ": " + p).toList());
      e = again;
    }
    assertThat(failures).isEmpty();
  }

  private static void await(CountDownLatch l) {
    try {
      l.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * A crash at every Vfs call of creating fork "a" from b's head and of a's first flush (which
   * writes a's derived first manifest before its own): after the reopen "a" is whole (b's data,
   * and its own write if that was acknowledged) or absent (only if its create did not return), and
   * every fork flushes and verifies.
   */
  @Test
  void aCrashAtEveryIoCallOfACreateAndOfTheFirstFlushLeavesTheForkWholeOrAbsent() throws Exception {
    Path template = tmp.resolve("sweep-template");
    CrashHarness setup = harness(template);
    setup(setup.open());
    setup.close();

    Path countDir = tmp.resolve("sweep-count");
    CrashHarness.copyTree(template, countDir);
    CrashHarness counting = harness(countDir);
    CrashOpLog opLog = new CrashOpLog(countDir);
    counting.base = opLog;
    counting.open();
    long base = counting.vfs.operationCount();
    Fork a0 = counting.engine.createFork("a", null, "b", false, 10_000);
    write(a0, "a1", "a one");
    flushAndWait(a0);
    long total = counting.vfs.operationCount() - base;
    counting.close();
    assertThat(total).isGreaterThan(5);

    List<String> failures = new ArrayList<>();
    for (CrashHarness.Mode mode : CrashHarness.Mode.values()) {
      for (long k = 0; k < total; k++) {
        String what = mode + " at call " + k + " (" + opLog.label(base + k) + ")";
        Path dir = tmp.resolve("sweep-" + mode + "-" + k);
        CrashHarness.copyTree(template, dir);
        CrashHarness h = harness(dir);
        try {
          h.open();
          mode.arm(h.vfs, h.vfs.operationCount() + k);
          boolean created = false;
          boolean written = false;
          try {
            Fork a = h.engine.createFork("a", null, "b", false, 10_000);
            created = true;
            write(a, "a1", "a one");
            written = true;
            flushAndWait(a);
          } catch (Exception ex) {
            // the injected fault may fail any step
          }
          h.powerLoss();
          StrataEngine e = h.open();
          List<String> names = e.openForks().stream().map(Fork::name).toList();
          if (created && !names.contains("a")) {
            failures.add(what + ": a create that returned was lost");
          }
          if (names.contains("a")) {
            Fork a = e.fork("a");
            if (!"b one".equals(bodyOf(a, "b1")) || !"main one".equals(bodyOf(a, "m1"))) {
              failures.add(what + ": fork a lost its base's data");
            }
            if (written && !"a one".equals(bodyOf(a, "a1"))) {
              failures.add(what + ": an acknowledged write to a was lost");
            }
          }
          for (String p : CrashHarness.recoveryProblems(e)) {
            failures.add(what + ": " + p);
          }
          for (Fork f : e.openForks()) {
            write(f, "probe", "after");
            flushAndWait(f);
            if (!f.verifyChain().isEmpty()) {
              failures.add(what + ": fork " + f.name() + " chain after a flush: " + f.verifyChain());
            }
          }
        } catch (AssertionError | Exception ex) {
          failures.add(what + ": " + ex);
        } finally {
          h.close();
          CrashHarness.deleteTree(dir);
        }
      }
    }
    assertThat(failures).as("crash points of a fork creation and its first flush").isEmpty();
  }
}
