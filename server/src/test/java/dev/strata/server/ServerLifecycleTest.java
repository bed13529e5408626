package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.WriteResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.vfs.LocalVfs;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start, recovery, graceful shutdown and restart, and the bind rule. */
class ServerLifecycleTest {
  @TempDir Path dir;

  @Test
  void gracefulShutdownPublishesAcknowledgedWritesAndReportsNotServing() throws Exception {
    TestServer t = TestServer.start(dir, Map.of());
    List<String> acknowledged = new ArrayList<>();
    long lastLsn = 0;
    t.createCollection("", "keep");
    for (int i = 0; i < 20; i++) {
      WriteResponse w = t.write("", "keep", doc("k" + i, "doc " + i, "x", i));
      acknowledged.add("k" + i);
      lastLsn = w.getLsn();
    }
    // flush.interval is off: these writes are only in the WAL and L0 when the shutdown starts.
    BlockingQueue<ServingStatus> statuses = new LinkedBlockingQueue<>();
    HealthGrpc.newStub(t.channel)
        .watch(
            HealthCheckRequest.newBuilder().build(),
            new StreamObserver<>() {
              @Override
              public void onNext(HealthCheckResponse r) {
                statuses.add(r.getStatus());
              }

              @Override
              public void onError(Throwable e) {}

              @Override
              public void onCompleted() {}
            });
    assertThat(statuses.poll(30, TimeUnit.SECONDS)).isEqualTo(ServingStatus.SERVING);
    t.server.shutdown(Duration.ofSeconds(20));
    assertThat(statuses.poll(30, TimeUnit.SECONDS)).isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(t.server.awaitTermination(Duration.ofSeconds(1))).isTrue();
    t.close();

    try (TestServer again = TestServer.start(dir, Map.of())) {
      Snapshot head = again.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().setPageSize(1).build()).getSnapshots(0);
      assertThat(head.getCoveredLsn()).isGreaterThanOrEqualTo(lastLsn);
      for (String id : acknowledged) {
        assertThat(
                again.documents()
                    .get(GetRequest.newBuilder().setCollection("keep").setId(id).setSnapshotId(head.getId()).build())
                    .getDocument()
                    .getId())
            .isEqualTo(id);
      }
    }
  }

  @Test
  void notServingWhileRecovering() throws Exception {
    CountDownLatch recover = new CountDownLatch(1);
    StrataServer.EngineOpener slow =
        (d, options) -> {
          try {
            recover.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return StrataEngine.open(d, LocalVfs.INSTANCE, options);
        };
    Map<String, String> settings = new HashMap<>(TestServer.testSettings(dir));
    StrataServer server = new StrataServer(ServerConfig.load(null, Map.of(), settings), slow);
    CompletableFuture<Void> started =
        CompletableFuture.runAsync(
            () -> {
              try {
                server.start();
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    ManagedChannel channel = null;
    try {
      int port = await().atMost(30, TimeUnit.SECONDS).ignoreExceptions().until(server::port, p -> p > 0);
      channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
      assertThat(health.check(HealthCheckRequest.newBuilder().build()).getStatus()).isEqualTo(ServingStatus.NOT_SERVING);
      ManagedChannel c = channel;
      assertThat(
              code(
                  failure(
                      () ->
                          dev.strata.api.v1.ForkServiceGrpc.newBlockingStub(c)
                              .withDeadlineAfter(10, TimeUnit.SECONDS)
                              .listForks(ListForksRequest.newBuilder().build()))))
          .isEqualTo(Status.Code.UNAVAILABLE);
      recover.countDown();
      started.get(60, TimeUnit.SECONDS);
      assertThat(HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.newBuilder().build()).getStatus())
          .isEqualTo(ServingStatus.SERVING);
    } finally {
      recover.countDown();
      if (channel != null) {
        channel.shutdownNow();
      }
      started.handle((v, e) -> null).get(60, TimeUnit.SECONDS);
      server.shutdown(Duration.ofSeconds(10));
    }
  }

  @Test
  void nonLoopbackBindNeedsTokens() throws Exception {
    Map<String, String> settings = new HashMap<>(TestServer.testSettings(dir));
    settings.put("listen", "0.0.0.0:0");
    StrataServer open = new StrataServer(ServerConfig.load(null, Map.of(), settings));
    assertThatThrownBy(open::start)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refusing to listen on 0.0.0.0")
        .hasMessageContaining("auth.token");
    open.shutdown(Duration.ofSeconds(1));

    settings.put("auth.token.ops", "admin:s3cret");
    StrataServer withToken = new StrataServer(ServerConfig.load(null, Map.of(), settings));
    try {
      withToken.start();
      assertThat(withToken.port()).isPositive();
    } finally {
      withToken.shutdown(Duration.ofSeconds(10));
    }
  }

  @Test
  void recoveryFailureIsReportedAndReleasesThePort() throws Exception {
    StrataServer.EngineOpener broken =
        (d, options) -> {
          throw new java.io.IOException("disk on fire");
        };
    StrataServer s = new StrataServer(ServerConfig.load(null, Map.of(), TestServer.testSettings(dir)), broken);
    assertThatThrownBy(s::start).hasMessageContaining("disk on fire");
    assertThat(s.awaitTermination(Duration.ofSeconds(5))).isTrue();
  }
}
