package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.BatchGetResponse;
import dev.strata.api.v1.ChangeKind;
import dev.strata.api.v1.Collection;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.CreateOrGetCollectionResponse;
import dev.strata.api.v1.DeleteTagRequest;
import dev.strata.api.v1.DiffEntry;
import dev.strata.api.v1.DiffSnapshotsRequest;
import dev.strata.api.v1.DiffSnapshotsResponse;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.DropForkResponse;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.ForkState;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetForkRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.ListCollectionsResponse;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.ListSnapshotsResponse;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.RangeBound;
import dev.strata.api.v1.RangeFilter;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.SortField;
import dev.strata.api.v1.SortOrder;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.StatsResponse;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WatchSnapshotsResponse;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Every service over real gRPC on a loopback port, the way a client uses them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerHappyPathTest {
  TestServer t;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t = TestServer.start(dir, Map.of());
  }

  @AfterAll
  void stop() throws Exception {
    t.close();
  }

  @Test
  void collectionsWritesReadsAndScans() {
    CreateOrGetCollectionResponse created =
        t.collections()
            .createOrGetCollection(
                CreateOrGetCollectionRequest.newBuilder().setName("scan").addAllFields(TestServer.schema()).build());
    assertThat(created.getCreated()).isTrue();
    assertThat(created.getLsn()).isPositive();
    assertThat(created.getForkId()).startsWith("main-");
    assertThat(created.getCollection().getFieldsList())
        .extracting(f -> f.getName() + ":" + f.getKind() + ":" + f.getAnalyzer())
        .as("in creation order (Collection.fields)")
        .containsExactly(
            "body:FIELD_KIND_TEXT:standard", "tag:FIELD_KIND_KEYWORD:", "n:FIELD_KIND_LONG:", "price:FIELD_KIND_DOUBLE:");
    // Idempotent, whatever the field order and the spelling of the default analyzer.
    List<dev.strata.api.v1.FieldSchema> reordered = new ArrayList<>(TestServer.schema());
    java.util.Collections.reverse(reordered);
    reordered.set(3, reordered.get(3).toBuilder().setAnalyzer("standard").build());
    CreateOrGetCollectionResponse again =
        t.collections()
            .createOrGetCollection(
                CreateOrGetCollectionRequest.newBuilder().setName("scan").addAllFields(reordered).build());
    assertThat(again.getCreated()).isFalse();
    assertThat(again.getLsn()).isZero();

    for (int batch = 0; batch < 3; batch++) {
      WriteRequest.Builder w = WriteRequest.newBuilder().setCollection("scan");
      for (int i = 0; i < 400; i++) {
        int n = batch * 400 + i;
        w.addMutations(TestServer.put(doc(String.format("d%05d", n), "body " + n, n % 2 == 0 ? "even" : "odd", n)));
      }
      assertThat(t.documents().write(w.build()).getLsn()).isPositive();
    }
    Document d7 = t.documents().get(GetRequest.newBuilder().setCollection("scan").setId("d00007").build()).getDocument();
    assertThat(d7.getFieldsMap().get("tag").getStringValue()).isEqualTo("odd");
    assertThat(d7.getFieldsMap().get("n").getInt64Value()).isEqualTo(7);

    BatchGetResponse bg =
        t.documents()
            .batchGet(
                BatchGetRequest.newBuilder().setCollection("scan").addIds("d00001").addIds("nope").addIds("d00001").build());
    assertThat(bg.getResultsList()).extracting(r -> r.getId() + ":" + r.getFound())
        .containsExactly("d00001:true", "nope:false", "d00001:true");

    List<ScanResponse> messages = new ArrayList<>();
    t.documents().scan(ScanRequest.newBuilder().setCollection("scan").build()).forEachRemaining(messages::add);
    List<String> ids = messages.stream().flatMap(m -> m.getDocumentsList().stream()).map(Document::getId).toList();
    assertThat(ids).hasSize(1200).isSorted();
    assertThat(messages).hasSizeGreaterThanOrEqualTo(3);

    assertThat(scanIds(ScanRequest.newBuilder().setCollection("scan").setStartAfterId("d00010").setLimit(3)))
        .containsExactly("d00011", "d00012", "d00013");
    assertThat(scanIds(ScanRequest.newBuilder().setCollection("scan").setStartAtId("d00010").setEndBeforeId("d00012")))
        .containsExactly("d00010", "d00011");
    assertThat(scanIds(ScanRequest.newBuilder().setCollection("scan").setIdPrefix("d0110"))).hasSize(10);

    assertThat(t.collections().getCollection(GetCollectionRequest.newBuilder().setName("scan").build()).getCollection().getName())
        .isEqualTo("scan");
    ListCollectionsResponse page1 = t.collections().listCollections(ListCollectionsRequest.newBuilder().setPageSize(1).build());
    assertThat(page1.getCollectionsCount()).isEqualTo(1);
    List<String> names = new ArrayList<>(page1.getCollectionsList().stream().map(Collection::getName).toList());
    String token = page1.getNextPageToken();
    while (!token.isEmpty()) {
      ListCollectionsResponse p =
          t.collections().listCollections(ListCollectionsRequest.newBuilder().setPageSize(1).setPageToken(token).build());
      p.getCollectionsList().forEach(c -> names.add(c.getName()));
      token = p.getNextPageToken();
    }
    assertThat(names).contains("scan").isSorted().doesNotHaveDuplicates();
  }

  private List<String> scanIds(ScanRequest.Builder req) {
    List<String> out = new ArrayList<>();
    t.documents().scan(req.build()).forEachRemaining(m -> m.getDocumentsList().forEach(d -> out.add(d.getId())));
    return out;
  }

  @Test
  void flushAwaitSearchAndSnapshots() {
    t.createCollection("", "articles");
    t.write(
        "",
        "articles",
        doc("a1", "the quick brown fox", "animal", 3).toBuilder()
            .putFields("price", Value.newBuilder().setInt64Value(12).build())
            .build(),
        doc("a2", "a lazy dog sleeps", "animal", 5),
        doc("a3", "the fox and the hound", "animal", 8),
        doc("a4", "fox news tonight", "media", 9),
        doc("a5", "foxes everywhere", "animal", 20));
    FlushResponse flushed = t.flushes().flush(FlushRequest.newBuilder().build());
    FlushTicket ticket = flushed.getTicket();
    assertThat(ticket.getForkName()).isEqualTo("main");
    Snapshot snap = t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot();
    assertThat(snap.getCoveredLsn()).isGreaterThanOrEqualTo(ticket.getLsn());
    assertThat(snap.getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_FLUSH);
    assertThat(snap.getSegmentCount()).isPositive();

    SearchResponse found =
        t.documents()
            .search(
                SearchRequest.newBuilder()
                    .setCollection("articles")
                    .setQuery("fox")
                    .addTermFilters(TermFilter.newBuilder().setField("tag").addValues("animal"))
                    .addRangeFilters(
                        RangeFilter.newBuilder()
                            .setField("n")
                            .setLower(RangeBound.newBuilder().setLongValue(2))
                            .setUpper(RangeBound.newBuilder().setLongValue(10)))
                    .setSort(SortField.newBuilder().setField("n").setOrder(SortOrder.SORT_ORDER_DESCENDING))
                    .build());
    assertThat(found.getHitsList()).extracting(h -> h.getId()).containsExactly("a3", "a1");
    assertThat(found.getTotalHits()).isEqualTo(2);
    assertThat(found.getSnapshotId()).isEqualTo(snap.getId());
    // An int64 written to a DOUBLE field is stored as a double.
    assertThat(found.getHits(1).getDocument().getFieldsMap().get("price").getDoubleValue()).isEqualTo(12.0);

    // WAIT_FOR_FLUSHED makes a fresh write searchable at once.
    t.write("", "articles", doc("a6", "fox in the snow", "animal", 4));
    SearchResponse fresh =
        t.documents()
            .search(
                SearchRequest.newBuilder()
                    .setCollection("articles")
                    .setQuery("snow")
                    .setWaitFor(WaitFor.WAIT_FOR_FLUSHED)
                    .build());
    assertThat(fresh.getHitsList()).extracting(h -> h.getId()).containsExactly("a6");

    // Reads at the older snapshot do not see a6.
    Snapshot head = t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(fresh.getSnapshotId()).build()).getSnapshot();
    assertThat(head.getCollectionsList()).filteredOn(c -> c.getName().equals("articles"))
        .extracting(Collection::getDocCount).containsExactly(6L);
    assertThat(
            t.documents()
                .batchGet(
                    BatchGetRequest.newBuilder().setCollection("articles").setSnapshotId(snap.getId()).addIds("a6").addIds("a1").build())
                .getResultsList())
        .extracting(r -> r.getFound())
        .containsExactly(false, true);
    List<String> atSnap = new ArrayList<>();
    t.documents()
        .scan(ScanRequest.newBuilder().setCollection("articles").setSnapshotId(snap.getId()).build())
        .forEachRemaining(m -> m.getDocumentsList().forEach(d -> atSnap.add(d.getId())));
    assertThat(atSnap).containsExactly("a1", "a2", "a3", "a4", "a5");
    assertThat(
            t.documents()
                .get(GetRequest.newBuilder().setCollection("articles").setId("a1").setSnapshotId(snap.getId()).build())
                .getDocument()
                .getId())
        .isEqualTo("a1");

    ListSnapshotsResponse list = t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().build());
    assertThat(list.getSnapshotsList()).extracting(Snapshot::getSeq).isSortedAccordingTo((a, b) -> Long.compare(b, a));
    assertThat(list.getSnapshotsList()).extracting(Snapshot::getId).contains(snap.getId(), fresh.getSnapshotId());

    // Flush{wait} with nothing new returns the head at once.
    FlushResponse again = t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
    assertThat(again.getSnapshot().getCoveredLsn()).isGreaterThanOrEqualTo(again.getTicket().getLsn());
  }

  @Test
  void tagsForksDiffsAndWatches() throws Exception {
    t.createCollection("", "items");
    t.write("", "items", doc("i1", "one", "x", 1), doc("i2", "two", "x", 2), doc("i3", "three", "x", 3));
    Snapshot base =
        t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();

    Snapshot tagged =
        t.snapshots().tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(base.getId()).setTag("v1.0").build()).getSnapshot();
    assertThat(tagged.getTagsList()).contains("v1.0");
    // Idempotent for the same snapshot.
    t.snapshots().tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(base.getId()).setTag("v1.0").build());
    assertThat(t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setTag("v1.0").build()).getSnapshot().getId())
        .isEqualTo(base.getId());
    assertThat(t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().setTaggedOnly(true).build()).getSnapshotsList())
        .extracting(Snapshot::getId)
        .contains(base.getId());

    Fork fromSnap =
        t.forks().createFork(CreateForkRequest.newBuilder().setName("from-snap").setFromSnapshotId(base.getId()).build()).getFork();
    assertThat(fromSnap.getState()).isEqualTo(ForkState.FORK_STATE_ACTIVE);
    assertThat(fromSnap.getBaseSnapshotId()).isEqualTo(base.getId());
    assertThat(fromSnap.getBaseForkName()).isEqualTo("main");

    // flush_first: a write still in main's L0 makes it into the new fork.
    t.write("", "items", doc("i4", "four", "x", 4));
    Fork fromHead =
        t.forks()
            .createFork(CreateForkRequest.newBuilder().setName("from-head").setFromFork("main").setFlushFirst(true).build())
            .getFork();
    assertThat(
            t.documents()
                .get(GetRequest.newBuilder().setFork("from-head").setCollection("items").setId("i4").build())
                .getDocument()
                .getId())
        .isEqualTo("i4");
    Snapshot forkFirst =
        t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(fromHead.getHeadSnapshotId()).build()).getSnapshot();
    assertThat(forkFirst.getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_FORK);

    // Watch the fork, then change it: delete i1, change i2, add i9.
    BlockingQueue<Snapshot> seen = new LinkedBlockingQueue<>();
    AtomicReference<ClientCallStreamObserver<?>> watchCall = new AtomicReference<>();
    CompletableFuture<Void> watchDone = new CompletableFuture<>();
    FlushServiceGrpc.newStub(t.channel)
        .watchSnapshots(
            WatchSnapshotsRequest.newBuilder().setFork("from-snap").build(),
            new ClientResponseObserver<WatchSnapshotsRequest, WatchSnapshotsResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<WatchSnapshotsRequest> requestStream) {
                watchCall.set(requestStream);
              }

              @Override
              public void onNext(WatchSnapshotsResponse value) {
                seen.add(value.getSnapshot());
              }

              @Override
              public void onError(Throwable e) {
                watchDone.completeExceptionally(e);
              }

              @Override
              public void onCompleted() {
                watchDone.complete(null);
              }
            });
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 1);
    WriteResponse w =
        t.documents()
            .write(
                WriteRequest.newBuilder()
                    .setFork("from-snap")
                    .setCollection("items")
                    .addMutations(Mutation.newBuilder().setDeleteId("i1"))
                    .addMutations(TestServer.put(doc("i2", "TWO", "y", 22)))
                    .addMutations(TestServer.put(doc("i9", "nine", "x", 9)))
                    .build());
    assertThat(w.getForkId()).isEqualTo(fromSnap.getId());
    Snapshot forkHead =
        t.flushes().flush(FlushRequest.newBuilder().setFork("from-snap").setWait(true).build()).getSnapshot();
    Snapshot watched = seen.poll(30, TimeUnit.SECONDS);
    assertThat(watched).isNotNull();
    assertThat(watched.getId()).isEqualTo(forkHead.getId());
    watchCall.get().cancel("test done", null);
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 0);

    // Replay with after_seq = -1 returns every retained snapshot of the fork, in order.
    io.grpc.Context.CancellableContext replayCtx = io.grpc.Context.current().withCancellation();
    try {
      replayCtx.run(
          () -> {
            Iterator<WatchSnapshotsResponse> replay =
                FlushServiceGrpc.newBlockingStub(t.channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .watchSnapshots(WatchSnapshotsRequest.newBuilder().setFork("from-snap").setAfterSeq(-1).build());
            assertThat(replay.next().getSnapshot().getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_FORK);
            assertThat(replay.next().getSnapshot().getId()).isEqualTo(forkHead.getId());
          });
    } finally {
      replayCtx.cancel(null);
    }
    await().atMost(30, TimeUnit.SECONDS).until(() -> t.server.openWatches() == 0);

    // main is unchanged at its snapshot; the fork has changed.
    assertThat(t.documents().get(GetRequest.newBuilder().setCollection("items").setId("i1").setSnapshotId(base.getId()).build())
            .getDocument().getId()).isEqualTo("i1");

    List<DiffEntry> diff = new ArrayList<>();
    Iterator<DiffSnapshotsResponse> it =
        t.snapshots()
            .diffSnapshots(
                DiffSnapshotsRequest.newBuilder().setFromSnapshotId(base.getId()).setToSnapshotId(forkHead.getId()).build());
    it.forEachRemaining(r -> diff.addAll(r.getEntriesList()));
    assertThat(diff)
        .extracting(e -> e.getCollection() + "/" + e.getId() + ":" + e.getChange())
        .containsExactly(
            "items/i1:" + ChangeKind.CHANGE_KIND_DELETED,
            "items/i2:" + ChangeKind.CHANGE_KIND_CHANGED,
            "items/i9:" + ChangeKind.CHANGE_KIND_ADDED);

    assertThat(t.forks().listForks(ListForksRequest.newBuilder().build()).getForksList())
        .extracting(Fork::getName)
        .contains("from-head", "from-snap", "main")
        .isSorted();

    t.snapshots().deleteTag(DeleteTagRequest.newBuilder().setTag("v1.0").build());
    assertThat(t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(base.getId()).build()).getSnapshot().getTagsList())
        .doesNotContain("v1.0");

    DropForkResponse dropped =
        t.forks()
            .dropFork(
                DropForkRequest.newBuilder().setName("from-snap").setDrainTimeout(Duration.newBuilder().setSeconds(10)).build());
    assertThat(dropped.getForkId()).isEqualTo(fromSnap.getId());
    assertThat(dropped.getDeletedSnapshots()).isEqualTo(2);
    assertThat(TestServer.code(TestServer.failure(() -> t.forks().getFork(GetForkRequest.newBuilder().setName("from-snap").build()))))
        .isEqualTo(io.grpc.Status.Code.NOT_FOUND);
    // main's data is untouched by the drop.
    assertThat(t.documents().get(GetRequest.newBuilder().setCollection("items").setId("i1").build()).getDocument().getId())
        .isEqualTo("i1");
    t.forks().dropFork(DropForkRequest.newBuilder().setName("from-head").build());
  }

  @Test
  void statsVerifyHealthAndReflection() throws Exception {
    t.createCollection("", "stats");
    t.write("", "stats", doc("s1", "one", "x", 1));
    t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
    StatsResponse stats = t.admin().stats(StatsRequest.newBuilder().addForks("main").build());
    assertThat(stats.getForksList()).hasSize(1);
    var main = stats.getForks(0);
    assertThat(main.getForkName()).isEqualTo("main");
    assertThat(main.getLastLsn()).isPositive();
    assertThat(main.getCoveredLsn()).isEqualTo(main.getLastLsn());
    assertThat(main.getSegmentCount()).isPositive();
    assertThat(main.getDocCount()).isPositive();
    assertThat(main.getFlushesTotal()).isPositive();
    assertThat(main.getMaxPendingFlushes()).isEqualTo(2);
    assertThat(stats.getSegmentCount()).isPositive();

    VerifyResponse verified = t.admin().verify(VerifyRequest.newBuilder().build());
    assertThat(verified.getProblemsList()).isEmpty();
    assertThat(verified.getForksChecked()).isPositive();
    assertThat(verified.getSegmentsChecked()).isPositive();
    VerifyResponse quick = t.admin().verify(VerifyRequest.newBuilder().setSkipSegmentChecksums(true).addForks("main").build());
    assertThat(quick.getProblemsList()).isEmpty();
    assertThat(quick.getBytesChecked()).isZero();

    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(t.channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    assertThat(health.check(HealthCheckRequest.newBuilder().build()).getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    assertThat(health.check(HealthCheckRequest.newBuilder().setService("strata.v1.DocumentService").build()).getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    CompletableFuture<List<String>> services = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(t.channel)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse r) {
                    services.complete(r.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList());
                  }

                  @Override
                  public void onError(Throwable e) {
                    services.completeExceptionally(e);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());
    assertThat(services.get(30, TimeUnit.SECONDS))
        .contains(
            "strata.v1.CollectionService",
            "strata.v1.DocumentService",
            "strata.v1.FlushService",
            "strata.v1.SnapshotService",
            "strata.v1.ForkService",
            "strata.v1.AdminService",
            "grpc.health.v1.Health");
    requests.onCompleted();
  }

  @Test
  void collectionAtSnapshotAndFieldKinds() {
    t.collections()
        .createOrGetCollection(
            CreateOrGetCollectionRequest.newBuilder()
                .setName("kinds")
                .addFields(dev.strata.api.v1.FieldSchema.newBuilder().setName("t").setKind(FieldKind.FIELD_KIND_TEXT).setAnalyzer("english"))
                .addFields(dev.strata.api.v1.FieldSchema.newBuilder().setName("s").setKind(FieldKind.FIELD_KIND_STORED))
                .build());
    t.documents()
        .write(
            WriteRequest.newBuilder()
                .setCollection("kinds")
                .addMutations(
                    TestServer.put(
                        Document.newBuilder()
                            .setId("k1")
                            .putFields("t", Value.newBuilder().setStringValue("running dogs").build())
                            .putFields("s", Value.newBuilder().setBoolValue(true).build())
                            .putFields("raw", Value.newBuilder().setBytesValue(com.google.protobuf.ByteString.copyFromUtf8("b")).build())
                            .putFields(
                                "list",
                                Value.newBuilder()
                                    .setStringListValue(dev.strata.api.v1.StringList.newBuilder().addValues("a").addValues("b"))
                                    .build())
                            .build()))
                .build());
    Snapshot s = t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();
    Collection c =
        t.collections()
            .getCollection(GetCollectionRequest.newBuilder().setName("kinds").setSnapshotId(s.getId()).build())
            .getCollection();
    assertThat(c.getDocCount()).isEqualTo(1);
    Document k1 = t.documents().get(GetRequest.newBuilder().setCollection("kinds").setId("k1").build()).getDocument();
    assertThat(k1.getFieldsMap().get("s").getBoolValue()).isTrue();
    assertThat(k1.getFieldsMap().get("raw").getBytesValue().toStringUtf8()).isEqualTo("b");
    assertThat(k1.getFieldsMap().get("list").getStringListValue().getValuesList()).containsExactly("a", "b");
    // The english analyzer stems: "run" finds "running".
    assertThat(
            t.documents().search(SearchRequest.newBuilder().setCollection("kinds").setQuery("t:run").build()).getHitsList())
        .extracting(h -> h.getId())
        .containsExactly("k1");
  }
}
