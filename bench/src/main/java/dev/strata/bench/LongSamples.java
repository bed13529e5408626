package dev.strata.bench;

import java.util.Arrays;

/**
 * A growable array of long samples (nanoseconds, usually) with exact percentiles by sorting. Not
 * thread-safe: one per thread, merged at the end; or wrap calls in {@code synchronized}.
 */
public final class LongSamples {
  private long[] values = new long[1024];
  private int size;

  /** Adds one sample. */
  public void add(long v) {
    if (size == values.length) {
      values = Arrays.copyOf(values, values.length * 2);
    }
    values[size++] = v;
  }

  /** Adds every sample of {@code other}. */
  public void addAll(LongSamples other) {
    for (int i = 0; i < other.size; i++) {
      add(other.values[i]);
    }
  }

  /** The number of samples. */
  public int size() {
    return size;
  }

  /** The sum of the samples. */
  public long sum() {
    long s = 0;
    for (int i = 0; i < size; i++) {
      s += values[i];
    }
    return s;
  }

  /**
   * The {@code p}-th percentile (0..100) by the nearest-rank method, or NaN if empty. Sorts the
   * samples in place.
   */
  public double percentile(double p) {
    if (size == 0) {
      return Double.NaN;
    }
    Arrays.sort(values, 0, size);
    int rank = (int) Math.ceil(p / 100.0 * size);
    return values[Math.max(0, Math.min(size - 1, rank - 1))];
  }

  /** The largest sample, or NaN if empty. */
  public double max() {
    return percentile(100);
  }
}
