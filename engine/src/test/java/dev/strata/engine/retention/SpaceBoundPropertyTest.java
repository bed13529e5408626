package dev.strata.engine.retention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/**
 * The space bound of retention ({@link RetentionPolicy#overSpaceBound}): it never expires a pinned
 * snapshot (head, tag, fork base), it brings the retained bytes under the bound whenever the
 * unpinned snapshots allow it, and it expires the oldest first and no more than needed.
 */
class SpaceBoundPropertyTest {
  /** Snapshots referring to random subsets of 12 segments of random sizes. */
  private static List<RetentionPolicy.Retained> snapshots(List<Integer> segmentMasks, List<Integer> sizes, Set<Integer> pinned) {
    List<RetentionPolicy.Retained> out = new ArrayList<>();
    for (int i = 0; i < segmentMasks.size(); i++) {
      Map<Long, Long> segs = new HashMap<>();
      for (int b = 0; b < 12; b++) {
        if ((segmentMasks.get(i) & (1 << b)) != 0) {
          segs.put((long) b, (long) sizes.get(b));
        }
      }
      out.add(new RetentionPolicy.Retained("f" + (i % 3), "s" + i, 1_000L * i, segs, pinned.contains(i)));
    }
    return out;
  }

  private static long bytes(List<RetentionPolicy.Retained> kept) {
    Map<Long, Long> distinct = new HashMap<>();
    kept.forEach(r -> distinct.putAll(r.segmentBytes()));
    return distinct.values().stream().mapToLong(Long::longValue).sum();
  }

  @Property(tries = 2000)
  void theBoundIsMetOldestFirstWithoutTouchingPinnedSnapshots(
      @ForAll @Size(min = 1, max = 20) List<@IntRange(min = 0, max = 4095) Integer> masks,
      @ForAll @Size(value = 12) List<@IntRange(min = 1, max = 1000) Integer> sizes,
      @ForAll @Size(max = 6) Set<@IntRange(min = 0, max = 19) Integer> pinned,
      @ForAll @LongRange(min = 0, max = 12_000) long bound) {
    List<RetentionPolicy.Retained> all = snapshots(masks, sizes, pinned);
    List<RetentionPolicy.Retained> going = RetentionPolicy.overSpaceBound(all, bound);
    Set<String> goingIds = new HashSet<>();
    going.forEach(r -> goingIds.add(r.id()));
    assertThat(going).noneMatch(RetentionPolicy.Retained::pinned);
    List<RetentionPolicy.Retained> kept = all.stream().filter(r -> !goingIds.contains(r.id())).toList();
    List<RetentionPolicy.Retained> pinnedOnly = all.stream().filter(RetentionPolicy.Retained::pinned).toList();
    if (bytes(all) <= bound) {
      assertThat(going).as("under the bound already: nothing expires").isEmpty();
    } else if (bytes(pinnedOnly) <= bound) {
      assertThat(bytes(kept)).as("the bound is met").isLessThanOrEqualTo(bound);
    } else {
      assertThat(kept).as("only pinned snapshots are left").allMatch(RetentionPolicy.Retained::pinned);
    }
    // Oldest first, and no more than needed: without the last one chosen, the bound was not met.
    for (int i = 1; i < going.size(); i++) {
      assertThat(going.get(i).createTimeMs()).isGreaterThan(going.get(i - 1).createTimeMs());
    }
    for (RetentionPolicy.Retained r : all) {
      if (!r.pinned() && !goingIds.contains(r.id()) && !going.isEmpty()) {
        assertThat(r.createTimeMs()).as("an older unpinned snapshot was skipped").isGreaterThan(going.get(going.size() - 1).createTimeMs());
      }
    }
    if (!going.isEmpty()) {
      Set<String> lessOne = new HashSet<>(goingIds);
      lessOne.remove(going.get(going.size() - 1).id());
      long withLast = bytes(all.stream().filter(r -> !lessOne.contains(r.id())).toList());
      assertThat(withLast).as("the last snapshot expired was needed").isGreaterThan(bound);
    }
  }
}
