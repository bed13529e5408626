package dev.strata.engine.l0;

import static dev.strata.engine.l0.TestRecords.bodyOf;
import static dev.strata.engine.l0.TestRecords.delete;
import static dev.strata.engine.l0.TestRecords.put;
import static dev.strata.engine.l0.TestRecords.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.l0.TestRecords.Op;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.SegmentEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class L0BufferTest {

  private static L0Record records(long lsn, int keys) {
    List<Op> ops = new ArrayList<>();
    for (int k = 0; k < keys; k++) {
      ops.add(new Op("r" + lsn + "-" + k, "x"));
    }
    return record("c", ops);
  }

  @Test
  void newestLsnWinsWhateverTheApplyOrderAndBytesAreAccountedExactly() {
    L0Buffer b = new L0Buffer(0);
    assertThat(b.sizeBytes()).isZero();
    assertThat(b.reservedBytes()).isZero();
    assertThat(b.applyRecord(5, put("c", "a", "newer"))).isTrue();
    long one = b.sizeBytes();
    int body = TestRecords.document("a", "newer").bodySize();
    // key record (2 + "c\0a") + version (4 + 9 + body) + a node of 3..14 longs.
    long data = 2 + 3 + 4 + 9 + body;
    assertThat(one).isBetween(data + 8 * 3, data + 8 * (2 + L0SkipList.MAX_HEIGHT));
    assertThat(b.applyRecord(3, put("c", "a", "older"))).isTrue();
    assertThat(bodyOf(b.get("c", "a"))).isEqualTo("newer");
    assertThat(b.get("c", "a").lsn()).isEqualTo(5);
    // The refused older version was still copied in (an arena never takes back): counted.
    assertThat(b.sizeBytes()).isEqualTo(one + 4 + 9 + TestRecords.document("a", "older").bodySize());
    long two = b.sizeBytes();
    assertThat(b.applyRecord(7, delete("c", "a"))).isTrue();
    assertThat(b.get("c", "a").isTombstone()).isTrue();
    assertThat(b.get("c", "a").lsn()).isEqualTo(7);
    assertThat(b.sizeBytes()).isEqualTo(two + 4 + 9);
    assertThat(b.entryCount()).isEqualTo(1);
    assertThat(b.reservedBytes()).isGreaterThanOrEqualTo(b.sizeBytes());
    assertThat(b.maxAppliedLsn()).isEqualTo(7);
  }

  @Test
  void aLaterMutationOfTheSameIdInOneRecordWins() {
    L0Buffer b = new L0Buffer(0);
    b.applyRecord(1, record("c", List.of(new Op("a", "first"), new Op("b", "b"), new Op("a", "second"))));
    assertThat(bodyOf(b.get("c", "a"))).isEqualTo("second");
    b.applyRecord(2, record("c", List.of(new Op("b", null), new Op("b", "back"))));
    assertThat(bodyOf(b.get("c", "b"))).isEqualTo("back");
    assertThat(b.entryCount()).isEqualTo(2);
  }

  @Test
  void scansAndEntriesFollowUnsignedUtf8OrderAndStayInTheirCollection() {
    L0Buffer b = new L0Buffer(0);
    // U+E000 sorts after U+10000 in UTF-16 but before it in UTF-8 bytes (segment key order).
    String[] ids = {"b", "a", "\uE000", "\uD800\uDC00", "ab", "a\u00e9"};
    long lsn = 0;
    for (String id : ids) {
      b.applyRecord(++lsn, put("docs", id, "v" + id));
    }
    b.applyRecord(++lsn, put("doc", "z", "other collection, a prefix of docs"));
    b.applyRecord(++lsn, put("docs2", "a", "other collection, docs is its prefix"));
    b.applyRecord(++lsn, delete("docs", "ab"));
    List<String> scanned = new ArrayList<>();
    b.scan("docs", "").forEachRemaining(e -> scanned.add(e.id()));
    String[] sorted = ids.clone();
    Arrays.sort(sorted, (x, y) -> Arrays.compareUnsigned(x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8)));
    assertThat(scanned).containsExactly(sorted);
    List<String> from = new ArrayList<>();
    b.scan("docs", "ab").forEachRemaining(e -> from.add(e.id()));
    assertThat(from).containsExactly("ab", "a\u00e9", "b", "\uE000", "\uD800\uDC00");
    List<SegmentEntry> all = new ArrayList<>();
    b.entries().forEachRemaining(all::add);
    assertThat(all).extracting(SegmentEntry::collection).containsExactly(
        "doc", "docs", "docs", "docs", "docs", "docs", "docs", "docs2");
    assertThat(all.get(2).id()).isEqualTo("ab");
    assertThat(all.get(2).version().isTombstone()).isTrue();
    assertThat(bodyOf(all.get(7).version())).isEqualTo("other collection, docs is its prefix");
    assertThat(b.scan("none", "").hasNext()).isFalse();
  }

  @Test
  void aReadHandsOutTheStoredBytesAsTheyCameIn() {
    L0Buffer b = new L0Buffer(0);
    L0Record r = put("c", "a", "the body");
    b.applyRecord(1, r);
    DocumentVersion v = b.get("c", "a");
    assertThat(v.stored().body()).isEqualTo(TestRecords.document("a", "the body").body());
    assertThat(v.stored().id()).isEqualTo("a");
  }

  @Test
  void aLargeDocumentGetsAChunkOfItsOwn() {
    L0Buffer b = new L0Buffer(0);
    String big = "x".repeat(3 << 20);
    b.applyRecord(1, put("c", "big", big));
    b.applyRecord(2, put("c", "small", "s"));
    assertThat(bodyOf(b.get("c", "big"))).isEqualTo(big);
    assertThat(bodyOf(b.get("c", "small"))).isEqualTo("s");
    assertThat(b.reservedBytes()).isLessThan(b.sizeBytes() + (64 << 10));
  }

  @Test
  void aFrozenBufferTakesOnlyRecordsUpToItsCoveredLsn() {
    L0Buffer b = new L0Buffer(10);
    assertThat(b.applyRecord(11, records(11, 2))).isTrue();
    assertThat(b.freeze(() -> 12)).isEqualTo(12);
    assertThat(b.applyRecord(12, records(12, 2))).as("12 <= covered").isTrue();
    assertThat(b.applyRecord(13, records(13, 2))).as("13 > covered: route elsewhere").isFalse();
    assertThat(b.get("c", "r13-0")).isNull();
    assertThatThrownBy(() -> b.freeze(() -> 20)).isInstanceOf(IllegalStateException.class);
    assertThat(new L0Buffer(10).applyRecord(10, records(10, 1))).isFalse();
  }

  /**
   * Records race a freeze: every record lands whole or not at all, exactly those with LSN ≤ the
   * covered LSN land, and none is lost (those refused are the caller's to route).
   */
  @Property(tries = 30)
  void aFreezeRacingAppliersSplitsRecordsCleanly(@ForAll @IntRange(min = 1, max = 4) int keys)
      throws Exception {
    L0Buffer b = new L0Buffer(0);
    AtomicLong lsns = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<List<Long>>> refused = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      refused.add(
          pool.submit(
              () -> {
                go.await();
                List<Long> mine = new ArrayList<>();
                for (int i = 0; i < 300; i++) {
                  long lsn = lsns.incrementAndGet();
                  if (!b.applyRecord(lsn, records(lsn, keys))) {
                    mine.add(lsn);
                  }
                }
                return mine;
              }));
    }
    go.countDown();
    while (lsns.get() < 200) {
      Thread.onSpinWait();
    }
    // As a rotate does: the covered LSN is the last one handed out, read under the freeze lock.
    long covered = b.freeze(lsns::get);
    List<Long> notHere = new ArrayList<>();
    for (Future<List<Long>> f : refused) {
      notHere.addAll(f.get(30, TimeUnit.SECONDS));
    }
    pool.shutdown();
    for (long lsn = 1; lsn <= lsns.get(); lsn++) {
      int present = 0;
      for (int k = 0; k < keys; k++) {
        if (b.get("c", "r" + lsn + "-" + k) != null) {
          present++;
        }
      }
      assertThat(present).as("record %d is whole or absent", lsn).isIn(0, keys);
      boolean inBuffer = present == keys;
      assertThat(inBuffer).as("record %d in buffer iff LSN <= covered %d", lsn, covered).isEqualTo(lsn <= covered);
      assertThat(notHere.contains(lsn)).as("record %d refused iff not in buffer", lsn).isEqualTo(!inBuffer);
    }
  }
}
