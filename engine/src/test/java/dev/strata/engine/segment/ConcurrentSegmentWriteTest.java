package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.awaitDeletions;
import static dev.strata.engine.segment.TestData.BOOKS;
import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stream phase runs for several segments at once; readers run while segments arrive. */
class ConcurrentSegmentWriteTest {
  private static final int THREADS = 4;
  private static final int SEGMENTS_PER_THREAD = 4;
  private static final int DOCS_PER_SEGMENT = 1500;

  @Test
  void fourThreadsWriteAndIngestDifferentSegments(@TempDir Path dir) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
    try (SegmentStore store =
        SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(16 << 20))) {
      CountDownLatch start = new CountDownLatch(1);
      Map<Long, WrittenSegment> written = new ConcurrentHashMap<>();
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        futures.add(
            pool.submit(
                (Callable<Void>)
                    () -> {
                      start.await();
                      for (int s = 0; s < SEGMENTS_PER_THREAD; s++) {
                        long segmentId = 100L * thread + s;
                        List<SegmentEntry> entries = new ArrayList<>();
                        for (int i = DOCS_PER_SEGMENT - 1; i >= 0; i--) { // reverse: write() sorts
                          String id = "d" + i;
                          entries.add(
                              i % 10 == 0
                                  ? SegmentEntry.tombstone("c", segmentId * 10_000 + i, id)
                                  : SegmentEntry.put(
                                      "c",
                                      segmentId * 10_000 + i,
                                      doc(
                                          id,
                                          "title",
                                          "seg" + segmentId + " doc " + i,
                                          "n",
                                          (long) i,
                                          "tag",
                                          "t" + thread)));
                        }
                        WrittenSegment w = store.write(segmentId, entries, Map.of("c", BOOKS));
                        store.ingest(w);
                        written.put(segmentId, w);
                      }
                      return null;
                    }));
      }
      // A reader keeps reading whatever has been ingested so far.
      Future<Integer> reader =
          pool.submit(
              () -> {
                start.await();
                int reads = 0;
                while (written.size() < THREADS * SEGMENTS_PER_THREAD) {
                  for (Map.Entry<Long, WrittenSegment> e : written.entrySet()) {
                    String id = "d" + (reads % DOCS_PER_SEGMENT);
                    var v = store.get(e.getKey(), "c", id);
                    assertThat(v).isNotNull();
                    assertThat(v.isTombstone()).isEqualTo((reads % DOCS_PER_SEGMENT) % 10 == 0);
                    reads++;
                  }
                  Thread.onSpinWait();
                }
                return reads;
              });
      start.countDown();
      for (Future<?> f : futures) {
        f.get(120, TimeUnit.SECONDS);
      }
      reader.get(120, TimeUnit.SECONDS);

      assertThat(written).hasSize(THREADS * SEGMENTS_PER_THREAD);
      assertThat(store.segmentIdsInRocksDb()).containsExactlyInAnyOrderElementsOf(written.keySet());
      for (WrittenSegment w : written.values()) {
        assertThat(w.docCount()).isEqualTo(DOCS_PER_SEGMENT - DOCS_PER_SEGMENT / 10);
        assertThat(w.tombstoneCount()).isEqualTo(DOCS_PER_SEGMENT / 10);
        assertThat(store.check(w.segmentId(), w.contentChecksum())).isEmpty();
        var v = store.get(w.segmentId(), "c", "d7");
        assertThat(v.lsn()).isEqualTo(w.segmentId() * 10_000 + 7);
        assertThat(v.document().fields().get("title"))
            .isEqualTo(TestData.value("seg" + w.segmentId() + " doc 7"));
        try (Segment s = store.acquire(w.segmentId())) {
          assertThat(s.indexReader().leaves()).hasSize(1);
          assertThat(s.maxDoc()).isEqualTo((int) w.docCount());
          SearchResult r =
              SegmentSearcher.search(
                  List.of(s),
                  LivenessMap.empty(),
                  "c",
                  BOOKS,
                  SearchQuery.of("seg" + w.segmentId(), 1),
                  store);
          assertThat(r.totalHits()).isEqualTo(w.docCount());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void concurrentAcquireReleaseAndObsoleteNeverLoseFilesUnderAReader(@TempDir Path dir)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try (SegmentStore store =
        SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20))) {
      for (long id = 1; id <= 20; id++) {
        TestData.writeAndIngest(
            store,
            id,
            List.of(SegmentEntry.put("c", 1, doc("k", "title", "word"))),
            Map.of("c", BOOKS));
      }
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        fs.add(
            pool.submit(
                (Callable<Void>)
                    () -> {
                      for (long id = 1; id <= 20; id++) {
                        Segment s;
                        try {
                          s = store.acquire(id);
                        } catch (IllegalStateException | java.nio.file.NoSuchFileException gone) {
                          continue; // marked obsolete (or already deleted) by another thread
                        }
                        try {
                          // while held, everything is there
                          assertThat(store.get(id, "c", "k")).isNotNull();
                          assertThat(s.docIdOf("c", "k")).isZero();
                          assertThat(
                                  SegmentSearcher.search(
                                          List.of(s),
                                          LivenessMap.empty(),
                                          "c",
                                          BOOKS,
                                          SearchQuery.of("word", 1),
                                          store)
                                      .totalHits())
                              .isEqualTo(1);
                          if ((id + Thread.currentThread().threadId()) % 3 == 0) {
                            store.markObsolete(id);
                          }
                        } finally {
                          s.release();
                        }
                      }
                      return null;
                    }));
      }
      for (Future<?> f : fs) {
        f.get(60, TimeUnit.SECONDS);
      }
      for (long id = 1; id <= 20; id++) {
        store.markObsolete(id);
      }
      awaitDeletions(store);
      assertThat(store.segmentIdsOnDisk()).isEmpty();
      assertThat(store.segmentIdsInRocksDb()).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }
}
