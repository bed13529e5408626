package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static dev.strata.server.TestServer.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.StatsRequest;
import dev.strata.client.RetryPolicy;
import dev.strata.client.StrataClient;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.vfs.LocalVfs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RESOURCE_EXHAUSTED with RetryInfo, provoked for real: one flush permit, a stream phase held back
 * by a flush hook, and a short write-stall timeout.
 */
class BackPressureTest {
  @TempDir Path dir;

  @Test
  void noPermitIsResourceExhaustedWithRetryInfo() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TestServer t =
        startHoldingFlushes(release)) {
      try {
        t.createCollection("", "bp");
        t.write("", "bp", doc("a", "a", "x", 1));
        t.flushes().flush(FlushRequest.newBuilder().build()); // takes the only permit; its stream waits
        t.write("", "bp", doc("b", "b", "x", 2));
        StatusRuntimeException e = failure(() -> t.flushes().flush(FlushRequest.newBuilder().build()));
        assertThat(code(e)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(errorInfo(e).getReason()).isEqualTo("WRITE_STALLED");
        assertThat(errorInfo(e).getMetadataMap()).containsEntry("fork", "main");
        assertThat(retryInfo(e)).isNotNull();
        long delayMs =
            retryInfo(e).getRetryDelay().getSeconds() * 1000 + retryInfo(e).getRetryDelay().getNanos() / 1_000_000;
        assertThat(delayMs).isPositive();
        // the same delay for gRPC's own retry policy (gRFC A6 pushback)
        assertThat(e.getTrailers().get(StatusMapper.RETRY_PUSHBACK_MS)).isEqualTo(Long.toString(delayMs));
        assertThat(t.admin().stats(StatsRequest.newBuilder().addForks("main").build()).getForks(0).getStalledRequestsTotal())
            .isEqualTo(1);
      } finally {
        release.countDown();
      }
      // Once the held flush goes through and gives its permit back, the same request succeeds (the
      // release takes a moment on a loaded machine: retry as the RetryInfo says, as a client would).
      long covered =
          Awaitility.await()
              .atMost(Duration.ofSeconds(30))
              .ignoreExceptionsMatching(x -> x instanceof StatusRuntimeException sre && code(sre) == Status.Code.RESOURCE_EXHAUSTED)
              .until(() -> t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot().getCoveredLsn(), lsn -> true);
      assertThat(covered).isPositive();
    }
  }

  @Test
  void theJavaClientRetriesBackPressureByItselfUntilThePermitIsFree() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TestServer t =
            startHoldingFlushes(release);
        StrataClient client =
            StrataClient.builder("127.0.0.1:" + t.server.port())
                .retryPolicy(RetryPolicy.DEFAULT.withMaxAttempts(10))
                .retryListener((method, retry) -> retries.incrementAndGet())
                .build()) {
      CompletableFuture<FlushResponse> second;
      try {
        t.createCollection("", "bp");
        t.write("", "bp", doc("a", "a", "x", 1));
        t.flushes().flush(FlushRequest.newBuilder().build()); // takes the only permit
        t.write("", "bp", doc("b", "b", "x", 2));
        second = CompletableFuture.supplyAsync(() -> client.flush("main", false));
        // refused with RESOURCE_EXHAUSTED + pushback at least once, retried by the channel
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> retries.get() >= 1);
        assertThat(second).isNotDone();
      } finally {
        release.countDown();
      }
      FlushResponse r = second.get(30, TimeUnit.SECONDS);
      assertThat(r.getTicket().getLsn()).isGreaterThanOrEqualTo(3); // collection, a, b
      assertThat(client.awaitFlushBlocking(r.getTicket(), Duration.ofSeconds(30)).getCoveredLsn())
          .isGreaterThanOrEqualTo(3);
    }
  }

  private final AtomicInteger retries = new AtomicInteger();

  /**
   * A server with one flush permit and a 200 ms write-stall timeout whose flushes wait in their
   * stream phase until {@code release} opens.
   */
  private TestServer startHoldingFlushes(CountDownLatch release) throws Exception {
    FlushHooks hold =
        (fork, seq, attempt) -> {
          if (!release.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("test did not release the flush");
          }
        };
    StrataServer.EngineOpener opener =
        (d, options) -> StrataEngine.open(d, LocalVfs.INSTANCE, options.toBuilder().hooks(hold).build());
    return TestServer.start(dir, Map.of("max_pending_flushes", "1", "write_stall_timeout", "200ms"), opener);
  }
}
