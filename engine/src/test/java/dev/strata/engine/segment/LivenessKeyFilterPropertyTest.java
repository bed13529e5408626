package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.model.CollectionSchema;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.apache.lucene.util.BytesRef;

/**
 * The per-segment key filter in front of the liveness lookups (issue #12) may only skip lookups
 * that would find nothing:
 *
 * <ul>
 *   <li>it never says "absent" for a key that is a put in its segment (no false negative), for any
 *       ids, including non-ASCII ones and ids that are prefixes of each other;
 *   <li>the liveness a flush computes with the filters equals the liveness computed without them
 *       (every older segment's live docs, bit for bit), over random segments of puts and tombstones
 *       whose ids overlap.
 * </ul>
 *
 * jqwik prints the seed of a failing run.
 */
class LivenessKeyFilterPropertyTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  private static Path dir;
  private static SegmentStore store;
  private static final AtomicLong nextSegmentId = new AtomicLong(1);
  private static final AtomicInteger nextCollection = new AtomicInteger();

  @BeforeContainer
  static void open() throws IOException {
    dir = Files.createTempDirectory("liveness-filter");
    store = SegmentStore.open(dir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20));
  }

  @AfterContainer
  static void close() throws IOException {
    store.close();
    SegmentStoreTest.deleteTree(dir);
  }

  @Provide
  Arbitrary<String> ids() {
    return Arbitraries.oneOf(
        // a small alphabet: ids collide across segments and are prefixes of each other
        Arbitraries.strings().withChars("ab\u00e9\u65e5").ofMinLength(1).ofMaxLength(4),
        Arbitraries.strings().all().ofMinLength(1).ofMaxLength(24)
            .filter(s -> s.indexOf('\0') < 0 && s.chars().noneMatch(c -> Character.isSurrogate((char) c))));
  }

  @Provide
  Arbitrary<Set<String>> idSets() {
    return ids().set().ofMinSize(1).ofMaxSize(300);
  }

  @Property(tries = 40)
  void everyPutOfASegmentPassesItsFilter(@ForAll("idSets") Set<String> ids) throws IOException {
    String coll = "k" + nextCollection.incrementAndGet();
    long segmentId = nextSegmentId.getAndIncrement();
    List<SegmentEntry> entries = new ArrayList<>();
    long lsn = 1;
    for (String id : ids) {
      entries.add(SegmentEntry.put(coll, lsn++, doc(id)));
    }
    TestData.writeAndIngest(store, segmentId, entries, Map.of(coll, EMPTY));
    try (Segment s = store.acquire(segmentId)) {
      SegmentKeyFilter f = s.keyFilter();
      assertThat(f.keys()).isEqualTo(ids.size());
      for (String id : ids) {
        assertThat(f.mightContain(new BytesRef(SegmentFormat.keySuffix(coll, id))))
            .as("put %s of segment %d", id, segmentId)
            .isTrue();
      }
    }
  }

  /** One segment: for each id, a put (true) or a tombstone (false). */
  @Provide
  Arbitrary<List<Map<String, Boolean>>> segments() {
    Arbitrary<String> id = Arbitraries.integers().between(0, 300).map(i -> "id-" + i);
    Arbitrary<Map<String, Boolean>> segment =
        Arbitraries.maps(id, Arbitraries.integers().between(0, 4).map(i -> i != 0)).ofMinSize(1).ofMaxSize(150);
    return segment.list().ofMinSize(2).ofMaxSize(5);
  }

  @Property(tries = 25)
  void livenessWithTheFiltersEqualsLivenessWithout(
      @ForAll("segments") List<Map<String, Boolean>> oldestFirst) throws IOException {
    String coll = "l" + nextCollection.incrementAndGet();
    List<Segment> newestFirst = new ArrayList<>();
    long lsn = 1;
    try {
      for (Map<String, Boolean> seg : oldestFirst) {
        long segmentId = nextSegmentId.getAndIncrement();
        List<SegmentEntry> entries = new ArrayList<>();
        for (Map.Entry<String, Boolean> e : new LinkedHashMap<>(seg).entrySet()) {
          entries.add(
              e.getValue()
                  ? SegmentEntry.put(coll, lsn++, doc(e.getKey()))
                  : SegmentEntry.tombstone(coll, lsn++, e.getKey()));
        }
        TestData.writeAndIngest(store, segmentId, entries, Map.of(coll, EMPTY));
        newestFirst.add(0, store.acquire(segmentId));
      }
      // Fold the segments in, oldest first, as successive flushes publish them: once with the
      // filters, once without; after every step both maps must agree on every segment.
      LivenessMap with = LivenessMap.empty();
      LivenessMap without = LivenessMap.empty();
      for (int i = newestFirst.size() - 2; i >= 0; i--) {
        List<Segment> older = newestFirst.subList(i + 1, newestFirst.size());
        with = with.withNewest(newestFirst.get(i), older, store, true);
        without = without.withNewest(newestFirst.get(i), older, store, false);
        for (Segment s : older) {
          int maxDoc = s.leafReader() == null ? 0 : s.leafReader().maxDoc();
          assertThat(live(with, s.segmentId(), maxDoc))
              .as("live docs of segment %d after %d newer", s.segmentId(), newestFirst.size() - 1 - i)
              .isEqualTo(live(without, s.segmentId(), maxDoc));
          assertThat(with.liveDocCount(s.segmentId(), maxDoc)).isEqualTo(without.liveDocCount(s.segmentId(), maxDoc));
        }
      }
      assertThat(LivenessMap.rebuild(newestFirst, store).toString()).isEqualTo(with.toString());
    } finally {
      for (Segment s : newestFirst) {
        s.close();
      }
    }
  }

  private static List<Boolean> live(LivenessMap m, long segmentId, int maxDoc) {
    org.apache.lucene.util.Bits bits = m.liveDocs(segmentId);
    List<Boolean> out = new ArrayList<>(maxDoc);
    for (int d = 0; d < maxDoc; d++) {
      out.add(bits == null || bits.get(d));
    }
    return out;
  }
}
