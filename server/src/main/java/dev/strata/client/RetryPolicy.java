package dev.strata.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When and how long to wait before retrying a call the server refused with back-pressure.
 *
 * <p>A call is retried only when its status is {@code RESOURCE_EXHAUSTED} <em>and</em> it carries
 * a {@code google.rpc.RetryInfo} detail: that is the server saying "nothing was applied, send the
 * same request again after {@code retry_delay}". A {@code RESOURCE_EXHAUSTED} without RetryInfo
 * (e.g. a message above the server's maximum size) would fail again, so it is not retried.
 *
 * <p>The wait before retry number {@code n} (1-based) is the larger of the server's {@code
 * retry_delay} and {@code initialBackoff * multiplier^(n-1)} (capped at {@code maxBackoff}), plus
 * up to {@code jitter} of itself at random, so that many clients stalled together do not come back
 * together. At most {@code maxAttempts} attempts are made in all (the first one included).
 *
 * @param maxAttempts attempts in all, the first included (1 = never retry)
 * @param initialBackoff the back-off before the first retry when the server's delay is shorter
 * @param maxBackoff the cap of the exponential back-off (the server's delay may exceed it)
 * @param multiplier the growth factor of the back-off per attempt (≥ 1)
 * @param jitter the random fraction added to each wait, 0..1
 */
public record RetryPolicy(
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier, double jitter) {

  /** 8 attempts, 100 ms doubling up to 5 s, 20 % jitter: rides out about 20 s of stall. */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(8, Duration.ofMillis(100), Duration.ofSeconds(5), 2.0, 0.2);

  /** Never retry. */
  public static final RetryPolicy NONE =
      new RetryPolicy(1, Duration.ZERO, Duration.ZERO, 1.0, 0.0);

  public RetryPolicy {
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1: " + maxAttempts);
    }
    if (initialBackoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException("back-off durations must not be negative");
    }
    if (!(multiplier >= 1.0)) {
      throw new IllegalArgumentException("multiplier must be >= 1: " + multiplier);
    }
    if (!(jitter >= 0.0 && jitter <= 1.0)) {
      throw new IllegalArgumentException("jitter must be in 0..1: " + jitter);
    }
  }

  /** This policy with another number of attempts. */
  public RetryPolicy withMaxAttempts(int attempts) {
    return new RetryPolicy(attempts, initialBackoff, maxBackoff, multiplier, jitter);
  }

  /**
   * The server's retry delay if {@code error} is retryable back-pressure ({@code
   * RESOURCE_EXHAUSTED} with a {@code google.rpc.RetryInfo} detail), else empty.
   */
  public static Optional<Duration> retryDelay(Throwable error) {
    if (error == null || Status.fromThrowable(error).getCode() != Status.Code.RESOURCE_EXHAUSTED) {
      return Optional.empty();
    }
    com.google.rpc.Status status = StatusProto.fromThrowable(error);
    if (status == null) {
      return Optional.empty();
    }
    for (Any detail : status.getDetailsList()) {
      if (detail.is(RetryInfo.class)) {
        try {
          com.google.protobuf.Duration d = detail.unpack(RetryInfo.class).getRetryDelay();
          return Optional.of(
              Duration.ofSeconds(Math.max(0, d.getSeconds()), Math.max(0, d.getNanos())));
        } catch (InvalidProtocolBufferException e) {
          return Optional.of(Duration.ZERO);
        }
      }
    }
    return Optional.empty();
  }

  /** Whether {@code error} is back-pressure that may be retried unchanged. */
  public static boolean isRetryable(Throwable error) {
    return retryDelay(error).isPresent();
  }

  /**
   * The wait before retry number {@code retry} (1 = the first retry, after the first attempt
   * failed), given the server's {@code serverDelay} (may be null or zero).
   */
  public Duration backoff(int retry, Duration serverDelay) {
    double exp = initialBackoff.toNanos() * Math.pow(multiplier, Math.max(0, retry - 1));
    long expNanos = (long) Math.min(exp, (double) maxBackoff.toNanos());
    long base = Math.max(expNanos, serverDelay == null ? 0 : serverDelay.toNanos());
    long extra = jitter == 0 || base == 0 ? 0 : (long) (base * jitter * ThreadLocalRandom.current().nextDouble());
    return Duration.ofNanos(base + extra);
  }
}
