package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.body;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The write path, reads at the head and at snapshots, flush tickets, and reopen. */
class ForkWriteReadTest {
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

  private static Manifest await(Fork f, FlushTicket t) throws Exception {
    return f.awaitTicket(t).get(20, TimeUnit.SECONDS);
  }

  @Test
  void readYourWritesThenFlushThenReadFromSegments() throws Exception {
    Fork main = main();
    main.createOrGetCollection("docs", SCHEMA);
    long lsn1 = main.write("docs", put(doc("a", "hello world", "x", 1), doc("b", "good bye", "y", 2)), Durability.SYNC);
    long lsn2 = main.write("docs", List.of(new Mutation.Delete("b")), Durability.ASYNC);
    assertThat(lsn2).isGreaterThan(lsn1);
    assertThat(body(main.get("docs", "a").document())).isEqualTo("hello world");
    assertThat(main.get("docs", "b")).as("tombstone in L0 hides it").isNull();

    Manifest snap = await(main, main.flush(1000));
    assertThat(snap.getCoveredLsn()).isGreaterThanOrEqualTo(lsn2);
    assertThat(snap.getSegmentsCount()).isEqualTo(1);
    assertThat(main.stats().l0Bytes()).isZero();
    assertThat(main.stats().frozenL0Bytes()).isZero();
    assertThat(main.stats().walDurableLsn()).isGreaterThanOrEqualTo(lsn2);
    assertThat(body(main.get("docs", "a").document())).isEqualTo("hello world");
    assertThat(main.get("docs", "b")).isNull();

    List<SearchHit> hits = main.search("docs", SearchQuery.of("hello", 10), null).hits();
    assertThat(hits).extracting(SearchHit::id).containsExactly("a");
  }

  @Test
  void newerSegmentsShadowOlderOnesAndSnapshotsNeverChange() throws Exception {
    Fork main = main();
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("a", "apple pie", "x", 1), doc("b", "banana split", "x", 2)), Durability.SYNC);
    Manifest s1 = await(main, main.flush(1000));
    main.write("docs", put(doc("a", "cherry tart", "x", 3)), Durability.SYNC);
    main.write("docs", List.of(new Mutation.Delete("b")), Durability.SYNC);
    Manifest s2 = await(main, main.flush(1000));
    assertThat(s2.getParentId()).isEqualTo(s1.getId());
    assertThat(s2.getSeq()).isGreaterThan(s1.getSeq());

    assertThat(body(main.get("docs", "a").document())).isEqualTo("cherry tart");
    assertThat(main.get("docs", "b")).isNull();
    assertThat(main.search("docs", SearchQuery.of("apple", 10), null).hits()).isEmpty();
    assertThat(main.search("docs", SearchQuery.of("banana", 10), null).hits()).isEmpty();
    assertThat(main.search("docs", SearchQuery.of("cherry", 10), null).hits())
        .extracting(SearchHit::id)
        .containsExactly("a");

    PublishedSnapshot old = main.acquireSnapshot(s1.getId());
    try {
      assertThat(body(old.get(fx.engine.segments(), "docs", "a").document())).isEqualTo("apple pie");
      assertThat(main.search("docs", SearchQuery.of("banana", 10), old).hits())
          .extracting(SearchHit::id)
          .containsExactly("b");
      assertThat(main.scan("docs", "", 100, old)).extracting(SegmentEntry::id).containsExactly("a", "b");
    } finally {
      old.release();
    }
    assertThat(main.scan("docs", "", 100, null)).extracting(SegmentEntry::id).containsExactly("a");
  }

  @Test
  void scanMergesL0AndSegmentsInIdOrder() throws Exception {
    Fork main = main();
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("c", "c", "t", 1), doc("a", "a", "t", 1)), Durability.SYNC);
    await(main, main.flush(1000));
    main.write("docs", put(doc("b", "b", "t", 1), doc("d", "d", "t", 1)), Durability.SYNC);
    main.write("docs", List.of(new Mutation.Delete("c")), Durability.SYNC);
    assertThat(main.scan("docs", "", 100, null)).extracting(SegmentEntry::id).containsExactly("a", "b", "d");
    assertThat(main.scan("docs", "b", 2, null)).extracting(SegmentEntry::id).containsExactly("b", "d");
  }

  @Test
  void badInputIsRejectedAndNeverPartlyApplied() {
    Fork main = main();
    main.createOrGetCollection("docs", SCHEMA);
    Document bad = new Document("bad", Map.of("n", new FieldValue.Str("not a number")));
    assertThatThrownBy(() -> main.write("docs", put(doc("ok", "fine", "t", 1), bad), Durability.SYNC))
        .isInstanceOf(StrataException.class)
        .hasMessageContaining("bad")
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.INVALID_ARGUMENT);
    assertThat(main.get("docs", "ok")).isNull();
    assertThatThrownBy(() -> main.write("nope", put(doc("x", "x", "t", 1)), Durability.SYNC))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.NOT_FOUND);
    assertThatThrownBy(() -> main.createOrGetCollection("../x", SCHEMA)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                main.createOrGetCollection(
                    "docs", new dev.strata.engine.model.CollectionSchema(SCHEMA.fields().subList(0, 1))))
        .hasMessageContaining("different schema")
        .hasMessageContaining("tag");
  }

  @Test
  void everythingSurvivesACleanReopenAndTicketsSurviveACrash() throws Exception {
    Fork main = main();
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("a", "flushed", "t", 1)), Durability.SYNC);
    await(main, main.flush(1000));
    long lsn = main.write("docs", put(doc("b", "only in the WAL", "t", 2)), Durability.SYNC);
    FlushTicket ticket = new FlushTicket(main.id(), main.name(), 0, lsn);

    fx.crashAndReopen();
    Fork again = fx.engine.fork("main");
    assertThat(body(again.get("docs", "a").document())).isEqualTo("flushed");
    assertThat(body(again.get("docs", "b").document())).isEqualTo("only in the WAL");
    assertThat(again.collections().get("docs").schema()).isEqualTo(SCHEMA);
    // The ticket issued before the crash resolves with the first flush after it.
    var future = again.awaitTicket(ticket);
    assertThat(future).isNotDone();
    again.flush(1000);
    Manifest m = future.get(20, TimeUnit.SECONDS);
    assertThat(m.getCoveredLsn()).isGreaterThanOrEqualTo(lsn);

    fx.reopen();
    assertThat(body(fx.engine.fork("main").get("docs", "b").document())).isEqualTo("only in the WAL");
    assertThat(fx.engine.fork("main").verifyChain()).isEmpty();
  }
}
