package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.ChangeOp;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentChange;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.api.v1.WriteRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code SnapshotService.WatchChanges} over real gRPC on loopback: applying the feed to the state
 * at the position reproduces Scan at the head (through a compaction, and after a consumer stops at
 * a snapshot boundary and resumes); follow streams get new snapshots; flow control holds a slow
 * client's stream open without sending ahead; cancellation and deadlines end the server's pump;
 * an expired position names the oldest retained snapshot; bad requests get precise statuses.
 */
class WatchChangesRpcTest {
  private static final String C = "docs";

  @TempDir Path dir;
  TestServer t;

  @BeforeEach
  void start() throws Exception {
    t = TestServer.start(dir, Map.of());
    t.createCollection("", C);
  }

  @AfterEach
  void stop() throws Exception {
    t.close();
  }

  private String flush() {
    var ticket = t.flushes().flush(FlushRequest.newBuilder().build()).getTicket();
    return t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot().getId();
  }

  private void delete(String id) {
    t.documents().write(WriteRequest.newBuilder().setCollection(C).addMutations(Mutation.newBuilder().setDeleteId(id)).build());
  }

  private Map<String, Document> scan(String snapshotId) {
    Map<String, Document> out = new TreeMap<>();
    Iterator<ScanResponse> it =
        t.documents().scan(ScanRequest.newBuilder().setCollection(C).setSnapshotId(snapshotId).build());
    it.forEachRemaining(r -> r.getDocumentsList().forEach(d -> out.put(d.getId(), d)));
    return out;
  }

  @Test
  void theFeedAppliedToThePositionsStateEqualsScanAtTheHeadAndResumesAtASnapshotBoundary() {
    for (int i = 0; i < 20; i++) {
      t.write("main", C, doc("d" + i, "v0 " + i, "x", i));
    }
    String position = flush();
    Map<String, Document> atPosition = scan(position);
    for (int round = 1; round <= 4; round++) {
      for (int i = round; i < 20; i += 3) {
        t.write("main", C, doc("d" + i, "v" + round + " " + i, "x", i));
      }
      delete("d" + (round * 4));
      t.write("main", C, doc("n" + round, "new " + round, "y", round));
      flush();
    }
    t.admin().compact(CompactRequest.newBuilder().setForceFullMerge(true).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> latest().getKind() == dev.strata.api.v1.SnapshotKind.SNAPSHOT_KIND_COMPACTION);
    t.write("main", C, doc("after", "after the compaction", "z", 1));
    String head = flush();

    // One consumer reads it all.
    Map<String, Document> whole = new TreeMap<>(atPosition);
    Iterator<WatchChangesResponse> it =
        t.snapshots().watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(position).build());
    String last = consume(it, whole, Integer.MAX_VALUE);
    assertThat(last).isEqualTo(head);
    assertThat(whole).isEqualTo(scan(head));

    // Another stops after two snapshots (cancelling its call) and resumes from the last complete one.
    Map<String, Document> resumed = new TreeMap<>(atPosition);
    String stop;
    try (io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation()) {
      stop =
          call.call(
              () ->
                  consume(
                      t.snapshots().watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(position).build()),
                      resumed,
                      2));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    assertThat(stop).isNotEqualTo(position).isNotEqualTo(head);
    String end =
        consume(t.snapshots().watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(stop).build()), resumed, Integer.MAX_VALUE);
    assertThat(end).isEqualTo(head);
    assertThat(resumed).isEqualTo(scan(head));
    await().atMost(Duration.ofSeconds(10)).until(() -> t.server.openChangeFeeds() == 0);
  }

  private Snapshot latest() {
    return t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().setPageSize(1).build()).getSnapshots(0);
  }

  /** Applies messages to {@code state} until {@code snapshots} snapshots are complete or the stream ends. */
  private static String consume(Iterator<WatchChangesResponse> it, Map<String, Document> state, int snapshots) {
    String last = "";
    int complete = 0;
    while (complete < snapshots && it.hasNext()) {
      WatchChangesResponse r = it.next();
      for (DocumentChange c : r.getChangesList()) {
        assertThat(c.getSnapshotId()).isEqualTo(r.getSnapshotId());
        if (c.getOp() == ChangeOp.CHANGE_OP_PUT) {
          assertThat(c.getDocument().getId()).isEqualTo(c.getId());
          state.put(c.getId(), c.getDocument());
        } else {
          assertThat(c.getOp()).isEqualTo(ChangeOp.CHANGE_OP_DELETE);
          state.remove(c.getId());
        }
      }
      if (r.getSnapshotComplete()) {
        last = r.getSnapshotId();
        complete++;
      }
    }
    return last;
  }

  @Test
  void aFollowerGetsNewSnapshotsAndItsCancellationStopsTheServersPump() throws Exception {
    t.write("main", C, doc("a", "a", "x", 1));
    String position = flush();
    List<WatchChangesResponse> got = new CopyOnWriteArrayList<>();
    AtomicReference<ClientCallStreamObserver<WatchChangesRequest>> call = new AtomicReference<>();
    CompletableFuture<Status> end = new CompletableFuture<>();
    SnapshotServiceGrpc.newStub(t.channel)
        .watchChanges(
            WatchChangesRequest.newBuilder().setAfterSnapshotId(position).setFollow(true).build(),
            observer(call, got, end, Integer.MAX_VALUE));
    await().until(() -> t.server.openChangeFeeds() == 1);
    t.write("main", C, doc("b", "b", "x", 2));
    String next = flush();
    await().atMost(Duration.ofSeconds(10)).until(() -> got.stream().anyMatch(r -> r.getSnapshotComplete() && r.getSnapshotId().equals(next)));
    assertThat(got.get(0).getChangesList()).singleElement().satisfies(c -> assertThat(c.getId()).isEqualTo("b"));
    assertThat(end).isNotDone();
    call.get().cancel("done", null);
    await().atMost(Duration.ofSeconds(10)).until(() -> t.server.openChangeFeeds() == 0);
  }

  @Test
  void aDeadlineEndsAFollowStream() {
    t.write("main", C, doc("a", "a", "x", 1));
    String position = flush();
    Iterator<WatchChangesResponse> it =
        SnapshotServiceGrpc.newBlockingStub(t.channel)
            .withDeadlineAfter(500, TimeUnit.MILLISECONDS)
            .watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(position).setFollow(true).build());
    StatusRuntimeException e = TestServer.failure(() -> {
      it.forEachRemaining(r -> {});
      return null;
    });
    assertThat(code(e)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    await().atMost(Duration.ofSeconds(10)).until(() -> t.server.openChangeFeeds() == 0);
  }

  @Test
  void droppingTheWatchedForkEndsAFollowStreamWithForkDropped() throws Exception {
    t.write("main", C, doc("a", "a", "x", 1));
    flush();
    var fork = t.forks().createFork(dev.strata.api.v1.CreateForkRequest.newBuilder().setName("gone").setFromFork("main").build()).getFork();
    List<WatchChangesResponse> got = new CopyOnWriteArrayList<>();
    AtomicReference<ClientCallStreamObserver<WatchChangesRequest>> call = new AtomicReference<>();
    CompletableFuture<Status> end = new CompletableFuture<>();
    SnapshotServiceGrpc.newStub(t.channel)
        .watchChanges(
            WatchChangesRequest.newBuilder().setFork("gone").setAfterSnapshotId(fork.getHeadSnapshotId()).setFollow(true).build(),
            observer(call, got, end, Integer.MAX_VALUE));
    await().until(() -> t.server.openChangeFeeds() == 1);
    t.forks().dropFork(dev.strata.api.v1.DropForkRequest.newBuilder().setName("gone").build());
    Status s = end.get(30, TimeUnit.SECONDS);
    assertThat(s.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(s.getDescription()).contains("was dropped");
    await().atMost(Duration.ofSeconds(10)).until(() -> t.server.openChangeFeeds() == 0);
  }

  @Test
  void aSlowClientHoldsTheStreamWithoutTheServerSendingAhead() throws Exception {
    t.write("main", C, doc("seed", "seed", "x", 0));
    String position = flush();
    String pad = "p".repeat(4000);
    for (int batch = 0; batch < 6; batch++) {
      WriteRequest.Builder w = WriteRequest.newBuilder().setCollection(C);
      for (int i = 0; i < 500; i++) {
        Document d = doc(String.format("b%05d", batch * 500 + i), "big", "x", i).toBuilder()
            .putFields("pad", Value.newBuilder().setStringValue(pad).build())
            .build();
        w.addMutations(TestServer.put(d));
      }
      t.documents().write(w.build());
    }
    flush();
    List<WatchChangesResponse> got = new CopyOnWriteArrayList<>();
    AtomicReference<ClientCallStreamObserver<WatchChangesRequest>> call = new AtomicReference<>();
    CompletableFuture<Status> end = new CompletableFuture<>();
    SnapshotServiceGrpc.newStub(t.channel)
        .watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(position).build(), observer(call, got, end, 1));
    await().until(() -> got.size() == 1);
    Thread.sleep(500);
    // 3,000 changes of about 4 KB: far more than the transport's window. The pump waits for it.
    assertThat(got).hasSize(1);
    assertThat(end).isNotDone();
    assertThat(t.server.openChangeFeeds()).isEqualTo(1);
    call.get().request(Integer.MAX_VALUE);
    assertThat(end.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
    assertThat(got.stream().mapToInt(WatchChangesResponse::getChangesCount).sum()).isEqualTo(3000);
    assertThat(got.get(got.size() - 1).getSnapshotComplete()).isTrue();
  }

  @Test
  void anExpiredPositionNamesTheOldestRetainedSnapshot(@TempDir Path other) throws Exception {
    try (TestServer r =
        TestServer.start(other, Map.of("retention.snapshots", "2", "retention.min_age", "0s", "retention.interval", "100ms"))) {
      r.createCollection("", C);
      r.write("main", C, doc("a", "a", "x", 1));
      var flush = (java.util.function.Supplier<String>) () -> r.flushes()
          .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(r.flushes().flush(FlushRequest.getDefaultInstance()).getTicket()).build())
          .getSnapshot()
          .getId();
      String first = flush.get();
      for (int i = 0; i < 4; i++) {
        r.write("main", C, doc("k" + i, "v", "x", i));
        flush.get();
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> r.snapshots().listSnapshots(ListSnapshotsRequest.getDefaultInstance()).getSnapshotsList().stream()
              .noneMatch(s -> s.getId().equals(first)));
      List<Snapshot> kept = r.snapshots().listSnapshots(ListSnapshotsRequest.getDefaultInstance()).getSnapshotsList();
      String oldest = kept.get(kept.size() - 1).getId();
      StatusRuntimeException e = TestServer.failure(() -> {
        r.snapshots().watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(first).build()).forEachRemaining(x -> {});
        return null;
      });
      assertThat(code(e)).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(errorInfo(e).getReason()).isEqualTo(ErrorReason.CHANGE_POSITION_EXPIRED.name());
      assertThat(errorInfo(e).getMetadataMap()).containsEntry("oldest_retained_snapshot_id", oldest);
      assertThat(e.getStatus().getDescription()).contains(oldest);
    }
  }

  @Test
  void badRequestsGetPreciseStatuses() {
    t.write("main", C, doc("a", "a", "x", 1));
    String position = flush();
    assertThat(watchFailure(WatchChangesRequest.newBuilder().setFork("nope").setAfterSnapshotId(position)))
        .isEqualTo(Status.Code.NOT_FOUND);
    StatusRuntimeException coll =
        TestServer.failure(() -> {
          t.snapshots()
              .watchChanges(WatchChangesRequest.newBuilder().setCollection("nope").setAfterSnapshotId(position).build())
              .forEachRemaining(x -> {});
          return null;
        });
    assertThat(errorInfo(coll).getReason()).isEqualTo(ErrorReason.COLLECTION_NOT_FOUND.name());
    assertThat(watchFailure(WatchChangesRequest.newBuilder())).as("a position is required").isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(watchFailure(WatchChangesRequest.newBuilder().setAfterSnapshotId("junk"))).isEqualTo(Status.Code.INVALID_ARGUMENT);
    String future = position.substring(0, position.lastIndexOf('-') + 1) + "000000000099";
    assertThat(watchFailure(WatchChangesRequest.newBuilder().setAfterSnapshotId(future)))
        .as("a snapshot not published yet")
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  private Status.Code watchFailure(WatchChangesRequest.Builder req) {
    return code(TestServer.failure(() -> {
      t.snapshots().watchChanges(req.build()).forEachRemaining(x -> {});
      return null;
    }));
  }

  /** An observer that reads {@code initial} messages, then only what the test requests. */
  private static ClientResponseObserver<WatchChangesRequest, WatchChangesResponse> observer(
      AtomicReference<ClientCallStreamObserver<WatchChangesRequest>> call,
      List<WatchChangesResponse> got,
      CompletableFuture<Status> end,
      int initial) {
    return new ClientResponseObserver<>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<WatchChangesRequest> requestStream) {
        call.set(requestStream);
        if (initial != Integer.MAX_VALUE) {
          requestStream.disableAutoRequestWithInitial(initial);
        }
      }

      @Override
      public void onNext(WatchChangesResponse value) {
        got.add(value);
      }

      @Override
      public void onError(Throwable t) {
        end.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        end.complete(Status.OK);
      }
    };
  }
}
