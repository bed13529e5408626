package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Random puts and deletes, cut into consecutive segments (as successive flushes would), must read
 * back like a map holding the newest version per id: point reads newest-first (a tombstone hides
 * older versions) and searches over all segments with liveness (match-all, a text term, a keyword
 * filter with a range). jqwik prints the seed of a failing run.
 */
class SegmentModelPropertyTest {
  private static final List<String> IDS =
      List.of("a", "b", "c", "d", "e", "f", "é", "日本", "😀", "k k", "\uE000", "z");
  private static final List<String> WORDS =
      List.of("alpha", "bravo", "charlie", "delta", "echo", "foxtrot");
  private static final List<String> TAGS = List.of("red", "green", "blue");
  private static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("text", FieldKind.TEXT),
              FieldSpec.of("tag", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG)));

  private static Path dir;
  private static SegmentStore store;
  private static final AtomicLong nextSegmentId = new AtomicLong(1);
  private static final AtomicInteger nextCollection = new AtomicInteger();

  @BeforeContainer
  static void open() throws IOException {
    dir = Files.createTempDirectory("segment-model");
    store = SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20));
  }

  @AfterContainer
  static void close() throws IOException {
    store.close();
    SegmentStoreTest.deleteTree(dir);
  }

  /** One write: a put of a document built from the other fields, or a delete. */
  record Op(String id, boolean delete, List<String> words, String tag, long n) {
    Document document() {
      return doc(id, "text", String.join(" ", words), "tag", tag, "n", n);
    }
  }

  @Provide
  Arbitrary<List<Op>> ops() {
    return Combinators.combine(
            Arbitraries.of(IDS),
            Arbitraries.integers().between(0, 3).map(i -> i == 0),
            Arbitraries.of(WORDS).list().ofMinSize(1).ofMaxSize(3),
            Arbitraries.of(TAGS),
            Arbitraries.longs().between(-50, 50))
        .as(Op::new)
        .list()
        .ofMinSize(1)
        .ofMaxSize(80);
  }

  @Property(tries = 60)
  void newestFirstReadsAndSearchesEqualTheModel(
      @ForAll("ops") List<Op> ops,
      @ForAll @Size(max = 4) List<@IntRange(min = 0, max = 80) Integer> cuts,
      @ForAll @IntRange(min = 0, max = 5) int wordIndex,
      @ForAll boolean withNoise)
      throws IOException {
    // withNoise: every segment also holds another collection's document, which must never show up
    // (the searcher keeps its collection filter); without it every segment holds this collection
    // only and the searcher leaves the filter out, which must not change any answer.
    String coll = "p" + nextCollection.incrementAndGet();
    String noise = coll + ".noise"; // a collection whose keys share the prefix "p<n>"

    // Cut ops into consecutive segments (oldest first); within a segment the newest op per id wins.
    TreeSet<Integer> bounds = new TreeSet<>();
    for (int c : cuts) {
      bounds.add(Math.min(c, ops.size()));
    }
    bounds.add(ops.size());
    List<Map<String, SegmentEntry>> segmentsOldestFirst = new ArrayList<>();
    Map<String, Op> model = new HashMap<>();
    int start = 0;
    for (int end : bounds) {
      Map<String, SegmentEntry> seg = new LinkedHashMap<>();
      for (int i = start; i < end; i++) {
        Op op = ops.get(i);
        long lsn = i + 1;
        seg.put(
            op.id,
            op.delete
                ? SegmentEntry.tombstone(coll, lsn, op.id)
                : SegmentEntry.put(coll, lsn, op.document()));
        model.put(op.id, op);
      }
      segmentsOldestFirst.add(seg);
      start = end;
    }

    List<Long> ids = new ArrayList<>();
    List<Segment> newestFirst = new ArrayList<>();
    try {
      for (Map<String, SegmentEntry> seg : segmentsOldestFirst) {
        long id = nextSegmentId.getAndIncrement();
        List<SegmentEntry> entries = new ArrayList<>(seg.values());
        if (withNoise || entries.isEmpty()) {
          entries.add(
              SegmentEntry.put(
                  noise,
                  0,
                  doc("a", "text", "alpha bravo charlie delta echo foxtrot", "tag", "red")));
        }
        WrittenSegment w = store.write(id, entries, Map.of(coll, SCHEMA, noise, SCHEMA));
        store.ingest(w);
        ids.add(id);
        newestFirst.add(0, store.acquire(id));
      }

      // Point reads, newest first.
      for (String id : IDS) {
        DocumentVersion found = null;
        for (Segment s : newestFirst) {
          found = store.get(s.segmentId(), coll, id);
          if (found != null) {
            break;
          }
        }
        Op expected = model.get(id);
        if (expected == null) {
          assertThat(found).as(id).isNull();
        } else if (expected.delete) {
          assertThat(found).as(id).isNotNull();
          assertThat(found.isTombstone()).as(id).isTrue();
        } else {
          assertThat(found).as(id).isNotNull();
          assertThat(found.document()).as(id).isEqualTo(expected.document());
        }
      }

      LivenessMap rebuilt = LivenessMap.rebuild(newestFirst, store);
      LivenessMap incremental = LivenessMap.empty();
      for (int i = newestFirst.size() - 2; i >= 0; i--) {
        incremental =
            incremental.withNewest(
                newestFirst.get(i), newestFirst.subList(i + 1, newestFirst.size()), store);
      }
      Map<String, Document> live = new TreeMap<>();
      model.forEach(
          (id, op) -> {
            if (!op.delete) {
              live.put(id, op.document());
            }
          });

      for (LivenessMap liveness : List.of(rebuilt, incremental)) {
        SearchResult all =
            SegmentSearcher.search(
                newestFirst,
                liveness,
                coll,
                SCHEMA,
                SearchQuery.of("*", SearchQuery.MAX_LIMIT),
                store);
        assertThat(all.totalHits()).isEqualTo(live.size());
        assertThat(asMap(all)).isEqualTo(live);

        String word = WORDS.get(wordIndex);
        SearchResult byWord =
            SegmentSearcher.search(
                newestFirst, liveness, coll, SCHEMA, SearchQuery.of(word, 100), store);
        assertThat(byWord.hits())
            .extracting(SearchHit::id)
            .containsExactlyInAnyOrderElementsOf(
                live.entrySet().stream()
                    .filter(e -> model.get(e.getKey()).words.contains(word))
                    .map(Map.Entry::getKey)
                    .toList());

        SearchResult filtered =
            SegmentSearcher.search(
                newestFirst,
                liveness,
                coll,
                SCHEMA,
                SearchQuery.of("*", 100)
                    .withTerm("tag", "red")
                    .withRange(RangeFilter.longs("n", 0L, null))
                    .sortedBy("n", false),
                store);
        List<Op> expected =
            model.values().stream()
                .filter(op -> !op.delete && op.tag.equals("red") && op.n >= 0)
                .sorted((x, y) -> x.n != y.n ? Long.compare(x.n, y.n) : utf8Compare(x.id, y.id))
                .toList();
        assertThat(filtered.hits())
            .extracting(SearchHit::id)
            .containsExactlyElementsOf(expected.stream().map(Op::id).toList());
      }
    } finally {
      newestFirst.forEach(Segment::release);
      for (long id : ids) {
        store.markObsolete(id);
      }
    }
  }

  /** Lucene sorts ids (doc values) by UTF-8 bytes, unsigned. */
  private static int utf8Compare(String a, String b) {
    return java.util.Arrays.compareUnsigned(
        a.getBytes(java.nio.charset.StandardCharsets.UTF_8),
        b.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  private static Map<String, Document> asMap(SearchResult r) {
    Map<String, Document> m = new TreeMap<>();
    for (SearchHit h : r.hits()) {
      assertThat(m.put(h.id(), h.document())).as("hit %s returned twice", h.id()).isNull();
    }
    return m;
  }
}
