package dev.strata.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How a {@link StrataClient} retries calls, expressed as a gRPC <a
 * href="https://github.com/grpc/proposal/blob/master/A6-client-retries.md">service-config retry
 * policy</a> (gRFC A6) that the channel itself carries out: no retry loop of ours.
 *
 * <p>What is retried, and after how long:
 *
 * <ul>
 *   <li>{@code RESOURCE_EXHAUSTED} that the server answers with a {@code grpc-retry-pushback-ms}
 *       trailer: Strata's back-pressure ({@code WRITE_STALLED}, "nothing was applied, send it again
 *       after {@code google.rpc.RetryInfo.retry_delay}"). The server puts the same delay in both;
 *       the channel waits exactly that long. A {@code RESOURCE_EXHAUSTED} the server marks with a
 *       negative pushback (no RetryInfo, e.g. a limit of the request) is never retried.
 *   <li>{@code UNAVAILABLE} (the server cannot be reached, or is shutting down): after a random
 *       wait in {@code [0, b)}, where {@code b} starts at {@code initialBackoff} and is multiplied
 *       by {@code multiplier} after each retry, up to {@code maxBackoff} (full jitter, so that
 *       clients that failed together do not come back together).
 * </ul>
 *
 * <p>Every call makes at most {@code maxAttempts} attempts (the first included), all within the
 * call's one deadline. A call is retried only while the server has sent no response yet (for
 * streams: before the first message) and while its request fits the channel's retry buffer (see
 * {@link StrataClient.Builder#perRpcBufferBytes}); a larger request is sent once.
 *
 * <p>{@code DropFork} and {@code CreateFork} are retried on back-pressure only, never on {@code
 * UNAVAILABLE}: a drop or a creation that reached the server before the connection broke must not
 * be repeated blindly. Every other RPC of {@code strata.v1} is safe to repeat (reads, idempotent
 * puts and deletes by id, flushes, tags).
 *
 * @param maxAttempts attempts in all, the first included (1 = never retry; gRPC caps it at {@link
 *     #MAX_ATTEMPTS_CAP})
 * @param initialBackoff the bound of the first random back-off after {@code UNAVAILABLE} (&gt; 0)
 * @param maxBackoff the cap of the back-off bound (&ge; initialBackoff)
 * @param multiplier the growth of the back-off bound per retry (&ge; 1)
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {

  /** The largest {@code maxAttempts} the client lets the channel honour. */
  public static final int MAX_ATTEMPTS_CAP = 10;

  /**
   * 5 attempts, back-off bound 200 ms doubling up to 5 s: a server that is unreachable fails a
   * call after about 1.5 s on average (at most 3 s); back-pressure waits the server's delay.
   */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(5, Duration.ofMillis(200), Duration.ofSeconds(5), 2.0);

  /** Never retry. */
  public static final RetryPolicy NONE =
      new RetryPolicy(1, Duration.ofMillis(200), Duration.ofMillis(200), 1.0);

  /** The services of {@code strata.v1}. */
  static final List<String> SERVICES =
      List.of(
          "strata.v1.CollectionService",
          "strata.v1.DocumentService",
          "strata.v1.FlushService",
          "strata.v1.SnapshotService",
          "strata.v1.ForkService",
          "strata.v1.AdminService");

  /** RPCs retried on back-pressure only (not idempotent: see the class comment). */
  static final List<String> BACK_PRESSURE_ONLY =
      List.of("strata.v1.ForkService/CreateFork", "strata.v1.ForkService/DropFork");

  public RetryPolicy {
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_CAP) {
      throw new IllegalArgumentException("maxAttempts must be 1.." + MAX_ATTEMPTS_CAP + ": " + maxAttempts);
    }
    if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException(
          "need 0 < initialBackoff <= maxBackoff: " + initialBackoff + ", " + maxBackoff);
    }
    if (!(multiplier >= 1.0)) {
      throw new IllegalArgumentException("multiplier must be >= 1: " + multiplier);
    }
  }

  /** This policy with another number of attempts. */
  public RetryPolicy withMaxAttempts(int attempts) {
    return new RetryPolicy(attempts, initialBackoff, maxBackoff, multiplier);
  }

  /**
   * The service config (the JSON structure of gRFC A6 as Java maps, lists, strings and doubles,
   * as {@code ManagedChannelBuilder.defaultServiceConfig} takes it) that makes a channel retry per
   * this policy. Empty ({@code {}}) for {@link #maxAttempts} 1.
   */
  public Map<String, Object> serviceConfig() {
    Map<String, Object> config = new LinkedHashMap<>();
    if (maxAttempts < 2) {
      return config;
    }
    List<Object> methodConfigs = new ArrayList<>();
    List<Object> everyService = new ArrayList<>();
    for (String s : SERVICES) {
      everyService.add(Map.of("service", s));
    }
    methodConfigs.add(methodConfig(everyService, List.of("UNAVAILABLE", "RESOURCE_EXHAUSTED")));
    List<Object> backPressureOnly = new ArrayList<>();
    for (String m : BACK_PRESSURE_ONLY) {
      int slash = m.indexOf('/');
      backPressureOnly.add(Map.of("service", m.substring(0, slash), "method", m.substring(slash + 1)));
    }
    methodConfigs.add(methodConfig(backPressureOnly, List.of("RESOURCE_EXHAUSTED")));
    config.put("methodConfig", methodConfigs);
    return config;
  }

  private Map<String, Object> methodConfig(List<Object> names, List<String> codes) {
    Map<String, Object> retry = new LinkedHashMap<>();
    retry.put("maxAttempts", (double) maxAttempts);
    retry.put("initialBackoff", seconds(initialBackoff));
    retry.put("maxBackoff", seconds(maxBackoff));
    retry.put("backoffMultiplier", multiplier);
    retry.put("retryableStatusCodes", codes);
    Map<String, Object> mc = new LinkedHashMap<>();
    mc.put("name", names);
    mc.put("retryPolicy", retry);
    return mc;
  }

  /** A duration in the service config's form, e.g. {@code "0.200000000s"}. */
  private static String seconds(Duration d) {
    return d.getSeconds() + "." + String.format(java.util.Locale.ROOT, "%09d", d.getNano()) + "s";
  }
}
