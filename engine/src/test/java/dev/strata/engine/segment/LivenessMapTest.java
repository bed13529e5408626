package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.model.CollectionSchema;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.util.Bits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LivenessMapTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  private static List<Integer> dead(Bits live, int maxDoc) {
    List<Integer> out = new ArrayList<>();
    for (int d = 0; d < maxDoc; d++) {
      if (live != null && !live.get(d)) {
        out.add(d);
      }
    }
    return out;
  }

  @Test
  void publishedMapsNeverChange(@TempDir Path dir) throws IOException {
    try (SegmentStore store =
        SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20))) {
      // segment 1: a b c d (docs 0..3 in key order); 2 shadows a (put) and b (tombstone);
      // 3 shadows c, and a again, plus an id of another collection with the same name
      TestData.writeAndIngest(
          store,
          1,
          List.of(
              SegmentEntry.put("c", 1, doc("a")),
              SegmentEntry.put("c", 2, doc("b")),
              SegmentEntry.put("c", 3, doc("c")),
              SegmentEntry.put("c", 4, doc("d"))),
          Map.of("c", EMPTY));
      TestData.writeAndIngest(
          store,
          2,
          List.of(SegmentEntry.put("c", 5, doc("a")), SegmentEntry.tombstone("c", 6, "b")),
          Map.of("c", EMPTY));
      TestData.writeAndIngest(
          store,
          3,
          List.of(
              SegmentEntry.put("c", 7, doc("a")),
              SegmentEntry.put("c", 8, doc("c")),
              SegmentEntry.put("x", 9, doc("d"))),
          Map.of("c", EMPTY, "x", EMPTY));
      try (Segment s1 = store.acquire(1);
          Segment s2 = store.acquire(2);
          Segment s3 = store.acquire(3)) {
        LivenessMap m0 = LivenessMap.empty();
        LivenessMap m1 = m0.withNewest(s2, List.of(s1), store);
        Bits m1s1Before = m1.liveDocs(1);
        LivenessMap m2 = m1.withNewest(s3, List.of(s2, s1), store);

        assertThat(m0.liveDocs(1)).isNull();
        assertThat(dead(m1.liveDocs(1), 4)).containsExactly(0, 1);
        assertThat(m1.liveDocs(2)).isNull();
        assertThat(dead(m2.liveDocs(1), 4)).containsExactly(0, 1, 2);
        assertThat(dead(m2.liveDocs(2), 1)).containsExactly(0);
        assertThat(m2.liveDocCount(1, 4)).isEqualTo(1);
        assertThat(m2.liveDocCount(3, 3)).isEqualTo(3);
        // m1 (and the view taken from it) did not change when m2 was built
        assertThat(dead(m1.liveDocs(1), 4)).containsExactly(0, 1);
        assertThat(dead(m1s1Before, 4)).containsExactly(0, 1);
        assertThat(m1.deadDocCount(1)).isEqualTo(2);
        assertThat(m1.segmentsWithDeadDocs()).containsExactly(1L);

        LivenessMap rebuilt = LivenessMap.rebuild(List.of(s3, s2, s1), store);
        assertThat(dead(rebuilt.liveDocs(1), 4)).containsExactly(0, 1, 2);
        assertThat(dead(rebuilt.liveDocs(2), 1)).containsExactly(0);

        LivenessMap retained = m2.retainOnly(Set.of(2L, 3L));
        assertThat(retained.liveDocs(1)).isNull();
        assertThat(dead(retained.liveDocs(2), 1)).containsExactly(0);
        assertThat(m2.retainOnly(Set.of(1L, 2L, 3L))).isSameAs(m2);
        assertThat(m2.toString()).contains("0000000000000001=1/4");
      }
    }
  }
}
