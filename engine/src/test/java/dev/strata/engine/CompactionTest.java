package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.body;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compaction end to end on one engine: merge, newest wins, tombstones, liveness, restart. */
class CompactionTest {
  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  private EngineFixture open(boolean background) throws Exception {
    var c = dev.strata.engine.compaction.CompactionOptions.defaults().withEnabled(background);
    fx = new EngineFixture(dir, EngineFixture.testOptions().compaction(c).build());
    return fx;
  }

  private static void flush(Fork f) throws Exception {
    f.awaitTicket(f.flush(5_000)).get(30, TimeUnit.SECONDS);
  }

  @Test
  void fullMergeKeepsNewestVersionsAndDropsTombstonesAndShadowedText() throws Exception {
    open(false);
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("c", SCHEMA);
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 50; i++) {
        main.write("c", put(doc("d" + i, "round" + round + " common", "t" + (i % 3), i)), Durability.SYNC);
      }
      flush(main);
    }
    main.write("c", List.of(new Mutation.Delete("d7")), Durability.SYNC);
    flush(main);
    assertThat(main.stats().segmentCount()).isEqualTo(6);
    String before = main.head().orElseThrow().getId();
    PublishedSnapshot old = main.acquireHead();

    CompactionResult r = fx.engine.compact("main", true).get(60, TimeUnit.SECONDS);

    assertThat(r.published()).isPresent();
    assertThat(r.segmentsBefore()).isEqualTo(6);
    assertThat(r.segmentsAfter()).isEqualTo(1);
    Manifest m = main.head().orElseThrow();
    assertThat(m.getOrigin()).isEqualTo(ManifestOrigin.MANIFEST_ORIGIN_COMPACTION);
    assertThat(m.getParentId()).isEqualTo(before);
    assertThat(m.getSegmentsCount()).isEqualTo(1);
    assertThat(m.getSegments(0).getDocCount()).isEqualTo(49);
    assertThat(m.getSegments(0).getTombstoneCount()).isZero(); // the run reached the bottom
    assertThat(main.get("c", "d7")).isNull();
    for (int i = 0; i < 50; i++) {
      if (i == 7) {
        continue;
      }
      DocumentVersion v = main.get("c", "d" + i);
      assertThat(body(v.document())).isEqualTo("round4 common");
    }
    SearchResult hits = main.search("c", SearchQuery.of("round3", 100), null);
    assertThat(hits.totalHits()).isZero();
    hits = main.search("c", SearchQuery.of("round4", 100), null);
    assertThat(hits.totalHits()).isEqualTo(49);
    assertThat(fx.engine.verify()).isEmpty();

    // A reader that held the old head keeps reading it, exactly.
    assertThat(old.get(fx.engine.segments(), "c", "d7").isTombstone()).isTrue();
    old.release();

    fx.reopen();
    main = fx.engine.fork("main");
    assertThat(main.stats().segmentCount()).isEqualTo(1);
    assertThat(body(main.get("c", "d3").document())).isEqualTo("round4 common");
    assertThat(main.search("c", SearchQuery.of("common", 100), null).totalHits()).isEqualTo(49);
  }

  @Test
  void partialRunKeepsTombstonesThatHideOlderSegments() throws Exception {
    var c =
        dev.strata.engine.compaction.CompactionOptions.defaults().withEnabled(false).withFloorSegmentBytes(1024);
    fx = new EngineFixture(dir, EngineFixture.testOptions().compaction(c).build());
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("c", SCHEMA);
    main.write("c", put(doc("a", "old", "x", 1)), Durability.SYNC);
    for (int i = 0; i < 2000; i++) {
      main.write("c", put(doc("big" + i, "bulk text of the oldest segment " + i, "x", i)), Durability.ASYNC);
    }
    flush(main); // the oldest segment holds a, and is big enough to sit in a higher tier
    for (int i = 0; i < 4; i++) {
      main.write("c", put(doc("f" + i, "filler", "x", i)), Durability.SYNC);
      if (i == 1) {
        main.write("c", List.of(new Mutation.Delete("a")), Durability.SYNC);
      }
      flush(main);
    }
    assertThat(main.stats().segmentCount()).isEqualTo(5);
    // The policy merges the 4 small newest ones (one tier, merge factor 4), not the big oldest.
    CompactionResult r = fx.engine.compact("main", false).get(60, TimeUnit.SECONDS);
    assertThat(r.published()).isPresent();
    Manifest m = main.head().orElseThrow();
    assertThat(m.getSegmentsCount()).isEqualTo(2);
    assertThat(m.getSegments(0).getTombstoneCount()).isEqualTo(1);
    assertThat(main.get("c", "a")).isNull();
    assertThat(main.search("c", SearchQuery.of("old", 10), null).totalHits()).isZero();
    fx.reopen();
    assertThat(fx.engine.fork("main").get("c", "a")).isNull();
  }

  @Test
  void flushesPublishedDuringAMergeStayNewerAndShadowTheMergedSegment() throws Exception {
    java.util.concurrent.CountDownLatch merged = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    var c = dev.strata.engine.compaction.CompactionOptions.defaults().withEnabled(false);
    fx =
        new EngineFixture(
            dir,
            EngineFixture.testOptions()
                .compaction(c)
                .compactionHooks(
                    (fork, step) -> {
                      if (step == dev.strata.engine.compaction.CompactionHooks.Step.INGESTED) {
                        merged.countDown();
                        go.await(30, TimeUnit.SECONDS);
                      }
                    })
                .build());
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("c", SCHEMA);
    for (int i = 0; i < 3; i++) {
      main.write("c", put(doc("k", "v" + i, "x", i), doc("other" + i, "o", "x", i)), Durability.SYNC);
      flush(main);
    }
    var job = fx.engine.compact("main", true);
    assertThat(merged.await(30, TimeUnit.SECONDS)).isTrue();
    // While the merge waits, a newer version of k is flushed and published.
    main.write("c", put(doc("k", "newest", "x", 9)), Durability.SYNC);
    flush(main);
    go.countDown();
    CompactionResult r = job.get(60, TimeUnit.SECONDS);
    assertThat(r.published()).isPresent();
    Manifest m = main.head().orElseThrow();
    assertThat(m.getSegmentsCount()).isEqualTo(2);
    assertThat(m.getSegments(1).getOrigin()).isEqualTo(dev.strata.manifest.proto.SegmentOrigin.SEGMENT_ORIGIN_COMPACTION);
    assertThat(body(main.get("c", "k").document())).isEqualTo("newest");
    // The merged segment's copy of k is dead: a search sees exactly one k.
    assertThat(main.search("c", SearchQuery.of("v2", 10), null).totalHits()).isZero();
    assertThat(main.search("c", SearchQuery.of("newest", 10), null).totalHits()).isEqualTo(1);
    assertThat(fx.engine.verify()).isEmpty();
  }

  @Test
  void backgroundCompactionKeepsTheHeadUnderTheCap() throws Exception {
    var c = dev.strata.engine.compaction.CompactionOptions.defaults().withMaxSegments(4).withCheckIntervalMs(50);
    fx = new EngineFixture(dir, EngineFixture.testOptions().compaction(c).build());
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("c", SCHEMA);
    for (int i = 0; i < 30; i++) {
      main.write("c", put(doc("d" + (i % 7), "text " + i, "x", i)), Durability.SYNC);
      flush(main);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (main.stats().segmentCount() > 4 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(main.stats().segmentCount()).isLessThanOrEqualTo(4);
    assertThat(main.stats().compactionsPublished()).isPositive();
    for (int k = 0; k < 7; k++) {
      int last = k + 7 * ((29 - k) / 7);
      assertThat(body(main.get("c", "d" + k).document())).isEqualTo("text " + last);
    }
    assertThat(fx.engine.verify()).isEmpty();
  }

  @Test
  void writersStallOnlyWhenTheHeadReachesTheStopThresholdAndResumeOnceCompactionCatchesUp() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    var c =
        dev.strata.engine.compaction.CompactionOptions.defaults()
            .withMaxSegments(2)
            .withStopWritesSegments(4)
            .withCheckIntervalMs(20);
    fx =
        new EngineFixture(
            dir,
            EngineFixture.testOptions()
                .l0MaxBytes(4096)
                .writeStallTimeoutMs(500)
                .compaction(c)
                .compactionHooks(
                    (fork, step) -> {
                      if (step == dev.strata.engine.compaction.CompactionHooks.Step.STARTED) {
                        release.await(60, TimeUnit.SECONDS); // compaction cannot keep up
                      }
                    })
                .build());
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("c", SCHEMA);
    String body = "x".repeat(1500);
    // Segments pile up to the stop threshold while compaction is held: writes go on until then.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    StrataException stalled = null;
    int written = 0;
    while (stalled == null && System.nanoTime() < deadline) {
      try {
        main.write("c", put(doc("d" + written, body, "x", written)), Durability.SYNC);
        written++;
      } catch (StrataException e) {
        stalled = e;
      }
    }
    assertThat(stalled).isNotNull();
    assertThat(stalled.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);
    assertThat(stalled.getMessage()).contains("compaction");
    assertThat(main.stats().segmentCount()).isGreaterThanOrEqualTo(4);
    assertThat(main.stats().compactionStalls()).isPositive();
    assertThat(written).isPositive();

    // Compaction catches up: the head drops below the threshold and writes go through again.
    release.countDown();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (main.stats().segmentCount() >= 4 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(main.stats().segmentCount()).isLessThan(4);
    main.write("c", put(doc("after", body, "x", 0)), Durability.SYNC);
    flush(main);
    assertThat(main.get("c", "after")).isNotNull();
    assertThat(main.get("c", "d0")).isNotNull();
  }
}
