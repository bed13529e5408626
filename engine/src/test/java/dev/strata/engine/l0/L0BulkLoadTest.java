package dev.strata.engine.l0;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.l0.TestRecords.Op;
import dev.strata.engine.segment.SegmentEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * A bulk-loaded buffer (recovery's replay) is the buffer the same records applied one by one in LSN
 * order make: the same keys in the same order, the same newest version of each, the same count, and
 * it works as an ordinary buffer afterwards.
 */
class L0BulkLoadTest {

  @Property(tries = 100)
  void aBulkLoadEqualsApplyingTheRecordsInLsnOrder(
      @ForAll @IntRange(min = 0, max = 400) int records,
      @ForAll @IntRange(min = 1, max = 300) int distinctIds,
      @ForAll boolean longCollection,
      @ForAll long seed) {
    // A collection name longer than 16 bytes makes every key share its 16-byte prefix.
    String collection = longCollection ? "a-collection-name-longer-than-sixteen" : "c";
    Random rnd = new Random(seed);
    L0Buffer applied = new L0Buffer(7);
    L0Buffer loaded = new L0Buffer(7);
    L0BulkLoad load = loaded.bulkLoad();
    for (long lsn = 8; lsn < 8 + records; lsn++) {
      List<Op> ops = new ArrayList<>();
      int n = 1 + rnd.nextInt(4);
      for (int k = 0; k < n; k++) {
        String id = "id-" + rnd.nextInt(distinctIds) + (rnd.nextBoolean() ? "\u00e9" : "");
        ops.add(new Op(id, rnd.nextInt(5) == 0 ? null : "v" + lsn + "-" + k));
      }
      L0Record r = TestRecords.record(collection, ops);
      assertThat(applied.applyRecord(lsn, r)).isTrue();
      load.add(lsn, TestRecords.record(collection, ops));
    }
    assertThat(loaded.entryCount()).isZero();
    load.finish();
    load.finish(); // idempotent
    List<SegmentEntry> a = new ArrayList<>();
    applied.entries().forEachRemaining(a::add);
    List<SegmentEntry> b = new ArrayList<>();
    loaded.entries().forEachRemaining(b::add);
    assertThat(b).isEqualTo(a);
    assertThat(loaded.entryCount()).isEqualTo(applied.entryCount());
    assertThat(loaded.maxAppliedLsn()).isEqualTo(applied.maxAppliedLsn());
    for (SegmentEntry e : a) {
      assertThat(loaded.get(collection, e.id())).isEqualTo(e.version());
    }
    // An ordinary buffer from here on.
    loaded.applyRecord(8 + records, TestRecords.put(collection, "id-0", "after"));
    assertThat(TestRecords.bodyOf(loaded.get(collection, "id-0"))).isEqualTo("after");
  }

  @Test
  void onlyAnEmptyActiveBufferCanBeBulkLoaded() {
    L0Buffer b = new L0Buffer(0);
    b.applyRecord(1, TestRecords.put("c", "a", "x"));
    assertThatThrownBy(b::bulkLoad).isInstanceOf(IllegalStateException.class);
    L0Buffer frozen = new L0Buffer(0);
    frozen.freeze(() -> 5);
    assertThatThrownBy(frozen::bulkLoad).isInstanceOf(IllegalStateException.class);
    L0BulkLoad load = new L0Buffer(10).bulkLoad();
    assertThatThrownBy(() -> load.add(10, TestRecords.put("c", "a", "x")))
        .isInstanceOf(IllegalArgumentException.class);
    load.finish();
    assertThatThrownBy(() -> load.add(11, TestRecords.put("c", "a", "x")))
        .isInstanceOf(IllegalStateException.class);
  }
}
