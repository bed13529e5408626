package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static dev.strata.engine.MergeTesting.await;
import static dev.strata.engine.MergeTesting.flush;
import static dev.strata.engine.MergeTesting.merge;
import static dev.strata.engine.MergeTesting.state;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.Mutation;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.manifest.proto.MergeKind;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MergeFork end to end in the engine: fast-forward (O(1), no segment written), three-way with
 * disjoint changes, conflicts under each strategy, conditional merges, repeated merges (the last
 * merge is the next base), fork-of-fork chains, collections and schema conflicts, and the merge
 * across a restart (replayed from the WAL, recorded in the manifest that holds it).
 */
class MergeForkTest {
  private static final String C = "docs";

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

  private Fork main() {
    return fx.engine.fork(StrataEngine.MAIN);
  }

  private static void put1(Fork f, String id, String body) {
    f.write(C, put(doc(id, body, "t", 1)), Durability.SYNC);
  }

  private static void del(Fork f, String id) {
    f.write(C, List.of(new Mutation.Delete(id)), Durability.SYNC);
  }

  /** main with a0..a9 flushed, and fork "feat" from its head. */
  private Fork seeded() throws Exception {
    Fork main = main();
    main.createOrGetCollection(C, SCHEMA);
    for (int i = 0; i < 10; i++) {
      put1(main, "a" + i, "base " + i);
    }
    flush(main);
    return fx.engine.createFork("feat", null, StrataEngine.MAIN, false, 0);
  }

  @Test
  void aFastForwardTakesTheSourceSegmentsWithoutWritingAnySegment() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat one");
    del(feat, "a2");
    put1(feat, "b1", "new on feat");
    Manifest featHead = flush(feat);
    Map<String, String> expected = state(feat);
    var onDisk = fx.engine.segments().segmentIdsOnDisk();
    long mainLsn = main().stats().walLastLsn();

    MergeResult r = merge(fx.engine, "feat", "", MergeStrategy.FAIL);

    assertThat(r.outcome()).isEqualTo(MergeResult.Outcome.FAST_FORWARD);
    assertThat(r.sourceSnapshotId()).isEqualTo(featHead.getId());
    assertThat(r.baseSnapshotId()).isEqualTo(feat.entry().baseSnapshotId());
    Manifest merged = await(main(), r.ticket());
    assertThat(merged.getOrigin()).isEqualTo(ManifestOrigin.MANIFEST_ORIGIN_MERGE);
    assertThat(merged.getId()).as("the ticket resolves to the merge's own snapshot").isEqualTo(main().head().orElseThrow().getId());
    assertThat(merged.getSegmentsList()).isEqualTo(featHead.getSegmentsList());
    assertThat(merged.getMergesList()).singleElement().satisfies(m -> {
      assertThat(m.getSourceSnapshotId()).isEqualTo(featHead.getId());
      assertThat(m.getKind()).isEqualTo(MergeKind.MERGE_KIND_FAST_FORWARD);
      assertThat(m.getMergedInSeq()).isEqualTo(merged.getSeq());
    });
    assertThat(fx.engine.segments().segmentIdsOnDisk()).as("O(1): no segment written").isEqualTo(onDisk);
    assertThat(main().stats().walLastLsn()).as("one marker record, no data").isEqualTo(mainLsn + 1);
    assertThat(state(main())).isEqualTo(expected);
    assertThat(main().search(C, dev.strata.engine.segment.SearchQuery.of("feat", 10), null).hits()).hasSize(2);

    // The target keeps going: a write on top, flushed, survives a restart with the merge.
    put1(main(), "c1", "after the merge");
    flush(main());
    expected.put(C + "/c1", "after the merge");
    fx.reopen();
    assertThat(state(main())).isEqualTo(expected);
    assertThat(main().verifyChain()).isEmpty();
    assertThat(merge(fx.engine, "feat", "main", MergeStrategy.FAIL).outcome())
        .as("merged already: the merge recorded is the next base")
        .isEqualTo(MergeResult.Outcome.UP_TO_DATE);
  }

  @Test
  void aThreeWayMergeOfDisjointChangesEqualsApplyingBoth() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat one");
    del(feat, "a2");
    put1(feat, "f1", "feat new");
    flush(feat);
    put1(feat, "f2", "feat unflushed");  // not in the source snapshot unless flushed
    Fork main = main();
    put1(main, "a5", "main five");
    del(main, "a6");
    put1(main, "m1", "main new");
    flush(main);
    put1(main, "m2", "main in L0");      // the target's unflushed writes are part of its side

    Map<String, String> expected = new TreeMap<>(state(main));
    expected.put(C + "/a1", "feat one");
    expected.remove(C + "/a2");
    expected.put(C + "/f1", "feat new");

    MergeResult dry = fx.engine.mergeFork(MergeSpec.of("feat", "main", MergeStrategy.FAIL).asDryRun());
    assertThat(dry.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    assertThat(dry.documentsPut()).isEqualTo(2);
    assertThat(dry.documentsDeleted()).isEqualTo(1);
    assertThat(dry.ticket()).isNull();
    assertThat(state(main)).as("a dry run writes nothing").doesNotContainKey(C + "/f1");

    MergeResult r = merge(fx.engine, "feat", "main", MergeStrategy.FAIL);
    assertThat(r.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    assertThat(r.conflictCount()).isZero();
    assertThat(state(main)).as("visible at once, at the head").isEqualTo(expected);
    Manifest holding = await(main, r.ticket());
    assertThat(holding.getCoveredLsn()).isGreaterThanOrEqualTo(r.mergeLsn());
    assertThat(holding.getMergesList()).singleElement().satisfies(m -> {
      assertThat(m.getKind()).isEqualTo(MergeKind.MERGE_KIND_THREE_WAY);
      assertThat(m.getMergedInSeq()).isEqualTo(holding.getSeq());
      assertThat(m.getLsn()).isEqualTo(r.mergeLsn());
    });
    fx.reopen();
    assertThat(state(main())).isEqualTo(expected);
  }

  @Test
  void conflictsAreReportedOrResolvedByTheStrategy() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat one");
    put1(feat, "a2", "same on both");
    del(feat, "a3");
    put1(feat, "a4", "feat four");
    flush(feat);
    Fork main = main();
    put1(main, "a1", "main one");    // conflict: both changed
    put1(main, "a2", "same on both"); // the same change: no conflict
    put1(main, "a3", "main three");  // conflict: deleted there, changed here
    del(main, "a4");                 // conflict: changed there, deleted here
    flush(main);
    Map<String, String> before = state(main);

    MergeResult fail = merge(fx.engine, "feat", "main", MergeStrategy.FAIL);
    assertThat(fail.outcome()).isEqualTo(MergeResult.Outcome.CONFLICTS);
    assertThat(fail.conflictCount()).isEqualTo(3);
    assertThat(fail.conflicts()).extracting(MergeResult.Conflict::id).containsExactly("a1", "a3", "a4");
    MergeResult.Conflict a3 = fail.conflicts().get(1);
    assertThat(a3.sourceDeleted()).isTrue();
    assertThat(a3.targetDeleted()).isFalse();
    assertThat(a3.sourceLsn()).as("the tombstone's LSN").isPositive();
    assertThat(a3.targetLsn()).isPositive();
    assertThat(fail.conflicts().get(2).targetDeleted()).isTrue();
    assertThat(state(main)).as("FAIL applies nothing").isEqualTo(before);

    MergeResult page2 =
        fx.engine.mergeFork(new MergeSpec("feat", "main", MergeStrategy.FAIL, null, true, false, 0, C, "a1", 1));
    assertThat(page2.conflicts()).extracting(MergeResult.Conflict::id).containsExactly("a3");
    assertThat(page2.moreConflicts()).isTrue();
    assertThat(page2.conflictCount()).isEqualTo(3);

    MergeResult mine = merge(fx.engine, "feat", "main", MergeStrategy.TARGET_WINS);
    assertThat(mine.outcome()).isEqualTo(MergeResult.Outcome.UP_TO_DATE).as("every change of feat conflicts or is the same");
    assertThat(state(main)).isEqualTo(before);

    MergeResult theirs = merge(fx.engine, "feat", "main", MergeStrategy.SOURCE_WINS);
    assertThat(theirs.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    Map<String, String> expected = new TreeMap<>(before);
    expected.put(C + "/a1", "feat one");
    expected.remove(C + "/a3");
    expected.put(C + "/a4", "feat four");
    assertThat(state(main)).isEqualTo(expected);
  }

  @Test
  void aConditionalMergeIsRefusedOnceTheTargetMoved() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat");
    flush(feat);
    String seen = main().head().orElseThrow().getId();
    put1(main(), "m", "moved");
    flush(main());
    MergeSpec conditional = new MergeSpec("feat", "main", MergeStrategy.FAIL, seen, false, false, 0, "", "", 100);
    assertThatThrownBy(() -> fx.engine.mergeFork(conditional))
        .isInstanceOf(StrataException.class)
        .hasMessageContaining("target moved")
        .satisfies(e -> assertThat(((StrataException) e).kind()).isEqualTo(StrataException.Kind.FAILED_PRECONDITION));
    assertThat(state(main())).doesNotContainEntry(C + "/a1", "feat");
    String now = main().head().orElseThrow().getId();
    MergeResult ok = fx.engine.mergeFork(new MergeSpec("feat", "main", MergeStrategy.FAIL, now, false, false, 0, "", "", 100));
    assertThat(ok.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
  }

  @Test
  void aSecondMergeStartsFromTheFirstAndForkOfForkChainsFindTheirBase() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat v1");
    flush(feat);
    put1(main(), "m1", "main moves");
    flush(main());
    assertThat(merge(fx.engine, "feat", "main", MergeStrategy.FAIL).outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    flush(main());
    put1(feat, "a1", "feat v2"); // changed again on the source only since the first merge
    flush(feat);
    MergeResult second = merge(fx.engine, "feat", "main", MergeStrategy.FAIL);
    assertThat(second.conflictCount()).as("the first merge is the base: no conflict").isZero();
    assertThat(second.baseSnapshotId()).startsWith(feat.id());
    assertThat(state(main())).containsEntry(C + "/a1", "feat v2");

    // main <- feat <- sub: sub merges straight into main; its base is feat's base on main.
    flush(main());
    Fork sub = fx.engine.createFork("sub", null, "feat", false, 0);
    put1(sub, "s1", "from sub");
    flush(sub);
    MergeResult viaChain = merge(fx.engine, "sub", "main", MergeStrategy.FAIL);
    assertThat(viaChain.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    assertThat(viaChain.conflictCount()).isZero();
    assertThat(state(main())).containsEntry(C + "/s1", "from sub").containsEntry(C + "/a1", "feat v2");
    // Merging main into sub (the other direction) brings main's own change over.
    assertThat(merge(fx.engine, "main", "sub", MergeStrategy.FAIL).outcome()).isIn(MergeResult.Outcome.THREE_WAY, MergeResult.Outcome.FAST_FORWARD);
    assertThat(state(sub)).containsEntry(C + "/m1", "main moves");
  }

  @Test
  void collectionsCreatedOnTheSourceComeAcrossAndSchemaConflictsBlock() throws Exception {
    Fork feat = seeded();
    CollectionSchema other = new CollectionSchema(List.of(FieldSpec.of("title", FieldKind.KEYWORD)));
    feat.createOrGetCollection("extra", SCHEMA);
    feat.write("extra", put(doc("x1", "extra one", "t", 1)), Durability.SYNC);
    feat.createOrGetCollection("clash", SCHEMA);
    flush(feat);
    main().createOrGetCollection("clash", other);
    put1(main(), "m1", "main");
    flush(main());
    MergeResult r = merge(fx.engine, "feat", "main", MergeStrategy.SOURCE_WINS);
    assertThat(r.outcome()).isEqualTo(MergeResult.Outcome.CONFLICTS);
    assertThat(r.conflicts()).singleElement().satisfies(c -> {
      assertThat(c.kind()).isEqualTo(MergeResult.Conflict.Kind.SCHEMA);
      assertThat(c.collection()).isEqualTo("clash");
    });
    assertThat(main().collections().get("extra")).as("nothing applied").isNull();

    Fork feat2 = fx.engine.createFork("feat2", null, StrataEngine.MAIN, true, 10_000);
    feat2.createOrGetCollection("extra", SCHEMA);
    feat2.write("extra", put(doc("x1", "extra one", "t", 1)), Durability.SYNC);
    flush(feat2);
    put1(main(), "m2", "main again");
    MergeResult ok = merge(fx.engine, "feat2", "main", MergeStrategy.FAIL);
    assertThat(ok.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    assertThat(ok.collectionsCreated()).isEqualTo(1);
    assertThat(main().collections().get("extra").schema()).isEqualTo(SCHEMA);
    assertThat(state(main())).containsEntry("extra/x1", "extra one");
    await(main(), ok.ticket());
    fx.crashAndReopen();
    assertThat(state(main())).containsEntry("extra/x1", "extra one").containsKey(C + "/m2");
  }

  @Test
  void aThreeWayMergeSurvivesARestartBeforeItsFlushAndIsRecordedAfter() throws Exception {
    Fork feat = seeded();
    put1(feat, "a1", "feat");
    flush(feat);
    put1(main(), "m1", "main");
    flush(main());
    MergeResult r = merge(fx.engine, "feat", "main", MergeStrategy.FAIL);
    assertThat(r.outcome()).isEqualTo(MergeResult.Outcome.THREE_WAY);
    Map<String, String> expected = state(main());
    fx.crashAndReopen(); // the merge's flush may or may not have published; the WAL has the merge
    assertThat(state(main())).isEqualTo(expected);
    Manifest h = flush(main());
    assertThat(h.getMergesList()).as("recorded by the snapshot that holds it").hasSize(1);
    assertThat(merge(fx.engine, "feat", "main", MergeStrategy.FAIL).outcome()).isEqualTo(MergeResult.Outcome.UP_TO_DATE);
  }

  @Test
  void badRequestsAreRefused() throws Exception {
    seeded();
    assertThatThrownBy(() -> merge(fx.engine, "feat", "feat", MergeStrategy.FAIL)).hasMessageContaining("into itself");
    assertThatThrownBy(() -> merge(fx.engine, "main", "", MergeStrategy.FAIL)).hasMessageContaining("name the target");
    assertThatThrownBy(() -> merge(fx.engine, "nope", "main", MergeStrategy.FAIL))
        .satisfies(e -> assertThat(((StrataException) e).kind()).isEqualTo(StrataException.Kind.NOT_FOUND));
  }
}
