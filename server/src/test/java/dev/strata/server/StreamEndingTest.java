package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WriteRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Server streams end their work when the client leaves, the deadline passes, or the fork goes. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StreamEndingTest {
  TestServer t;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t = TestServer.start(dir, Map.of());
    t.createCollection("", "big");
    String pad = "p".repeat(2000);
    for (int batch = 0; batch < 6; batch++) {
      WriteRequest.Builder w = WriteRequest.newBuilder().setCollection("big");
      for (int i = 0; i < 500; i++) {
        int n = batch * 500 + i;
        w.addMutations(
            TestServer.put(
                doc(String.format("b%05d", n), "big", "x", n).toBuilder()
                    .putFields("pad", Value.newBuilder().setStringValue(pad).build())
                    .build()));
      }
      t.documents().write(w.build());
    }
  }

  @AfterAll
  void stop() throws Exception {
    t.close();
  }

  /** A client that reads one message and then cancels: the server's scan loop stops. */
  @Test
  void cancelledScanStops() throws Exception {
    AtomicReference<ClientCallStreamObserver<ScanRequest>> call = new AtomicReference<>();
    AtomicInteger received = new AtomicInteger();
    CountDownLatch first = new CountDownLatch(1);
    CompletableFuture<Status> end = new CompletableFuture<>();
    DocumentServiceGrpc.newStub(t.channel)
        .scan(
            ScanRequest.newBuilder().setCollection("big").build(),
            new ClientResponseObserver<ScanRequest, ScanResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<ScanRequest> requestStream) {
                call.set(requestStream);
                requestStream.disableAutoRequestWithInitial(1); // read one message, then nothing
              }

              @Override
              public void onNext(ScanResponse value) {
                received.incrementAndGet();
                first.countDown();
              }

              @Override
              public void onError(Throwable e) {
                end.complete(Status.fromThrowable(e));
              }

              @Override
              public void onCompleted() {
                end.complete(Status.OK);
              }
            });
    assertThat(first.await(30, TimeUnit.SECONDS)).isTrue();
    call.get().cancel("enough", null);
    assertThat(end.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.CANCELLED);
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.inFlightCalls() == 0);
    assertThat(received.get()).isEqualTo(1);
  }

  @Test
  void watchEndsAtItsDeadline() {
    var it =
        FlushServiceGrpc.newBlockingStub(t.channel)
            .withDeadlineAfter(500, TimeUnit.MILLISECONDS)
            .watchSnapshots(WatchSnapshotsRequest.newBuilder().build());
    StatusRuntimeException e = TestServer.failure(it::hasNext);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 0);
  }

  @Test
  void watchOfADroppedForkEndsWithForkDropped() throws Exception {
    t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
    t.forks().createFork(CreateForkRequest.newBuilder().setName("doomed").setFromFork("main").build());
    var it =
        FlushServiceGrpc.newBlockingStub(t.channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .watchSnapshots(WatchSnapshotsRequest.newBuilder().setFork("doomed").build());
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 1);
    t.forks().dropFork(DropForkRequest.newBuilder().setName("doomed").build());
    StatusRuntimeException e = TestServer.failure(it::hasNext);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(TestServer.errorInfo(e).getReason()).isEqualTo("FORK_DROPPED");
    // The watch sends its status and then unregisters: the client may see the end first.
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 0);
  }

  @Test
  void shutdownEndsWatchesWithUnavailable(@TempDir Path other) throws Exception {
    TestServer s = TestServer.start(other, Map.of());
    try {
      var it =
          FlushServiceGrpc.newBlockingStub(s.channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .watchSnapshots(WatchSnapshotsRequest.newBuilder().build());
      await().atMost(30, TimeUnit.SECONDS).until(() -> s.server.openWatches() == 1);
      CompletableFuture<Void> down = CompletableFuture.runAsync(() -> s.server.shutdown(java.time.Duration.ofSeconds(20)));
      StatusRuntimeException e = TestServer.failure(it::hasNext);
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      down.get(60, TimeUnit.SECONDS);
    } finally {
      s.close();
    }
  }
}
