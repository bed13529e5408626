package dev.strata.engine.retention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.retention.RetentionPolicy.SnapshotInfo;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/**
 * {@link RetentionPolicy} (SPEC §4): the head never expires; the last N are kept; snapshots younger
 * than min age are kept; protected ids (tags, fork bases) are kept; every other snapshot expires.
 * The property compares the policy with that definition on random forks.
 */
class RetentionPolicyTest {
  private static final long NOW = 1_700_000_000_000L;

  private static SnapshotInfo snap(long seq, long ageMs) {
    return new SnapshotInfo(seq, "f-" + String.format("%012d", seq), NOW - ageMs);
  }

  @Test
  void keepsTheLastNAndExpiresTheRest() {
    List<SnapshotInfo> s = new ArrayList<>();
    for (long seq = 1; seq <= 10; seq++) {
      s.add(snap(seq, 1_000_000));
    }
    Collections.shuffle(s, new Random(1));
    assertThat(RetentionPolicy.expired(s, Set.of(), new RetentionOptions(3, 0, 1000), NOW))
        .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
  }

  @Test
  void theHeadNeverExpiresEvenWhenOldAndNIsOne() {
    List<SnapshotInfo> s = List.of(snap(4, 10_000_000), snap(9, 10_000_000), snap(7, 10_000_000));
    assertThat(RetentionPolicy.expired(s, Set.of(), new RetentionOptions(1, 0, 1000), NOW))
        .containsExactly(4L, 7L);
    assertThat(RetentionPolicy.expired(List.of(snap(3, 99_999_999)), Set.of(), new RetentionOptions(1, 0, 1), NOW))
        .isEmpty();
    assertThat(RetentionPolicy.expired(List.of(), Set.of(), new RetentionOptions(1, 0, 1), NOW)).isEmpty();
  }

  @Test
  void youngSnapshotsAndProtectedOnesStay() {
    List<SnapshotInfo> s =
        List.of(
            snap(1, 5_000), // old, tagged
            snap(2, 5_000), // old
            snap(3, 999), // young
            snap(4, 1_000), // exactly min age: no longer young
            snap(5, 10), // young, and among the last 1 anyway? no: head is 6
            snap(6, 0)); // head
    assertThat(
            RetentionPolicy.expired(s, Set.of("f-000000000001"), new RetentionOptions(1, 1_000, 1000), NOW))
        .containsExactly(2L, 4L);
  }

  @Test
  void aSnapshotFromTheFutureCountsAsYoung() {
    // Clock skew: a creation time after "now" must not make a snapshot expire early.
    List<SnapshotInfo> s = List.of(new SnapshotInfo(1, "f-1", NOW + 60_000), snap(2, 0));
    assertThat(RetentionPolicy.expired(s, Set.of(), new RetentionOptions(1, 1_000, 1000), NOW)).isEmpty();
  }

  @Property(tries = 1000)
  void expiresExactlyWhatNoRuleKeeps(
      @ForAll @IntRange(min = 0, max = 60) int count,
      @ForAll @IntRange(min = 1, max = 20) int keepLast,
      @ForAll @LongRange(min = 0, max = 10_000) long minAgeMs,
      @ForAll long seed) {
    Random rnd = new Random(seed);
    List<SnapshotInfo> snaps = new ArrayList<>();
    TreeSet<Long> seqs = new TreeSet<>();
    while (seqs.size() < count) {
      seqs.add(1 + (long) rnd.nextInt(500)); // gaps, as after earlier expiries
    }
    for (long seq : seqs) {
      long age = rnd.nextInt(3) == 0 ? rnd.nextInt(20_000) - 1_000 : rnd.nextInt(20_000);
      snaps.add(new SnapshotInfo(seq, "fork-" + String.format("%012d", seq), NOW - age));
    }
    Set<String> protectedIds = new HashSet<>();
    for (SnapshotInfo s : snaps) {
      if (rnd.nextInt(5) == 0) {
        protectedIds.add(s.id());
      }
    }
    protectedIds.add("other-000000000001"); // ids of other forks are harmless
    List<SnapshotInfo> shuffled = new ArrayList<>(snaps);
    Collections.shuffle(shuffled, rnd);
    RetentionOptions options = new RetentionOptions(keepLast, minAgeMs, 1000);

    List<Long> expired = RetentionPolicy.expired(shuffled, protectedIds, options, NOW);

    assertThat(expired).as("ascending, no duplicates").isSorted().doesNotHaveDuplicates();
    assertThat(seqs).as("only known seqs").containsAll(expired);
    Set<Long> lastN = new HashSet<>();
    seqs.descendingSet().stream().limit(keepLast).forEach(lastN::add);
    for (SnapshotInfo s : snaps) {
      boolean head = !seqs.isEmpty() && s.seq() == seqs.last();
      boolean young = NOW - s.createTimeMs() < minAgeMs;
      boolean kept = head || lastN.contains(s.seq()) || young || protectedIds.contains(s.id());
      assertThat(expired.contains(s.seq()))
          .as("seq %d head=%s lastN=%s young=%s protected=%s", s.seq(), head, lastN.contains(s.seq()), young,
              protectedIds.contains(s.id()))
          .isEqualTo(!kept);
    }
  }
}
