package dev.strata.engine.l0;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.FieldValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
  private static DocumentVersion put(long lsn, String id, String body) {
    return new DocumentVersion(lsn, new Document(id, Map.of("body", new FieldValue.Str(body))));
  }

  private static List<Map.Entry<L0Key, DocumentVersion>> record(long lsn, int keys) {
    List<Map.Entry<L0Key, DocumentVersion>> out = new ArrayList<>();
    for (int k = 0; k < keys; k++) {
      out.add(Map.entry(new L0Key("c", "r" + lsn + "-" + k), put(lsn, "r" + lsn + "-" + k, "x")));
    }
    return out;
  }

  @Test
  void newestLsnWinsWhateverTheApplyOrderAndBytesAreAccounted() {
    L0Buffer b = new L0Buffer(0);
    L0Key k = new L0Key("c", "a");
    b.apply(k, put(5, "a", "newer"));
    b.apply(k, put(3, "a", "older"));
    assertThat(((FieldValue.Str) b.get("c", "a").document().fields().get("body")).value()).isEqualTo("newer");
    long one = b.sizeBytes();
    assertThat(one).isGreaterThan(L0Buffer.ENTRY_OVERHEAD_BYTES);
    b.apply(k, new DocumentVersion(7, null));
    assertThat(b.get("c", "a").isTombstone()).isTrue();
    assertThat(b.sizeBytes()).isLessThan(one);
    assertThat(b.entryCount()).isEqualTo(1);
  }

  @Test
  void aFrozenBufferTakesOnlyRecordsUpToItsCoveredLsn() {
    L0Buffer b = new L0Buffer(10);
    assertThat(b.applyRecord(11, record(11, 2))).isTrue();
    assertThat(b.freeze(() -> 12)).isEqualTo(12);
    assertThat(b.applyRecord(12, record(12, 2))).as("12 <= covered").isTrue();
    assertThat(b.applyRecord(13, record(13, 2))).as("13 > covered: route elsewhere").isFalse();
    assertThat(b.get("c", "r13-0")).isNull();
    assertThatThrownBy(() -> b.freeze(() -> 20)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> new L0Buffer(10).apply(new L0Key("c", "x"), put(10, "x", "y")))
        .isInstanceOf(IllegalArgumentException.class);
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
                  if (!b.applyRecord(lsn, record(lsn, keys))) {
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
