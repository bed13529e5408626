package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Restore into a fresh data directory equals the source at the same snapshot (Get, Scan, Search),
 * at the head and at an older snapshot; the restored fork writes, flushes and continues the
 * source's LSNs; bad requests are refused with what is in the bucket.
 */
class RestoreTest extends BucketTest {
  static final List<String> QUERIES = List.of("word3", "document", "body AND word7", "tag:t2", "n:[10 TO 90]");

  @Test
  void restoredDataEqualsTheSourceAtTheSnapshot() throws Exception {
    ObjectStoreConfig cfg = s3.config("restore");
    Manifest older;
    Manifest head;
    Path src = tmp.resolve("src");
    try (StrataEngine engine = TierHarness.openEngine(src);
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 200);
      TierHarness.flush(main);
      TierHarness.writeBatch(main, 150, 100); // overwrites 150..199
      older = TierHarness.flush(main);
      List<Mutation> deletes = new ArrayList<>();
      for (int i = 0; i < 60; i += 3) {
        deletes.add(new Mutation.Delete(String.format("doc-%06d", i)));
      }
      main.write("docs", deletes, Durability.SYNC);
      TierHarness.writeBatch(main, 300, 50);
      head = TierHarness.flush(main);
      tier.awaitUploaded(main.id(), head.getSeq()).get(60, TimeUnit.SECONDS);

      Path atHead = tmp.resolve("restored-head");
      SnapshotRestore.Report r = SnapshotRestore.restore(raw, cfg.prefix(), atHead, "main", null, LocalVfs.INSTANCE);
      assertThat(r.snapshotId()).isEqualTo(head.getId());
      assertThat(r.segments()).isEqualTo(head.getSegmentsCount());
      Path atOlder = tmp.resolve("restored-older");
      SnapshotRestore.restore(raw, cfg.prefix(), atOlder, "main", older.getId(), LocalVfs.INSTANCE);

      for (Object[] c : new Object[][] {{atHead, head}, {atOlder, older}}) {
        Manifest m = (Manifest) c[1];
        try (StrataEngine restored = TierHarness.openEngine((Path) c[0])) {
          Fork copy = restored.fork("main");
          assertThat(copy.id()).isEqualTo(main.id());
          assertThat(copy.head().orElseThrow()).isEqualTo(m);
          PublishedSnapshot at = engine.acquireSnapshot(m.getId());
          PublishedSnapshot there = copy.acquireHead();
          try {
            List<SegmentEntry> expected = main.scan("docs", "", 10_000, at);
            List<SegmentEntry> actual = copy.scan("docs", "", 10_000, there);
            assertThat(actual).hasSameSizeAs(expected);
            for (int i = 0; i < expected.size(); i++) {
              assertThat(actual.get(i).id()).isEqualTo(expected.get(i).id());
              assertSame(actual.get(i).version(), expected.get(i).version());
              assertSame(copy.get("docs", expected.get(i).id()), expected.get(i).version());
            }
            for (int i = 0; i < 400; i += 7) { // deleted and never-written ids too
              String id = String.format("doc-%06d", i);
              DocumentVersion e = expected.stream().filter(x -> x.id().equals(id)).map(SegmentEntry::version).findFirst().orElse(null);
              DocumentVersion a = copy.get("docs", id);
              if (e == null) {
                assertThat(a == null || a.stored() == null).as(id).isTrue();
              } else {
                assertSame(a, e);
              }
            }
            for (String q : QUERIES) {
              List<SearchHit> eh = main.search("docs", SearchQuery.of(q, 50), at).hits();
              List<SearchHit> ah = copy.search("docs", SearchQuery.of(q, 50), there).hits();
              assertThat(ah).extracting(SearchHit::id).as(q).containsExactlyElementsOf(eh.stream().map(SearchHit::id).toList());
              assertThat(ah).extracting(SearchHit::score).as(q).containsExactlyElementsOf(eh.stream().map(SearchHit::score).toList());
            }
          } finally {
            at.release();
            there.release();
          }
          assertThat(restored.verify()).isEmpty();
          // The restored fork writes and flushes, continuing the source's LSNs.
          long lsn = copy.write("docs", List.of(new Mutation.Put(TierHarness.doc("new-1", "after restore", "r", 1))), Durability.SYNC);
          assertThat(lsn).isEqualTo(m.getCoveredLsn() + 1);
          Manifest next = TierHarness.flush(copy);
          assertThat(next.getSeq()).isGreaterThan(m.getSeq());
          assertThat(next.getParentId()).isEqualTo(m.getId());
          Fork child = restored.createFork("child", null, "main", false, 10_000);
          TierHarness.writeBatch(child, 900, 5);
          assertThat(TierHarness.flush(child).getSegmentsCount()).isEqualTo(next.getSegmentsCount() + 1);
        }
      }
    }
  }

  @Test
  void refusesWhatItCannotDo() throws Exception {
    ObjectStoreConfig cfg = s3.config("refuse");
    try (StrataEngine engine = TierHarness.openEngine(tmp.resolve("src"));
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 10);
      Manifest m = TierHarness.flush(main);
      tier.awaitUploaded(main.id(), m.getSeq()).get(60, TimeUnit.SECONDS);
    }
    Path notEmpty = tmp.resolve("full");
    Files.createDirectories(notEmpty);
    Files.writeString(notEmpty.resolve("x"), "x");
    assertThatThrownBy(() -> SnapshotRestore.restore(raw, "refuse", notEmpty, "main", null, LocalVfs.INSTANCE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not empty");
    assertThatThrownBy(() -> SnapshotRestore.restore(raw, "refuse", tmp.resolve("r1"), "nope", null, LocalVfs.INSTANCE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fork 'nope' is not in the uploaded catalog; forks there: [main]");
    assertThatThrownBy(() -> SnapshotRestore.restore(raw, "refuse", tmp.resolve("r2"), "main", "main-0000000000000000-000000000099", LocalVfs.INSTANCE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not in the bucket; uploaded seqs of this fork");
    assertThatThrownBy(() -> SnapshotRestore.restore(raw, "elsewhere", tmp.resolve("r3"), "main", null, LocalVfs.INSTANCE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nothing was uploaded there");
  }

  private static void assertSame(DocumentVersion actual, DocumentVersion expected) {
    assertThat(actual).isNotNull();
    assertThat(actual.lsn()).isEqualTo(expected.lsn());
    if (expected.stored() == null) {
      assertThat(actual.stored()).isNull();
    } else {
      assertThat(actual.stored().body()).isEqualTo(expected.stored().body());
    }
  }
}
