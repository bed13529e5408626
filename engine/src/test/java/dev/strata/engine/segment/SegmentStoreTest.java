package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.awaitDeletions;
import static dev.strata.engine.segment.TestData.BOOKS;
import static dev.strata.engine.segment.TestData.del;
import static dev.strata.engine.segment.TestData.doc;
import static dev.strata.engine.segment.TestData.put;
import static dev.strata.engine.segment.TestData.writeAndIngest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentStoreTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  @TempDir Path dataDir;
  SegmentStore store;

  @BeforeEach
  void open() throws IOException {
    store = SegmentStore.open(dataDir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20));
  }

  @AfterEach
  void close() throws IOException {
    store.close();
  }

  private static List<SegmentEntry> scanAll(SegmentStore s, long seg, String coll, String start) {
    List<SegmentEntry> out = new ArrayList<>();
    try (CloseableIterator<SegmentEntry> it = s.scan(seg, coll, start)) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  @Test
  void roundTripWithTombstonesUnicodeIdsAndManyCollections() throws IOException {
    List<SegmentEntry> entries = new ArrayList<>();
    List<String> ids = List.of("a", "b", "é", "日本語", "😀", "z", "\uE000", "a b/c");
    long lsn = 1;
    for (int c = 0; c < 12; c++) {
      String coll = "coll" + c;
      for (String id : ids) {
        if ((lsn % 5) == 0) {
          entries.add(del(coll, lsn++, id));
        } else {
          entries.add(put(coll, lsn++, doc(id, "title", "hello " + id, "n", lsn, "note", "k")));
        }
      }
    }
    List<SegmentEntry> shuffled = new ArrayList<>(entries);
    Collections.shuffle(shuffled, new Random(42));
    Map<String, CollectionSchema> schemas = new java.util.HashMap<>();
    for (int c = 0; c < 12; c++) {
      schemas.put("coll" + c, BOOKS);
    }
    WrittenSegment w = writeAndIngest(store, 7, shuffled, schemas);

    long tombstones = entries.stream().filter(e -> e.version().isTombstone()).count();
    assertThat(w.segmentId()).isEqualTo(7);
    assertThat(w.tombstoneCount()).isEqualTo(tombstones);
    assertThat(w.docCount()).isEqualTo(entries.size() - tombstones);
    assertThat(w.minLsn()).isEqualTo(1);
    assertThat(w.maxLsn()).isEqualTo(lsn - 1);
    assertThat(w.sizeBytes()).isPositive();
    assertThat(Files.exists(store.segmentDir(7).resolve("staging"))).isFalse();

    for (SegmentEntry e : entries) {
      assertThat(store.get(7, e.collection(), e.id())).as(e.toString()).isEqualTo(e.version());
    }
    assertThat(store.get(7, "coll0", "missing")).isNull();
    assertThat(store.get(7, "nosuch", "a")).isNull();
    assertThat(store.get(8, "coll0", "a")).isNull();

    // scan: id order is unsigned UTF-8 byte order; tombstones included; collections separated
    List<String> expectedOrder = new ArrayList<>(ids);
    expectedOrder.sort(
        (x, y) ->
            java.util.Arrays.compareUnsigned(
                x.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                y.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    List<SegmentEntry> coll3 = scanAll(store, 7, "coll3", null);
    assertThat(coll3).extracting(SegmentEntry::id).containsExactlyElementsOf(expectedOrder);
    assertThat(coll3).allMatch(e -> e.collection().equals("coll3"));
    assertThat(coll3)
        .containsExactlyInAnyOrderElementsOf(
            entries.stream().filter(e -> e.collection().equals("coll3")).toList());
    // "coll1" must not see "coll10".."coll11" although it is their prefix
    assertThat(scanAll(store, 7, "coll1", null)).hasSize(ids.size());
    assertThat(scanAll(store, 7, "coll3", "é"))
        .extracting(SegmentEntry::id)
        .containsExactlyElementsOf(expectedOrder.subList(expectedOrder.indexOf("é"), ids.size()));
    // "é" (C3 A9) sorts after "zzz" (7A..) in UTF-8, and U+E000 (EE..) before U+1F600 (F0..),
    // although String.compareTo puts the surrogate pair of U+1F600 (D83D..) before U+E000.
    assertThat(scanAll(store, 7, "coll3", "zzz"))
        .extracting(SegmentEntry::id)
        .containsExactly("é", "日本語", "\uE000", "😀");

    assertThat(store.verify(7, w.contentChecksum())).isTrue();
    assertThat(store.check(7, w.contentChecksum() ^ 1))
        .get()
        .asString()
        .contains("checksum mismatch");
  }

  @Test
  void segmentsHaveIndependentKeyRanges() throws IOException {
    writeAndIngest(store, 1, List.of(put("c", 1, doc("k", "title", "one"))), Map.of("c", BOOKS));
    writeAndIngest(
        store,
        2,
        List.of(put("c", 2, doc("k", "title", "two")), del("c", 3, "other")),
        Map.of("c", BOOKS));
    assertThat(store.get(1, "c", "k").document().fields().get("title"))
        .isEqualTo(TestData.value("one"));
    assertThat(store.get(2, "c", "k").document().fields().get("title"))
        .isEqualTo(TestData.value("two"));
    assertThat(store.get(1, "c", "other")).isNull();
    assertThat(store.get(2, "c", "other").isTombstone()).isTrue();
    assertThat(store.segmentIdsInRocksDb()).containsExactly(1L, 2L);

    store.markObsolete(1);
    awaitDeletions(store);
    assertThat(store.get(1, "c", "k")).isNull();
    assertThat(store.get(2, "c", "k")).isNotNull();
    assertThat(scanAll(store, 2, "c", null)).hasSize(2);
    assertThat(store.segmentIdsInRocksDb()).containsExactly(2L);
    assertThat(store.segmentIdsOnDisk()).containsExactly(2L);
  }

  @Test
  void obsoleteSegmentSharingAnSstWithNeighboursFallsBackToDeleteRange() throws IOException {
    for (long id = 1; id <= 3; id++) {
      writeAndIngest(
          store,
          id,
          List.of(put("c", id, doc("a", "title", "seg " + id)), put("c", id, doc("b"))),
          Map.of("c", BOOKS));
    }
    store.compactAllForTest(); // one SST now holds all three segments' keys
    assertThat(store.tableFilterPolicies()).hasSize(1);
    store.markObsolete(2);
    awaitDeletions(store);
    assertThat(store.get(2, "c", "a")).isNull();
    assertThat(scanAll(store, 2, "c", null)).isEmpty();
    assertThat(store.get(1, "c", "a")).isNotNull();
    assertThat(store.get(3, "c", "b")).isNotNull();
    assertThat(store.segmentIdsInRocksDb()).containsExactly(1L, 3L);
    // and stays deleted across a reopen
    store.close();
    store = SegmentStore.open(dataDir, SegmentStoreOptions.defaults());
    assertThat(store.segmentIdsInRocksDb()).containsExactly(1L, 3L);
  }

  @Test
  void largeSegmentIdsAndTheLastPrefix() throws IOException {
    long big = Long.MAX_VALUE;
    writeAndIngest(store, big, List.of(put("c", 1, doc("k"))), Map.of("c", EMPTY));
    writeAndIngest(store, big - 1, List.of(put("c", 1, doc("k"))), Map.of("c", EMPTY));
    assertThat(store.segmentIdsInRocksDb()).containsExactly(big - 1, big);
    assertThat(store.segmentDir(big).getFileName().toString()).isEqualTo("7fffffffffffffff");
    store.markObsolete(big);
    awaitDeletions(store);
    assertThat(store.get(big - 1, "c", "k")).isNotNull();
    assertThat(store.segmentIdsInRocksDb()).containsExactly(big - 1);
    assertThatThrownBy(() -> store.write(-1, List.of(), Map.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void writeRejectsDuplicatesExistingSegmentsAndBadDocumentsBeforeWritingAnything()
      throws IOException {
    assertThatThrownBy(
            () ->
                store.write(
                    3, List.of(put("c", 1, doc("a")), put("c", 2, doc("a"))), Map.of("c", EMPTY)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duplicate");
    assertThatThrownBy(
            () ->
                store.write(
                    3, List.of(put("c", 1, doc("a", "n", "not a number"))), Map.of("c", BOOKS)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("field 'n' is LONG");
    assertThatThrownBy(() -> store.write(3, List.of(put("c", 1, doc("a"))), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no schema");
    assertThatThrownBy(
            () -> store.write(3, List.of(SegmentEntry.tombstone("Bad/Name", 1, "a")), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("collection name");
    assertThatThrownBy(
            () ->
                store.write(3, List.of(SegmentEntry.tombstone("c", 1, "x".repeat(513))), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("512");
    assertThat(store.segmentIdsOnDisk()).isEmpty();

    store.write(3, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    assertThatThrownBy(() -> store.write(3, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY)))
        .isInstanceOf(FileAlreadyExistsException.class);
  }

  @Test
  void emptyAndTombstoneOnlySegments() throws IOException {
    WrittenSegment empty = writeAndIngest(store, 4, List.of(), Map.of());
    assertThat(empty.stagedSst()).isNull();
    assertThat(empty.entryCount()).isZero();
    WrittenSegment tomb = writeAndIngest(store, 5, List.of(del("c", 9, "x")), Map.of());
    assertThat(tomb.docCount()).isZero();
    assertThat(store.verify(4, empty.contentChecksum())).isTrue();
    assertThat(store.verify(5, tomb.contentChecksum())).isTrue();
    try (Segment s = store.acquire(5)) {
      assertThat(s.leafReader()).isNull();
      assertThat(s.maxDoc()).isZero();
      assertThat(s.docIdOf("c", "x")).isEqualTo(-1);
    }
  }

  @Test
  void handlesShareOneReaderAndFindDocIds() throws IOException {
    writeAndIngest(
        store,
        6,
        List.of(put("c", 1, doc("a", "title", "x")), put("c", 2, doc("b")), put("d", 3, doc("a"))),
        Map.of("c", BOOKS, "d", EMPTY));
    try (Segment h1 = store.acquire(6);
        Segment h2 = store.acquire(6)) {
      assertThat(h1.indexReader()).isSameAs(h2.indexReader());
      assertThat(h1.indexReader().leaves()).hasSize(1);
      assertThat(h1.maxDoc()).isEqualTo(3);
      int a = h1.docIdOf("c", "a");
      int b = h1.docIdOf("c", "b");
      int da = h1.docIdOf("d", "a");
      assertThat(Set.of(a, b, da)).containsExactlyInAnyOrder(0, 1, 2);
      assertThat(h1.docIdOf("c", "zz")).isEqualTo(-1);
      assertThat(store.handleCount(6)).isEqualTo(2);
    }
    assertThat(store.handleCount(6)).isZero();
  }

  @Test
  void markObsoleteDeletesOnlyAfterTheLastHandleIsReleased() throws IOException {
    WrittenSegment w =
        writeAndIngest(
            store,
            10,
            List.of(put("c", 1, doc("a", "title", "kept while read"))),
            Map.of("c", BOOKS));
    writeAndIngest(store, 11, List.of(put("c", 2, doc("b"))), Map.of("c", BOOKS));
    Segment reader1 = store.acquire(10);
    Segment reader2 = store.acquire(10);

    store.markObsolete(10);
    store.markObsolete(10); // idempotent
    assertThatThrownBy(() -> store.acquire(10)).isInstanceOf(IllegalStateException.class);

    // Still readable through RocksDB and Lucene while handles are held.
    assertThat(Files.isDirectory(store.segmentDir(10))).isTrue();
    assertThat(store.get(10, "c", "a")).isNotNull();
    SearchResult r =
        SegmentSearcher.search(
            List.of(reader1), LivenessMap.empty(), "c", BOOKS, SearchQuery.of("read", 10), store);
    assertThat(r.hits()).extracting(SearchHit::id).containsExactly("a");
    assertThat(store.verify(10, w.contentChecksum())).isTrue();

    reader1.release();
    reader1.release(); // idempotent per handle
    assertThat(store.get(10, "c", "a")).isNotNull();
    assertThat(reader2.indexReader().numDocs()).isEqualTo(1);

    reader2.close();
    awaitDeletions(store);
    assertThat(Files.exists(store.segmentDir(10))).isFalse();
    assertThat(store.get(10, "c", "a")).isNull();
    assertThat(store.segmentIdsInRocksDb()).containsExactly(11L);
    assertThatThrownBy(reader2::indexReader).isInstanceOf(IllegalStateException.class);
    // the neighbour is untouched
    assertThat(store.get(11, "c", "b")).isNotNull();
  }

  @Test
  void markObsoleteWithoutHandlesDeletesAtOnce() throws IOException {
    writeAndIngest(store, 12, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    try (Segment s = store.acquire(12)) {
      assertThat(s.maxDoc()).isEqualTo(1);
    }
    store.markObsolete(12); // acquired before, no handles now
    awaitDeletions(store);
    assertThat(Files.exists(store.segmentDir(12))).isFalse();
    writeAndIngest(store, 13, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    store.markObsolete(13); // never acquired
    awaitDeletions(store);
    assertThat(store.segmentIdsOnDisk()).isEmpty();
    assertThat(store.segmentIdsInRocksDb()).isEmpty();
  }

  @Test
  void discardRemovesWrittenAndIngestedSegments() throws IOException {
    store.write(20, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    assertThat(Files.exists(store.segmentDir(20).resolve("staging/docs.sst"))).isTrue();
    store.discard(20);
    awaitDeletions(store);
    assertThat(Files.exists(store.segmentDir(20))).isFalse();

    writeAndIngest(store, 21, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    Segment held = store.acquire(21);
    store.discard(21);
    assertThat(store.get(21, "c", "a")).isNotNull(); // a handle is held
    held.release();
    awaitDeletions(store);
    assertThat(store.get(21, "c", "a")).isNull();
    assertThat(store.segmentIdsOnDisk()).isEmpty();
    store.discard(22); // nothing there: no-op
  }

  @Test
  void deleteOrphansCoversEveryCrashState() throws IOException {
    // published and clean
    WrittenSegment kept =
        writeAndIngest(store, 30, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    // published, crash between ingest and the staging cleanup
    WrittenSegment keptStaging =
        writeAndIngest(store, 31, List.of(put("c", 1, doc("b"))), Map.of("c", EMPTY));
    Files.createDirectories(store.segmentDir(31).resolve("staging"));
    // crash during write: a partial directory only
    Files.createDirectories(store.segmentDir(32).resolve("lucene"));
    Files.writeString(store.segmentDir(32).resolve("lucene/_0.cfs"), "partial");
    // crash after write, before ingest: staged SST + Lucene, no keys
    store.write(33, List.of(put("c", 1, doc("c"))), Map.of("c", EMPTY));
    // crash after ingest, before publish: directory + key range
    writeAndIngest(store, 34, List.of(put("c", 1, doc("d"))), Map.of("c", EMPTY));
    // crash in GC after the directory went but not the keys (or a lost range tombstone)
    writeAndIngest(store, 35, List.of(put("c", 1, doc("e"))), Map.of("c", EMPTY));
    deleteTree(store.segmentDir(35));
    // an unpublished segment someone still holds
    writeAndIngest(store, 36, List.of(put("c", 1, doc("f"))), Map.of("c", EMPTY));
    Segment held = store.acquire(36);
    // junk that is not a segment
    Files.createDirectories(dataDir.resolve("segments").resolve("not-a-segment"));

    OrphanCleanup r = store.deleteOrphans(Set.of(30L, 31L));

    assertThat(r.directoriesRemoved()).containsExactly(32L, 33L, 34L);
    assertThat(r.keyRangesRemoved()).containsExactly(34L, 35L);
    assertThat(r.stagingDirsRemoved()).containsExactly(31L);
    assertThat(r.skippedInUse()).containsExactly(36L);
    assertThat(store.segmentIdsOnDisk()).containsExactly(30L, 31L, 36L);
    assertThat(store.segmentIdsInRocksDb()).containsExactly(30L, 31L, 36L);
    assertThat(store.verify(30, kept.contentChecksum())).isTrue();
    assertThat(store.verify(31, keptStaging.contentChecksum())).isTrue();
    assertThat(Files.exists(store.segmentDir(31).resolve("staging"))).isFalse();
    held.release();
    awaitDeletions(store);

    assertThat(store.deleteOrphans(Set.of(30L, 31L)).directoriesRemoved()).containsExactly(36L);
    assertThat(store.deleteOrphans(Set.of(30L, 31L)).isEmpty()).isTrue();
  }

  @Test
  void verifyDetectsATamperedLuceneFile() throws IOException {
    List<SegmentEntry> entries = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      entries.add(put("c", i + 1, doc("id" + i, "title", "some words number " + i, "n", i)));
    }
    WrittenSegment w = writeAndIngest(store, 40, entries, Map.of("c", BOOKS));
    assertThat(store.check(40, w.contentChecksum())).isEmpty();

    Path lucene = store.segmentDir(40).resolve("lucene");
    Path victim;
    try (Stream<Path> files = Files.list(lucene)) {
      victim =
          files
              .filter(p -> !p.getFileName().toString().startsWith("segments"))
              .max(java.util.Comparator.comparingLong(p -> p.toFile().length()))
              .orElseThrow();
    }
    try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
      long pos = f.length() / 2;
      f.seek(pos);
      int b = f.read();
      f.seek(pos);
      f.write(b ^ 0x5A);
    }
    assertThat(store.verify(40, w.contentChecksum())).isFalse();
    assertThat(store.check(40, w.contentChecksum()))
        .get()
        .asString()
        .contains(victim.getFileName().toString());
  }

  @Test
  void verifyDetectsAMissingKeyRangeAndMissingLuceneDir() throws IOException {
    WrittenSegment w =
        writeAndIngest(store, 41, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    deleteTree(store.segmentDir(41).resolve("lucene"));
    assertThat(store.check(41, w.contentChecksum())).get().asString().contains("missing");
    WrittenSegment notIngested =
        store.write(42, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    assertThat(store.check(42, notIngested.contentChecksum()))
        .get()
        .asString()
        .contains("checksum mismatch")
        .contains("1 documents but RocksDB has 0 puts");
  }

  @Test
  void dataSurvivesReopen() throws IOException {
    WrittenSegment w =
        writeAndIngest(
            store,
            50,
            List.of(put("c", 1, doc("a", "title", "persisted")), del("c", 2, "b")),
            Map.of("c", BOOKS));
    store.close();
    store = SegmentStore.open(dataDir, SegmentStoreOptions.defaults());
    assertThat(store.get(50, "c", "a").document().fields()).containsKey("title");
    assertThat(store.get(50, "c", "b").isTombstone()).isTrue();
    assertThat(store.verify(50, w.contentChecksum())).isTrue();
    try (Segment s = store.acquire(50)) {
      assertThat(s.docIdOf("c", "a")).isZero();
    }
  }

  @Test
  void closedStoreRejectsCallsAndClosesOpenIterators() throws IOException {
    writeAndIngest(
        store, 60, List.of(put("c", 1, doc("a")), put("c", 2, doc("b"))), Map.of("c", EMPTY));
    CloseableIterator<SegmentEntry> it = store.scan(60, "c", null);
    assertThat(it.next().id()).isEqualTo("a");
    store.close();
    assertThatThrownBy(it::hasNext).isInstanceOf(IllegalStateException.class);
    it.close();
    assertThatThrownBy(() -> store.get(60, "c", "a")).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.acquire(60)).isInstanceOf(IllegalStateException.class);
    store.close(); // idempotent
  }

  @Test
  void acquireOfAMissingSegmentFailsAndLeavesNoState() throws IOException {
    assertThatThrownBy(() -> store.acquire(99)).isInstanceOf(IOException.class);
    assertThat(store.handleCount(99)).isZero();
    writeAndIngest(store, 99, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    try (Segment s = store.acquire(99)) {
      assertThat(s.maxDoc()).isEqualTo(1);
    }
  }

  @Test
  void bloomFiltersAreInTheIngestedTables() throws IOException {
    writeAndIngest(store, 70, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    assertThat(store.tableFilterPolicies())
        .hasSize(1)
        .allSatisfy((file, policy) -> assertThat(policy).contains("bloomfilter").contains("LZ4"));
    for (long s = 71; s < 80; s++) {
      writeAndIngest(store, s, List.of(put("c", 1, doc("k" + s))), Map.of("c", EMPTY));
    }
    for (long s = 71; s < 80; s++) {
      assertThat(store.get(s, "c", "k" + s)).isNotNull();
      assertThat(store.get(s, "c", "k" + (s + 1))).isNull();
    }
    DocumentVersion v = store.get(70, "c", "a");
    assertThat(v.lsn()).isEqualTo(1);
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
