package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.BOOKS;
import static dev.strata.engine.segment.TestData.del;
import static dev.strata.engine.segment.TestData.doc;
import static dev.strata.engine.segment.TestData.put;
import static dev.strata.engine.segment.TestData.writeAndIngest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Search across three segments of one manifest (oldest 1, then 2, newest 3) with liveness:
 *
 * <ul>
 *   <li>segment 1: b1..b6 in "books", plus two "other" collection documents that must never leak
 *       into a "books" search (one of them has the same id as a books document);
 *   <li>segment 2: b2 updated (new title), b3 deleted, b7 added;
 *   <li>segment 3: b4 updated (its new title has "fox"), b5 deleted, b8 added.
 * </ul>
 *
 * Live: b1 (1), b2 (2), b4 (3), b6 (1), b7 (2), b8 (3).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SegmentSearcherTest {
  SegmentStore store;
  List<Segment> newestFirst;
  LivenessMap liveness;

  static final CollectionSchema OTHER =
      new CollectionSchema(
          List.of(
              FieldSpec.of("title", FieldKind.KEYWORD), // same name, another kind: must coexist
              FieldSpec.of("n", FieldKind.DOUBLE)));

  @BeforeAll
  void setUp(@TempDir Path dataDir) throws IOException {
    store = SegmentStore.open(dataDir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20));
    Map<String, CollectionSchema> schemas = Map.of("books", BOOKS, "other", OTHER);
    writeAndIngest(
        store,
        1,
        List.of(
            put(
                "books",
                1,
                doc(
                    "b1",
                    "title",
                    "The quick brown fox",
                    "body",
                    "foxes are running quickly",
                    "tag",
                    List.of("animal", "classic"),
                    "n",
                    10L,
                    "x",
                    1.5)),
            put(
                "books",
                2,
                doc("b2", "title", "Lazy dog sleeps", "tag", "animal", "n", 20L, "x", -3.25)),
            put(
                "books",
                3,
                doc("b3", "title", "Gone soon fox", "tag", "doomed", "n", 30L, "x", 0.0)),
            put(
                "books",
                4,
                doc("b4", "title", "Old title four", "tag", "misc", "n", 40L, "x", 100.0)),
            put("books", 5, doc("b5", "title", "Fox five", "tag", "misc", "n", 50L, "x", 7.0)),
            put("books", 6, doc("b6", "title", "No numbers here", "note", "stored only")),
            put("other", 7, doc("b1", "title", "fox", "n", 99.0)),
            put("other", 8, doc("o2", "title", "quick brown fox", "n", 1L))),
        schemas);
    writeAndIngest(
        store,
        2,
        List.of(
            put(
                "books",
                9,
                doc("b2", "title", "Energetic dog runs", "tag", "animal", "n", 21L, "x", 2.0)),
            del("books", 10, "b3"),
            put(
                "books",
                11,
                doc("b7", "title", "A seventh fox", "tag", "classic", "n", 70L, "x", 70.5))),
        schemas);
    writeAndIngest(
        store,
        3,
        List.of(
            put(
                "books",
                12,
                doc("b4", "title", "New title four fox", "tag", "misc", "n", 41L, "x", 41.0)),
            del("books", 13, "b5"),
            put("books", 14, doc("b8", "title", "Eighth", "tag", "classic", "n", -5L, "x", 1e300))),
        schemas);
    newestFirst = List.of(store.acquire(3), store.acquire(2), store.acquire(1));
    // incremental, as the flush path builds it
    LivenessMap m = LivenessMap.empty();
    m = m.withNewest(newestFirst.get(1), List.of(newestFirst.get(2)), store);
    m = m.withNewest(newestFirst.get(0), newestFirst.subList(1, 3), store);
    liveness = m;
  }

  @AfterAll
  void tearDown() throws IOException {
    if (newestFirst != null) {
      newestFirst.forEach(Segment::release);
    }
    if (store != null) {
      store.close();
    }
  }

  SearchResult search(SearchQuery q) throws IOException {
    return SegmentSearcher.search(newestFirst, liveness, "books", BOOKS, q, store);
  }

  static List<String> ids(SearchResult r) {
    return r.hits().stream().map(SearchHit::id).toList();
  }

  @Test
  void livenessIsIncrementalAndEqualsRebuild() throws IOException {
    // segment 1: b2 (updated in 2), b3 (deleted in 2), b4 (updated in 3), b5 (deleted in 3) dead
    assertThat(liveness.deadDocCount(1)).isEqualTo(4);
    assertThat(liveness.deadDocCount(2)).isZero();
    assertThat(liveness.deadDocCount(3)).isZero();
    assertThat(liveness.liveDocs(3)).isNull();
    LivenessMap rebuilt = LivenessMap.rebuild(newestFirst, store);
    for (long s = 1; s <= 3; s++) {
      assertThat(rebuilt.deadDocCount(s)).isEqualTo(liveness.deadDocCount(s));
      int max = newestFirst.get((int) (3 - s)).maxDoc();
      for (int d = 0; d < max; d++) {
        boolean a = liveness.liveDocs(s) == null || liveness.liveDocs(s).get(d);
        boolean b = rebuilt.liveDocs(s) == null || rebuilt.liveDocs(s).get(d);
        assertThat(a).as("segment %d doc %d", s, d).isEqualTo(b);
      }
    }
    assertThat(liveness.retainOnly(java.util.Set.of(2L, 3L)).deadDocCount(1)).isZero();
  }

  @Test
  void matchAllReturnsEachLiveDocumentOnceWithItsNewestContent() throws IOException {
    SearchResult r = search(SearchQuery.of("*", 100));
    assertThat(r.totalHits()).isEqualTo(6);
    assertThat(ids(r)).containsExactlyInAnyOrder("b1", "b2", "b4", "b6", "b7", "b8");
    SearchHit b2 = r.hits().stream().filter(h -> h.id().equals("b2")).findFirst().orElseThrow();
    assertThat(b2.segmentId()).isEqualTo(2);
    assertThat(b2.document().fields().get("title"))
        .isEqualTo(new FieldValue.Str("Energetic dog runs"));
    SearchHit b4 = r.hits().stream().filter(h -> h.id().equals("b4")).findFirst().orElseThrow();
    assertThat(b4.segmentId()).isEqualTo(3);
    SearchHit b6 = r.hits().stream().filter(h -> h.id().equals("b6")).findFirst().orElseThrow();
    assertThat(b6.document().fields().get("note")).isEqualTo(new FieldValue.Str("stored only"));
    assertThat(search(SearchQuery.of("", 100)).totalHits()).isEqualTo(6);
    assertThat(search(SearchQuery.of(null, 100)).totalHits()).isEqualTo(6);
  }

  @Test
  void textQueryMatchesOnlyLiveVersions() throws IOException {
    // "fox": b1, b3 (deleted), b4 (new title has fox, old did not), b5 (deleted), b7; the
    // "other" collection's fox documents never appear.
    SearchResult r = search(SearchQuery.of("fox", 10));
    assertThat(ids(r)).containsExactlyInAnyOrder("b1", "b4", "b7");
    assertThat(r.totalHits()).isEqualTo(3);
    assertThat(r.hits()).allSatisfy(h -> assertThat(h.score()).isPositive());
    // shadowed old text no longer matches
    assertThat(ids(search(SearchQuery.of("lazy", 10)))).isEmpty();
    assertThat(ids(search(SearchQuery.of("old", 10)))).isEmpty();
    assertThat(ids(search(SearchQuery.of("energetic", 10)))).containsExactly("b2");
    assertThat(ids(search(SearchQuery.of("gone", 10)))).isEmpty();
    // OR is the default operator; AND works; fields can be named
    assertThat(ids(search(SearchQuery.of("eighth energetic", 10))))
        .containsExactlyInAnyOrder("b2", "b8");
    assertThat(ids(search(SearchQuery.of("fox AND quick", 10)))).containsExactly("b1");
    assertThat(ids(search(SearchQuery.of("title:\"new title\"", 10)))).containsExactly("b4");
    // english analyzer stems the body: "run" matches "running"
    assertThat(ids(search(SearchQuery.of("body:run", 10)))).containsExactly("b1");
    assertThat(ids(search(SearchQuery.of("title:run", 10)))).isEmpty(); // standard: "runs" != "run"
    // KEYWORD and numeric fields in the query string
    assertThat(ids(search(SearchQuery.of("tag:classic", 10))))
        .containsExactlyInAnyOrder("b1", "b7", "b8");
    assertThat(ids(search(SearchQuery.of("n:[20 TO 45]", 10))))
        .containsExactlyInAnyOrder("b2", "b4");
    assertThat(ids(search(SearchQuery.of("n:41", 10)))).containsExactly("b4");
    assertThat(ids(search(SearchQuery.of("x:{1.5 TO *]", 10))))
        .containsExactlyInAnyOrder("b2", "b4", "b7", "b8");
  }

  @Test
  void keywordFilters() throws IOException {
    assertThat(ids(search(SearchQuery.of("*", 10).withTerm("tag", "animal"))))
        .containsExactlyInAnyOrder("b1", "b2");
    assertThat(ids(search(SearchQuery.of("fox", 10).withTerm("tag", "classic"))))
        .containsExactlyInAnyOrder("b1", "b7");
    assertThat(ids(search(SearchQuery.of("*", 10).withTerm("tag", "doomed")))).isEmpty();
    assertThat(ids(search(SearchQuery.of("*", 10).withTerm("tag", "Animal")))).isEmpty();
    assertThat(
            ids(
                search(
                    SearchQuery.of("*", 10).withTerm("tag", "animal").withTerm("tag", "classic"))))
        .containsExactly("b1");
  }

  @Test
  void rangeFilters() throws IOException {
    assertThat(ids(search(SearchQuery.of("*", 10).withRange(RangeFilter.longs("n", 20L, 41L)))))
        .containsExactlyInAnyOrder("b2", "b4");
    assertThat(
            ids(
                search(
                    SearchQuery.of("*", 10).withRange(new RangeFilter("n", 21, 41, false, false)))))
        .isEmpty();
    assertThat(ids(search(SearchQuery.of("*", 10).withRange(RangeFilter.longs("n", null, 10L)))))
        .containsExactlyInAnyOrder("b1", "b8");
    assertThat(ids(search(SearchQuery.of("*", 10).withRange(RangeFilter.doubles("x", -1.0, 2.0)))))
        .containsExactlyInAnyOrder("b1", "b2");
    assertThat(
            ids(
                search(
                    SearchQuery.of("*", 10)
                        .withRange(new RangeFilter("x", 2.0, null, false, true)))))
        .containsExactlyInAnyOrder("b4", "b7", "b8");
    assertThat(
            ids(
                search(
                    SearchQuery.of("*", 10)
                        .withRange(new RangeFilter("n", Long.MAX_VALUE, null, false, true)))))
        .isEmpty();
    assertThatThrownBy(
            () ->
                search(
                    SearchQuery.of("*", 10).withRange(new RangeFilter("n", 1.5, null, true, true))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("integer");
  }

  @Test
  void sortAscendingAndDescendingWithMissingValuesLast() throws IOException {
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("n", false))))
        .containsExactly("b8", "b1", "b2", "b4", "b7", "b6");
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("n", true))))
        .containsExactly("b7", "b4", "b2", "b1", "b8", "b6");
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("x", false))))
        .containsExactly("b1", "b2", "b4", "b7", "b8", "b6");
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("x", true))))
        .containsExactly("b8", "b7", "b4", "b2", "b1", "b6");
    // KEYWORD: smallest value of a multi-valued field; ties by id
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("tag", false))))
        .containsExactly("b1", "b2", "b7", "b8", "b4", "b6");
    assertThat(ids(search(SearchQuery.of("*", 10).sortedBy("tag", true))))
        .containsExactly("b4", "b7", "b8", "b1", "b2", "b6");
    SearchResult sorted = search(SearchQuery.of("fox", 10).sortedBy("n", true));
    assertThat(ids(sorted)).containsExactly("b7", "b4", "b1");
    assertThat(sorted.hits()).allSatisfy(h -> assertThat(h.score()).isPositive());
  }

  @Test
  void limitKeepsTheTopHitsAndCountsAll() throws IOException {
    SearchResult r = search(SearchQuery.of("*", 2).sortedBy("n", false));
    assertThat(ids(r)).containsExactly("b8", "b1");
    assertThat(r.totalHits()).isEqualTo(6);
    SearchResult scored = search(SearchQuery.of("fox quick", 1));
    assertThat(ids(scored)).containsExactly("b1");
    assertThat(scored.totalHits()).isEqualTo(3);
    assertThatThrownBy(() -> SearchQuery.of("*", 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SearchQuery.of("*", 10_001))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void segmentsOfOneCollectionAreSearchedExactlyWithoutTheCollectionFilter() throws IOException {
    // Segments 3 and 2 hold "books" documents only: the searcher leaves the collection filter out
    // there (SnapshotSearcher.onlyThisCollection); liveness must still hide b3 and b5.
    List<Segment> books = newestFirst.subList(0, 2);
    LivenessMap m = LivenessMap.empty().withNewest(books.get(0), List.of(books.get(1)), store);
    SearchResult fox = SegmentSearcher.search(books, m, "books", BOOKS, SearchQuery.of("fox", 10), store);
    assertThat(ids(fox)).containsExactlyInAnyOrder("b7", "b4");
    assertThat(fox.totalHits()).isEqualTo(2);
    SearchResult all = SegmentSearcher.search(books, m, "books", BOOKS, SearchQuery.of("*", 10), store);
    assertThat(ids(all)).containsExactlyInAnyOrder("b2", "b7", "b4", "b8");
    assertThat(all.totalHits()).isEqualTo(4);
    SearchResult filtered =
        SegmentSearcher.search(books, m, "books", BOOKS, SearchQuery.of("fox", 10).withTerm("tag", "classic"), store);
    assertThat(ids(filtered)).containsExactly("b7");
    // "other" has no document there: its filter stays, and nothing matches
    assertThat(SegmentSearcher.search(books, m, "other", OTHER, SearchQuery.of("*", 10), store).hits()).isEmpty();
    // (over all three segments, where segment 1 mixes both collections, the filter stays:
    // textQueryMatchesOnlyLiveVersions)
  }

  @Test
  void otherCollectionWithTheSameFieldNameAndAnotherKind() throws IOException {
    SearchResult r =
        SegmentSearcher.search(
            newestFirst,
            liveness,
            "other",
            OTHER,
            SearchQuery.of("*", 10)
                .withTerm("title", "fox")
                .withRange(RangeFilter.doubles("n", 50.0, null)),
            store);
    assertThat(ids(r)).containsExactly("b1");
    assertThat(r.hits().get(0).document().fields().get("n"))
        .isEqualTo(new FieldValue.Float64(99.0));
    // OTHER has no TEXT field: unqualified terms match nothing
    assertThat(
            SegmentSearcher.search(
                    newestFirst, liveness, "other", OTHER, SearchQuery.of("fox", 10), store)
                .hits())
        .isEmpty();
  }

  @Test
  void badQueriesAndFieldsAreIllegalArguments() {
    assertThatThrownBy(() -> search(SearchQuery.of("title:(unbalanced", 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bad query string");
    assertThatThrownBy(() -> search(SearchQuery.of("nosuch:x", 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nosuch'");
    assertThatThrownBy(() -> search(SearchQuery.of("note:x", 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("STORED");
    assertThatThrownBy(() -> search(SearchQuery.of("n:abc", 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an integer");
    assertThatThrownBy(() -> search(SearchQuery.of("*", 10).withTerm("title", "x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'title'")
        .hasMessageContaining("TEXT");
    assertThatThrownBy(() -> search(SearchQuery.of("*", 10).withTerm("nosuch", "x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'nosuch'");
    assertThatThrownBy(
            () -> search(SearchQuery.of("*", 10).withRange(RangeFilter.longs("tag", 1L, 2L))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'tag'");
    assertThatThrownBy(() -> search(SearchQuery.of("*", 10).sortedBy("title", false)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'title'");
  }

  @Test
  void validateRejectsWrongTypesWithPreciseMessages() {
    assertThatThrownBy(() -> SegmentStore.validate(doc("d1", "n", "twelve"), BOOKS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("document 'd1': field 'n' is LONG and needs an integer, got a string");
    assertThatThrownBy(() -> SegmentStore.validate(doc("d1", "x", true), BOOKS))
        .hasMessage(
            "document 'd1': field 'x' is DOUBLE and needs a double or an integer, got a boolean");
    assertThatThrownBy(() -> SegmentStore.validate(doc("d1", "title", 5L), BOOKS))
        .hasMessageContaining("field 'title' is TEXT");
    assertThatThrownBy(() -> SegmentStore.validate(doc("d1", "tag", 1.0), BOOKS))
        .hasMessageContaining("field 'tag' is KEYWORD");
    assertThatThrownBy(() -> SegmentStore.validate(doc("d1", "tag", "k".repeat(40_000)), BOOKS))
        .hasMessageContaining("40000 UTF-8 bytes");
    // accepted: integer in a DOUBLE field, lists in TEXT/KEYWORD, anything in STORED/unknown
    SegmentStore.validate(
        doc(
            "d1",
            "x",
            3L,
            "title",
            List.of("a", "b"),
            "tag",
            List.of(),
            "note",
            new byte[] {1},
            "free",
            true),
        BOOKS);
    assertThatThrownBy(
            () ->
                DocumentIndexer.validateSchema(
                    new CollectionSchema(List.of(new FieldSpec("t", FieldKind.TEXT, "klingon")))))
        .hasMessageContaining("unknown analyzer 'klingon'");
  }

  @Test
  void integerInADoubleFieldIsIndexedAsDouble(@TempDir Path dir) throws IOException {
    try (SegmentStore s =
        SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20))) {
      writeAndIngest(s, 1, List.of(put("books", 1, doc("i", "x", 3L))), Map.of("books", BOOKS));
      try (Segment seg = s.acquire(1)) {
        SearchResult r =
            SegmentSearcher.search(
                List.of(seg),
                LivenessMap.empty(),
                "books",
                BOOKS,
                SearchQuery.of("*", 5).withRange(RangeFilter.doubles("x", 2.5, 3.5)),
                s);
        assertThat(ids(r)).containsExactly("i");
        assertThat(r.hits().get(0).document().fields().get("x")).isEqualTo(new FieldValue.Int64(3));
      }
    }
  }

  @Test
  void analyzersByName(@TempDir Path dir) throws IOException {
    List<FieldSpec> specs = new ArrayList<>();
    for (String a : Analyzers.names()) {
      specs.add(new FieldSpec(a, FieldKind.TEXT, a));
    }
    CollectionSchema schema = new CollectionSchema(specs);
    String text = "The Running-Dogs ran";
    Object[] kv = new Object[specs.size() * 2];
    for (int i = 0; i < specs.size(); i++) {
      kv[2 * i] = specs.get(i).name();
      kv[2 * i + 1] = text;
    }
    try (SegmentStore s =
        SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20))) {
      writeAndIngest(s, 1, List.of(put("c", 1, doc("d", kv))), Map.of("c", schema));
      try (Segment seg = s.acquire(1)) {
        java.util.function.Function<String, Long> hits =
            q -> {
              try {
                return SegmentSearcher.search(
                        List.of(seg), LivenessMap.empty(), "c", schema, SearchQuery.of(q, 5), s)
                    .totalHits();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            };
        assertThat(hits.apply("english:dog")).isEqualTo(1); // stemmed
        assertThat(hits.apply("standard:dog")).isZero();
        assertThat(hits.apply("standard:dogs")).isEqualTo(1);
        assertThat(hits.apply("whitespace:Running\\-Dogs")).isEqualTo(1); // case kept, no split
        assertThat(hits.apply("whitespace:running")).isZero();
        assertThat(hits.apply("simple:dogs")).isEqualTo(1); // letters only, lower-cased
        assertThat(hits.apply("keyword:\"The Running-Dogs ran\"")).isEqualTo(1);
        assertThat(hits.apply("keyword:ran")).isZero();
      }
    }
  }
}
