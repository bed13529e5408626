package dev.strata.engine.l0;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LsnWatermarkTest {

  @Test
  void advancesOnlyOverAGapFreeRun() throws Exception {
    LsnWatermark w = new LsnWatermark(10);
    w.markDone(12);
    assertThat(w.get()).isEqualTo(10);
    assertThat(w.awaitAtLeast(12, 20)).as("times out while 11 is missing").isFalse();
    w.markDone(11);
    assertThat(w.get()).isEqualTo(12);
    assertThat(w.awaitAtLeast(12, 0)).isTrue();
    w.markDone(5);
    assertThat(w.get()).as("old LSNs are ignored").isEqualTo(12);
  }

  @Property(tries = 50)
  void anyCompletionOrderEndsAtTheHighestLsn(@ForAll @IntRange(min = 1, max = 300) int n, @ForAll long seed) {
    List<Long> order = new ArrayList<>();
    for (long i = 1; i <= n; i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(seed));
    LsnWatermark w = new LsnWatermark(0);
    long lastSeen = 0;
    for (long lsn : order) {
      w.markDone(lsn);
      assertThat(w.get()).isGreaterThanOrEqualTo(lastSeen);
      lastSeen = w.get();
    }
    assertThat(w.get()).isEqualTo(n);
  }
}
