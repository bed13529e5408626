package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.BOOKS;
import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Measures the stream phase and the read paths on a 50k-document segment and prints the numbers
 * (seeded; not a benchmark harness, single cold JVM). The assertions only check the results.
 */
class SegmentWriteTimingTest {
  private static final int DOCS = 50_000;
  private static final long SEED = 20261123L;

  @Test
  void writeIngestReadAndSearchA50kDocSegment(@TempDir Path dir) throws IOException {
    System.out.println("SegmentWriteTimingTest seed=" + SEED);
    Random rnd = new Random(SEED);
    String[] vocab = new String[2000];
    for (int i = 0; i < vocab.length; i++) {
      vocab[i] = "w" + Integer.toString(i, 36) + (char) ('a' + i % 26);
    }
    List<SegmentEntry> entries = new ArrayList<>(DOCS);
    for (int i = 0; i < DOCS; i++) {
      StringBuilder title = new StringBuilder();
      for (int w = 0; w < 12; w++) {
        title.append(vocab[rnd.nextInt(vocab.length)]).append(' ');
      }
      entries.add(
          SegmentEntry.put(
              "books",
              i + 1,
              doc(
                  String.format("doc-%08d", i),
                  "title",
                  title.toString(),
                  "tag",
                  "t" + (i % 50),
                  "n",
                  (long) rnd.nextInt(1_000_000),
                  "x",
                  rnd.nextDouble(),
                  "note",
                  "x".repeat(100))));
    }
    try (SegmentStore store = SegmentStore.open(dir, SegmentStoreOptions.defaults())) {
      long c0 = System.nanoTime();
      store.write(100, entries, Map.of("books", BOOKS)); // cold JVM: class loading, JIT
      long coldMs = (System.nanoTime() - c0) / 1_000_000;
      store.discard(100);
      long t0 = System.nanoTime();
      WrittenSegment w = store.write(1, entries, Map.of("books", BOOKS));
      long t1 = System.nanoTime();
      store.ingest(w);
      long t2 = System.nanoTime();

      // a second, overlapping flush: 10k updates of existing ids
      List<SegmentEntry> updates = new ArrayList<>();
      for (int i = 0; i < DOCS; i += 5) {
        updates.add(
            SegmentEntry.put(
                "books", DOCS + i + 1, doc(String.format("doc-%08d", i), "title", "updated")));
      }
      WrittenSegment w2 = store.write(2, updates, Map.of("books", BOOKS));
      store.ingest(w2);

      try (Segment s1 = store.acquire(1);
          Segment s2 = store.acquire(2)) {
        long t3 = System.nanoTime();
        LivenessMap live = LivenessMap.empty().withNewest(s2, List.of(s1), store);
        long t4 = System.nanoTime();
        assertThat(live.deadDocCount(1)).isEqualTo(DOCS / 5);

        int gets = 50_000;
        long hits = 0;
        long t5 = System.nanoTime();
        for (int i = 0; i < gets; i++) {
          String id = String.format("doc-%08d", rnd.nextInt(DOCS * 2)); // half are misses
          for (Segment s : List.of(s2, s1)) {
            if (store.get(s.segmentId(), "books", id) != null) {
              hits++;
              break;
            }
          }
        }
        long t6 = System.nanoTime();
        assertThat(hits).isBetween(gets / 2L - 1000, gets / 2L + 1000);

        SearchQuery q = SearchQuery.of(vocab[7] + " " + vocab[8], 10);
        SegmentSearcher.search(List.of(s2, s1), live, "books", BOOKS, q, store); // warm-up
        long t7 = System.nanoTime();
        SearchResult r = SegmentSearcher.search(List.of(s2, s1), live, "books", BOOKS, q, store);
        long t8 = System.nanoTime();
        SearchResult sorted =
            SegmentSearcher.search(
                List.of(s2, s1),
                live,
                "books",
                BOOKS,
                SearchQuery.of("*", 100).withTerm("tag", "t3").sortedBy("n", true),
                store);
        long t9 = System.nanoTime();
        assertThat(r.hits()).isNotEmpty();
        assertThat(sorted.totalHits()).isEqualTo(DOCS / 50);

        System.out.printf(
            "50k-doc segment: write %d ms warm / %d ms cold (SST + Lucene, %.1f MiB on disk),"
                + " ingest %d ms; liveness of a 10k-key segment over it %d ms; %d newest-first gets"
                + " over 2 segments %.1f us/get (50%% misses); text search top-10 %.1f ms (%d total"
                + " hits); keyword filter + sort top-100 %.1f ms%n",
            (t1 - t0) / 1_000_000,
            coldMs,
            w.sizeBytes() / 1048576.0,
            (t2 - t1) / 1_000_000,
            (t4 - t3) / 1_000_000,
            gets,
            (t6 - t5) / 1000.0 / gets,
            (t8 - t7) / 1e6,
            r.totalHits(),
            (t9 - t8) / 1e6);
      }
    }
  }
}
