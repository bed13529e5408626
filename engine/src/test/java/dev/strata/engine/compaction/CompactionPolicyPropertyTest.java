package dev.strata.engine.compaction;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * Properties of {@link CompactionPolicy} (issue #5): whatever the head's sizes and knobs, a pick is
 * a contiguous run of at least two segments inside the head; it never passes {@code
 * maxMergedSegmentBytes} unless the cap rule has no window that fits; a head above {@code
 * maxSegments} always gets a pick; applying the policy until it picks nothing terminates and leaves
 * at most {@code maxSegments}, also while new small flushes keep arriving; {@code backlog()} is 0
 * exactly when {@code pick()} is empty.
 */
class CompactionPolicyPropertyTest {

  /** Knobs plus a head (sizes newest first) drawn around those knobs' scales. */
  record Case(CompactionOptions options, List<Long> sizes) {
    @Override
    public String toString() {
      return "maxSegments=" + options.maxSegments() + " F=" + options.mergeFactor() + " floor="
          + options.floorSegmentBytes() + " maxMerged=" + options.maxMergedSegmentBytes() + " sizes=" + sizes;
    }
  }

  @Provide
  Arbitrary<CompactionOptions> options() {
    Arbitrary<Integer> maxSegments = Arbitraries.integers().between(2, 12);
    Arbitrary<Integer> factor = Arbitraries.integers().between(2, 6);
    Arbitrary<Long> floor = Arbitraries.longs().between(1, 4096);
    Arbitrary<Long> maxMul = Arbitraries.longs().between(1, 200);
    return Combinators.combine(maxSegments, factor, floor, maxMul)
        .as(
            (ms, f, fl, mul) ->
                new CompactionOptions(true, ms, f, fl, fl * mul, 1, 0, 3 * ms, 1_000));
  }

  /** A size at one of several scales: tiny, around the floor, around a tier, around the cap, above it. */
  private static Arbitrary<Long> size(CompactionOptions o) {
    long floor = o.floorSegmentBytes();
    long max = o.maxMergedSegmentBytes();
    return Arbitraries.oneOf(
        Arbitraries.longs().between(1, floor),
        Arbitraries.longs().between(floor, floor * o.mergeFactor() * o.mergeFactor()),
        Arbitraries.longs().between(Math.max(1, max / 3), max),
        Arbitraries.longs().between(max, 3 * max));
  }

  @Provide
  Arbitrary<Case> cases() {
    return options()
        .flatMap(o -> size(o).list().ofMinSize(0).ofMaxSize(40).map(s -> new Case(o, List.copyOf(s))));
  }

  private static long sum(List<Long> sizes, int start, int end) {
    long s = 0;
    for (int i = start; i < end; i++) {
      s += sizes.get(i);
    }
    return s;
  }

  /** The pick's invariants for one head. */
  private static void checkPick(CompactionOptions o, List<Long> sizes, Optional<CompactionPolicy.Run> pick) {
    int n = sizes.size();
    long max = o.maxMergedSegmentBytes();
    if (n > o.maxSegments()) {
      assertThat(pick).as("a head above the cap always gets a pick: %s", sizes).isPresent();
    }
    if (pick.isEmpty()) {
      return;
    }
    CompactionPolicy.Run r = pick.get();
    assertThat(r.start()).as("run within bounds").isBetween(0, n - 2);
    assertThat(r.end()).as("run within bounds").isBetween(r.start() + 2, n);
    assertThat(r.length()).as("a run merges at least two segments").isGreaterThanOrEqualTo(2);
    long bytes = sum(sizes, r.start(), r.end());
    if (bytes > max) {
      // Only the cap rule may pass the limit, and only when no window of its length fits.
      int k = n - o.maxSegments() + 1;
      assertThat(n).as("over maxMergedSegmentBytes (%d > %d) without being over the cap", bytes, max)
          .isGreaterThan(o.maxSegments());
      assertThat(r.length()).as("an oversize run must be the cap rule's window").isEqualTo(k);
      for (int s = 0; s + k <= n; s++) {
        assertThat(sum(sizes, s, s + k))
            .as("the cap rule picked %s (%d bytes > %d) although window [%d,%d) fits", r, bytes, max, s, s + k)
            .isGreaterThan(max);
      }
    }
  }

  @Property(tries = 1500)
  void anyPickIsAContiguousRunWithinBoundsAndOnlyTheCapRulePassesTheSizeLimit(@ForAll("cases") Case c) {
    CompactionPolicy p = new CompactionPolicy(c.options());
    checkPick(c.options(), c.sizes(), p.pick(c.sizes()));
  }

  @Property(tries = 1000)
  void backlogIsZeroExactlyWhenPickIsEmpty(@ForAll("cases") Case c) {
    CompactionPolicy p = new CompactionPolicy(c.options());
    boolean nothing = p.pick(c.sizes()).isEmpty();
    int backlog = p.backlog(c.sizes());
    assertThat(backlog == 0).as("backlog %d vs pick empty %s", backlog, nothing).isEqualTo(nothing);
    assertThat(backlog).isGreaterThanOrEqualTo(0);
  }

  @Property(tries = 500)
  void repeatedApplicationTerminatesAndKeepsTheHeadUnderTheCapWhileFlushesArrive(
      @ForAll("cases") Case c, @ForAll long seed, @ForAll @IntRange(min = 1, max = 40) int rounds) {
    CompactionOptions o = c.options();
    CompactionPolicy p = new CompactionPolicy(o);
    Random rnd = new Random(seed);
    List<Long> sizes = new ArrayList<>(c.sizes());
    long totalBytes = sum(sizes, 0, sizes.size());
    for (int round = 0; round < rounds; round++) {
      // New small flushes land at the newest end.
      int arrivals = rnd.nextInt(4);
      for (int a = 0; a < arrivals; a++) {
        long s = 1 + (long) (rnd.nextDouble() * o.floorSegmentBytes() * 2);
        sizes.add(0, s);
        totalBytes += s;
      }
      int before = sizes.size();
      int steps = 0;
      while (true) {
        Optional<CompactionPolicy.Run> r = p.pick(sizes);
        checkPick(o, sizes, r);
        if (r.isEmpty()) {
          break;
        }
        int n = sizes.size();
        sizes = CompactionPolicy.merged(sizes, r.get());
        assertThat(sizes).as("each merge removes at least one segment").hasSizeLessThan(n);
        steps++;
        assertThat(steps).as("the policy must terminate: %s", c).isLessThanOrEqualTo(before);
      }
      assertThat(sizes.size())
          .as("quiescent head above the cap (%s)", sizes)
          .isLessThanOrEqualTo(o.maxSegments());
      assertThat(sum(sizes, 0, sizes.size())).as("merging keeps every byte").isEqualTo(totalBytes);
      assertThat(p.backlog(sizes)).isZero();
    }
  }

  @Property(tries = 300)
  void backlogCountsWhatRepeatedPicksMerge(@ForAll("cases") Case c) {
    CompactionPolicy p = new CompactionPolicy(c.options());
    List<Long> sizes = new ArrayList<>(c.sizes());
    int merged = 0;
    for (int guard = 0; guard <= c.sizes().size(); guard++) {
      Optional<CompactionPolicy.Run> r = p.pick(sizes);
      if (r.isEmpty()) {
        break;
      }
      merged += r.get().length();
      sizes = CompactionPolicy.merged(sizes, r.get());
    }
    assertThat(p.pick(sizes)).as("the simulation reached quiescence").isEmpty();
    assertThat(p.backlog(c.sizes())).isEqualTo(merged);
  }

  // ----------------------------------------------------------------- examples of each rule

  private static final CompactionOptions SMALL =
      new CompactionOptions(true, 6, 4, 100, 10_000, 1, 0, 18, 1_000);

  @Test
  void fourSmallSegmentsOfOneTierMergeAndThreeDoNot() {
    CompactionPolicy p = new CompactionPolicy(SMALL);
    assertThat(p.pick(List.of(10L, 20L, 30L))).isEmpty();
    assertThat(p.pick(List.of(10L, 20L, 30L, 40L))).contains(new CompactionPolicy.Run(0, 4));
    // A group of 8 (above the cap of 6 too): rule 1 comes first and takes its oldest 2F-1 = 7.
    assertThat(p.pick(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L))).contains(new CompactionPolicy.Run(1, 8));
  }

  @Test
  void segmentsOfDifferentTiersDoNotMergeUntilTheCap() {
    CompactionPolicy p = new CompactionPolicy(SMALL);
    // tiers: 10->0, 500->1, 10->0, 500->1, 10->0, 500->1 : no group of 4
    List<Long> six = List.of(10L, 500L, 10L, 500L, 10L, 500L);
    assertThat(p.pick(six)).isEmpty();
    List<Long> seven = new ArrayList<>(six);
    seven.add(0, 20L);
    // Over the cap by one: the cheapest window of two.
    assertThat(p.pick(seven)).contains(new CompactionPolicy.Run(0, 2));
  }

  @Test
  void theCapRuleAvoidsOversizeSegmentsWhenAWindowFits() {
    CompactionPolicy p = new CompactionPolicy(new CompactionOptions(true, 2, 4, 100, 1_000, 1, 0, 6, 1_000));
    // 3 segments, cap 2: windows of 2. [0,2) = 900+200 = 1100 > 1000, [1,3) = 200+700 = 900 fits.
    assertThat(p.pick(List.of(900L, 200L, 700L))).contains(new CompactionPolicy.Run(1, 3));
    // No window fits: the cheapest one anyway (the cap wins).
    assertThat(p.pick(List.of(5_000L, 6_000L, 7_000L))).contains(new CompactionPolicy.Run(0, 2));
  }

  @Test
  void backlogOfAnInShapeHeadIsZero() {
    CompactionPolicy p = new CompactionPolicy(SMALL);
    assertThat(p.backlog(List.of())).isZero();
    assertThat(p.backlog(List.of(5L))).isZero();
    assertThat(p.backlog(List.of(10L, 20L, 30L, 40L))).isEqualTo(4);
  }
}
