package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.model.CollectionSchema;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.lucene.util.BytesRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-segment key filter in front of liveness lookups (issue #12): every put's key is in it (no
 * false negatives, or liveness would miss a shadowed document), tombstones are not (they have no
 * Lucene document), and keys absent from the segment are mostly rejected, at about the configured
 * false-positive rate.
 */
class SegmentKeyFilterTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  @Test
  void everyPutIsInTheFilterAndMostAbsentKeysAreNot(@TempDir Path dir) throws Exception {
    int n = 20_000;
    List<SegmentEntry> entries = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      entries.add(SegmentEntry.put("c", i + 1, doc(String.format("id-%06d", i))));
    }
    entries.add(SegmentEntry.tombstone("c", n + 1, "gone"));
    try (SegmentStore store = SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20))) {
      TestData.writeAndIngest(store, 1, entries, Map.of("c", EMPTY));
      try (Segment s = store.acquire(1)) {
        SegmentKeyFilter f = s.keyFilter();
        assertThat(f.keys()).isEqualTo(n);
        assertThat(s.keyFilter()).as("built once, shared").isSameAs(f);
        for (int i = 0; i < n; i++) {
          assertThat(f.mightContain(key("c", String.format("id-%06d", i)))).isTrue();
        }
        int positives = 0;
        int absent = 20_000;
        for (int i = 0; i < absent; i++) {
          if (f.mightContain(key("c", "new-" + i))) {
            positives++;
          }
        }
        // 1 % expected; 3 % leaves room for chance (the count is binomial, sd about 0.07 %).
        assertThat(positives).as("false positives among %d absent keys", absent).isLessThan(absent * 3 / 100);
      }
    }
  }

  @Test
  void aSegmentOfTombstonesOnlyHasNoFilter(@TempDir Path dir) throws Exception {
    try (SegmentStore store = SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20))) {
      TestData.writeAndIngest(store, 1, List.of(SegmentEntry.tombstone("c", 1, "x")), Map.of("c", EMPTY));
      try (Segment s = store.acquire(1)) {
        assertThat(s.keyFilter()).isNull();
      }
    }
  }

  private static BytesRef key(String collection, String id) {
    return new BytesRef(SegmentFormat.keySuffix(collection, id));
  }
}
