package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SnapshotSearcher;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The searcher each published snapshot shares among its queries ({@link
 * PublishedSnapshot#searcher()}): exact results at an old snapshot and at the head while
 * compaction replaces the head's segments and retention expires the old snapshot under its reader;
 * and it lives exactly as long as its snapshot — no searcher and no file handle left behind over
 * 10,000 snapshot turnovers.
 */
class SnapshotSearcherLifecycleTest {
  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  /** Writes 5 flushes of 40 ids: round r puts "apple" in ids divisible by r+2, "pear" elsewhere, deletes some. */
  private List<Manifest> fill(Fork main, List<Set<String>> appleIdsPerSnapshot) throws Exception {
    main.createOrGetCollection("docs", SCHEMA);
    Set<String> apple = new TreeSet<>();
    List<Manifest> out = new ArrayList<>();
    for (int round = 0; round < 5; round++) {
      List<Mutation> batch = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        String id = "d" + i;
        if (i % 7 == round) {
          batch.add(new Mutation.Delete(id));
          apple.remove(id);
        } else if (i % (round + 2) == 0) {
          batch.add(new Mutation.Put(doc(id, "apple number " + i, "t", i)));
          apple.add(id);
        } else {
          batch.add(new Mutation.Put(doc(id, "pear number " + i, "t", i)));
          apple.remove(id);
        }
      }
      main.write("docs", batch, Durability.SYNC);
      out.add(main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS));
      appleIdsPerSnapshot.add(new TreeSet<>(apple));
    }
    return out;
  }

  private static Set<String> appleIds(Fork f, PublishedSnapshot at) {
    Set<String> ids = new TreeSet<>();
    for (SearchHit h : f.search("docs", SearchQuery.of("apple", 1000), at).hits()) {
      ids.add(h.id());
      assertThat(h.document().fields().get("body").toString()).contains("apple");
    }
    return ids;
  }

  @Test
  void oldSnapshotAndHeadAnswerExactlyThroughCompactionAndRetention() throws Exception {
    fx =
        new EngineFixture(
            dir,
            EngineFixture.testOptions()
                .compaction(CompactionOptions.defaults().withEnabled(true))
                .retention(new RetentionOptions(1, 0, 3_600_000))
                .build());
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    List<Set<String>> expected = new ArrayList<>();
    List<Manifest> snaps = fill(main, expected);
    Set<String> atHead = expected.get(4);
    Set<String> atOld = expected.get(1);
    int searchersBefore = SnapshotSearcher.openCount();
    PublishedSnapshot old = main.acquireSnapshot(snaps.get(1).getId());
    assertThat(appleIds(main, old)).isEqualTo(atOld);
    assertThat(appleIds(main, null)).isEqualTo(atHead);

    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    AtomicLong queries = new AtomicLong();
    CompletableFuture<Void> readers =
        CompletableFuture.runAsync(
            () -> {
              while (!stop.get()) {
                Set<String> o = appleIds(main, old);
                Set<String> h = appleIds(main, null);
                if (!o.equals(atOld)) {
                  wrong.add("old: " + o);
                }
                if (!h.equals(atHead)) {
                  wrong.add("head: " + h);
                }
                queries.incrementAndGet();
              }
            });
    try {
      fx.engine.compact(StrataEngine.MAIN, true).get(60, TimeUnit.SECONDS);
      fx.engine.runRetention(); // keeps 1: the old snapshot expires under its reader
      assertThat(main.listSnapshots()).extracting(Manifest::getId).doesNotContain(snaps.get(1).getId());
      assertThat(main.head().orElseThrow().getSegmentsCount()).isEqualTo(1);
      long seen = queries.get();
      while (queries.get() < seen + 5) {
        Thread.onSpinWait();
      }
    } finally {
      stop.set(true);
      readers.get(30, TimeUnit.SECONDS);
    }
    assertThat(wrong).isEmpty();
    assertThat(appleIds(main, old)).isEqualTo(atOld);
    old.release(); // the last reference of an expired snapshot: its searcher closes with it
    assertThat(SnapshotSearcher.openCount()).isLessThanOrEqualTo(searchersBefore + 1); // at most the head's
  }

  @Test
  void tenThousandSnapshotTurnoversLeaveNoSearcherAndNoFileHandle() throws Exception {
    fx = new EngineFixture(dir, EngineFixture.testOptions().retention(new RetentionOptions(100, 0, 3_600_000)).build());
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    List<Set<String>> expected = new ArrayList<>();
    List<Manifest> snaps = fill(main, expected);
    PublishedSnapshot head = main.acquireHead();
    try {
      appleIds(main, head); // the head's own searcher, built once
      int searchers = SnapshotSearcher.openCount();
      long fds = openFiles();
      for (int i = 0; i < 10_000; i++) {
        PublishedSnapshot s;
        int k = i % 5;
        if (i % 50 == 0) {
          s = main.acquireSnapshot(snaps.get(k).getId()); // through the fork's snapshot cache
        } else {
          s = PublishedSnapshot.open(fx.engine.segments(), head.manifest(), head.liveness());
          k = 4;
        }
        try {
          assertThat(appleIds(main, s)).isEqualTo(expected.get(k));
        } finally {
          s.release();
        }
      }
      // Cached older snapshots (at most 8, each with its searcher) may stay open.
      assertThat(SnapshotSearcher.openCount()).isBetween(searchers, searchers + 5);
      assertThat(openFiles()).isLessThanOrEqualTo(fds + 10);
    } finally {
      head.release();
    }
  }

  private static long openFiles() throws IOException {
    try (Stream<Path> s = Files.list(Paths.get("/proc/self/fd"))) {
      return s.count();
    }
  }
}
