package dev.strata.engine.segment;

import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.apache.lucene.store.RateLimiter;

/**
 * A byte-rate limit shared by every compaction: Lucene's {@link RateLimiter} contract (so {@code
 * RateLimitedIndexOutput} can throttle index files) backed by Guava's thread-safe token bucket
 * ({@link com.google.common.util.concurrent.RateLimiter}), which the SST side calls directly. One
 * instance per engine: all compactions together write at most the configured bytes per second.
 * Thread-safe.
 */
public final class WriteRateLimiter extends RateLimiter {
  private final com.google.common.util.concurrent.RateLimiter bucket;
  private final long minPauseCheckBytes;
  private volatile double mbPerSec;
  private volatile boolean stopped;

  /**
   * @param bytesPerSec the limit in bytes per second; must be positive
   */
  public WriteRateLimiter(long bytesPerSec) {
    if (bytesPerSec <= 0) {
      throw new IllegalArgumentException("rate must be positive, got " + bytesPerSec);
    }
    this.bucket = com.google.common.util.concurrent.RateLimiter.create(bytesPerSec);
    this.mbPerSec = bytesPerSec / (1024.0 * 1024.0);
    // Check about every 10 ms worth of bytes, and never more often than every 64 KiB.
    this.minPauseCheckBytes = Math.max(64 << 10, bytesPerSec / 100);
  }

  /**
   * Takes {@code bytes} from the bucket, sleeping while it is empty; returns ns slept.
   *
   * @throws java.util.concurrent.CancellationException once {@link #stop()} was called, so a
   *     throttled merge ends promptly at shutdown instead of sleeping out its debt
   */
  @Override
  public long pause(long bytes) {
    long start = System.nanoTime();
    long left = bytes;
    while (left > 0) {
      int chunk = (int) Math.min(left, Integer.MAX_VALUE);
      while (!bucket.tryAcquire(chunk, 100, TimeUnit.MILLISECONDS)) {
        checkStopped();
      }
      checkStopped();
      left -= chunk;
    }
    return System.nanoTime() - start;
  }

  /** Makes every current and later {@link #pause} throw: the engine is shutting down. */
  public void stop() {
    stopped = true;
  }

  private void checkStopped() {
    if (stopped) {
      throw new CancellationException("compaction write-rate limiter stopped (shutdown)");
    }
  }

  @Override
  public void setMBPerSec(double mbPerSec) {
    this.mbPerSec = mbPerSec;
    bucket.setRate(mbPerSec * 1024 * 1024);
  }

  @Override
  public double getMBPerSec() {
    return mbPerSec;
  }

  @Override
  public long getMinPauseCheckBytes() {
    return minPauseCheckBytes;
  }
}
