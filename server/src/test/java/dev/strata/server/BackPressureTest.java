package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static dev.strata.server.TestServer.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.StatsRequest;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.vfs.LocalVfs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
    FlushHooks hold =
        (fork, seq, attempt) -> {
          if (!release.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("test did not release the flush");
          }
        };
    StrataServer.EngineOpener opener =
        (d, options) -> StrataEngine.open(d, LocalVfs.INSTANCE, options.toBuilder().hooks(hold).build());
    try (TestServer t =
        TestServer.start(dir, Map.of("max_pending_flushes", "1", "write_stall_timeout", "200ms"), opener)) {
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
        assertThat(t.admin().stats(StatsRequest.newBuilder().addForks("main").build()).getForks(0).getStalledRequestsTotal())
            .isEqualTo(1);
      } finally {
        release.countDown();
      }
      // Once the flush goes through, the same request succeeds.
      assertThat(t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot().getCoveredLsn())
          .isPositive();
    }
  }
}
