package dev.strata.engine.compaction;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Chooses which contiguous run of a fork head's segments to merge next: size-tiered, in the spirit
 * of Lucene's {@code TieredMergePolicy} and RocksDB's universal compaction, restricted to
 * contiguous runs because segments are ordered newest first and a newer version hides an older
 * one (a merge of non-adjacent segments would reorder versions).
 *
 * <h2>Rules, in order</h2>
 *
 * <ol>
 *   <li><b>Tiers.</b> A segment's tier is {@code floor(log_F(max(size, floor) / floor))} with {@code
 *       F = mergeFactor}: segments below {@code floorSegmentBytes} are all tier 0, so small interval
 *       flushes merge early and cheaply, while large segments need F peers of their size and merge
 *       rarely. Scanning from the newest segment, the first maximal group of at least F adjacent
 *       segments of one tier is merged: its oldest {@code min(len, 2F - 1)} members, fewer if the
 *       result would pass {@code maxMergedSegmentBytes}.
 *   <li><b>Cap.</b> If no tier is ready but the head holds more than {@code maxSegments}, the
 *       cheapest window (fewest bytes) of {@code count - maxSegments + 1} adjacent segments is
 *       merged, bringing the head back to the cap in one step.
 * </ol>
 *
 * Segments of {@code maxMergedSegmentBytes} or more are never picked by rule 1; rule 2 avoids them
 * when it can. Write amplification: a byte is rewritten about once per tier it climbs, i.e. {@code
 * log_F(total / floor)} times, plus up to {@code floor / (F · flush size)} times while it is below
 * the floor (documented with numbers in {@code docs/architecture.md}).
 *
 * <p>Stateless and thread-safe; pure functions of the sizes given, so they are property-tested.
 */
public final class CompactionPolicy {
  private final CompactionOptions options;

  /** A policy with the given knobs. */
  public CompactionPolicy(CompactionOptions options) {
    this.options = options;
  }

  /** A contiguous run of a head's segments: indices {@code [start, end)} in newest-first order. */
  public record Run(int start, int end) {
    /** Checks {@code 0 <= start < end}. */
    public Run {
      if (start < 0 || end <= start) {
        throw new IllegalArgumentException("bad run [" + start + ", " + end + ")");
      }
    }

    /** Number of segments in the run. */
    public int length() {
      return end - start;
    }
  }

  /** The tier of a segment of {@code sizeBytes}. */
  public int tier(long sizeBytes) {
    double ratio = (double) Math.max(sizeBytes, options.floorSegmentBytes()) / options.floorSegmentBytes();
    int t = (int) Math.floor(Math.log(ratio) / Math.log(options.mergeFactor()) + 1e-9);
    return Math.max(0, t);
  }

  /**
   * The next run to merge, or empty if the head is fine as it is.
   *
   * @param sizesNewestFirst bytes of each segment of the head, newest first
   */
  public Optional<Run> pick(List<Long> sizesNewestFirst) {
    int n = sizesNewestFirst.size();
    int f = options.mergeFactor();
    long maxBytes = options.maxMergedSegmentBytes();
    int i = 0;
    while (i < n) {
      long size = sizesNewestFirst.get(i);
      if (size >= maxBytes) {
        i++;
        continue;
      }
      int t = tier(size);
      int j = i + 1;
      while (j < n && sizesNewestFirst.get(j) < maxBytes && tier(sizesNewestFirst.get(j)) == t) {
        j++;
      }
      if (j - i >= f) {
        // The group's oldest members, so the merged segment lands next to the bigger, older ones.
        int end = j;
        int start = Math.max(i, end - (2 * f - 1));
        while (end - start > 2 && sum(sizesNewestFirst, start, end) > maxBytes) {
          start++;
        }
        if (end - start >= 2 && sum(sizesNewestFirst, start, end) <= maxBytes) {
          return Optional.of(new Run(start, end));
        }
      }
      i = j;
    }
    if (n > options.maxSegments()) {
      return Optional.of(cheapestWindow(sizesNewestFirst, n - options.maxSegments() + 1));
    }
    return Optional.empty();
  }

  /** A full merge: every segment, if there are at least two. */
  public static Optional<Run> full(int segmentCount) {
    return segmentCount >= 2 ? Optional.of(new Run(0, segmentCount)) : Optional.empty();
  }

  /**
   * How many segments the policy would merge if it ran until it picked nothing: the compaction
   * backlog reported by {@code Stats} (0 when the head is in shape).
   */
  public int backlog(List<Long> sizesNewestFirst) {
    List<Long> sizes = new ArrayList<>(sizesNewestFirst);
    int total = 0;
    for (int guard = 0; guard <= sizesNewestFirst.size(); guard++) {
      Optional<Run> r = pick(sizes);
      if (r.isEmpty()) {
        break;
      }
      total += r.get().length();
      sizes = merged(sizes, r.get());
    }
    return total;
  }

  /** {@code sizes} with {@code run} replaced by one segment of their total size. */
  public static List<Long> merged(List<Long> sizes, Run run) {
    List<Long> out = new ArrayList<>(sizes.subList(0, run.start()));
    out.add(sum(sizes, run.start(), run.end()));
    out.addAll(sizes.subList(run.end(), sizes.size()));
    return out;
  }

  private Run cheapestWindow(List<Long> sizes, int k) {
    int n = sizes.size();
    Run best = null;
    long bestBytes = Long.MAX_VALUE;
    boolean bestFits = false;
    for (int s = 0; s + k <= n; s++) {
      long bytes = sum(sizes, s, s + k);
      boolean fits = bytes <= options.maxMergedSegmentBytes();
      if (best == null || (fits && !bestFits) || (fits == bestFits && bytes < bestBytes)) {
        best = new Run(s, s + k);
        bestBytes = bytes;
        bestFits = fits;
      }
    }
    return best;
  }

  private static long sum(List<Long> sizes, int start, int end) {
    long s = 0;
    for (int i = start; i < end; i++) {
      s += sizes.get(i);
    }
    return s;
  }
}
