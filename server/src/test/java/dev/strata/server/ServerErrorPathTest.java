package dev.strata.server;

import static dev.strata.server.TestServer.badRequest;
import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.DeleteTagRequest;
import dev.strata.api.v1.DiffSnapshotsRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Every status-code path of docs/api.md §3 that a client can provoke, with its details. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerErrorPathTest {
  static final List<String> BAD_NAMES =
      List.of("../x", "", "a".repeat(64), "ünicode", "Upper", "a..b", "a/b", "-lead", " space");

  TestServer t;
  Snapshot first;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t =
        TestServer.start(
            dir,
            Map.of(
                "limits.max_document_bytes", "16KiB",
                "limits.max_message_bytes", "256KiB",
                "limits.max_mutations_per_write", "100"));
    t.createCollection("", "docs");
    t.write("", "docs", doc("d1", "one", "x", 1));
    first = t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();
  }

  @AfterAll
  void stop() throws Exception {
    t.close();
  }

  private static void assertInvalid(StatusRuntimeException e, String field) {
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(errorInfo(e).getReason()).isEqualTo("REQUEST_INVALID");
    assertThat(errorInfo(e).getDomain()).isEqualTo("strata.dev");
    BadRequest br = badRequest(e);
    assertThat(br).as("BadRequest detail of " + e).isNotNull();
    assertThat(br.getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField).contains(field);
  }

  private static void assertReason(StatusRuntimeException e, Status.Code code, String reason) {
    assertThat(code(e)).as(e.toString()).isEqualTo(code);
    assertThat(errorInfo(e)).as("ErrorInfo of " + e).isNotNull();
    assertThat(errorInfo(e).getReason()).isEqualTo(reason);
  }

  @Test
  void badNamesAreInvalidArgument() {
    for (String bad : BAD_NAMES) {
      assertInvalid(
          failure(() -> t.collections().createOrGetCollection(CreateOrGetCollectionRequest.newBuilder().setName(bad).build())),
          "name");
      assertInvalid(failure(() -> t.forks().createFork(CreateForkRequest.newBuilder().setName(bad).setFromFork("main").build())), "name");
      if (!bad.isEmpty()) {
        assertInvalid(failure(() -> t.write(bad, "docs", doc("z", "z", "z", 1))), "fork");
        assertInvalid(failure(() -> t.documents().get(GetRequest.newBuilder().setCollection(bad).setId("x").build())), "collection");
      }
    }
    assertInvalid(failure(() -> t.snapshots().tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(first.getId()).setTag("../t").build())), "tag");
    assertInvalid(failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("x").setSnapshotId("../../etc").build())), "snapshot_id");
    assertInvalid(failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("").build())), "id");
    assertInvalid(failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("x".repeat(513)).build())), "id");
  }

  @Test
  void unknownThingsAreNotFound() {
    assertReason(failure(() -> t.write("nope", "docs", doc("z", "z", "z", 1))), Status.Code.NOT_FOUND, "FORK_NOT_FOUND");
    assertReason(failure(() -> t.write("main", "nope", doc("z", "z", "z", 1))), Status.Code.NOT_FOUND, "COLLECTION_NOT_FOUND");
    assertReason(
        failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("missing").build())),
        Status.Code.NOT_FOUND,
        "DOCUMENT_NOT_FOUND");
    String missingSnapshot = first.getForkId() + "-000000999999";
    assertReason(
        failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("d1").setSnapshotId(missingSnapshot).build())),
        Status.Code.NOT_FOUND,
        "SNAPSHOT_NOT_FOUND");
    assertReason(
        failure(() -> t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId("gone-0123456789abcdef-000000000001").build())),
        Status.Code.NOT_FOUND,
        "SNAPSHOT_NOT_FOUND"); // no fork ever had that id: not "dropped" (ApiContractTest)
    assertReason(
        failure(() -> t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setTag("no-such-tag").build())),
        Status.Code.NOT_FOUND,
        "TAG_NOT_FOUND");
    assertReason(
        failure(() -> t.snapshots().deleteTag(DeleteTagRequest.newBuilder().setTag("no-such-tag").build())),
        Status.Code.NOT_FOUND,
        "TAG_NOT_FOUND");
    assertReason(
        failure(() -> t.documents().scan(ScanRequest.newBuilder().setCollection("nope").build()).hasNext()),
        Status.Code.NOT_FOUND,
        "COLLECTION_NOT_FOUND");
    assertReason(
        failure(() -> t.forks().dropFork(DropForkRequest.newBuilder().setName("nope").build())),
        Status.Code.NOT_FOUND,
        "FORK_NOT_FOUND");
    assertReason(
        failure(() -> t.admin().stats(StatsRequest.newBuilder().addForks("nope").build())),
        Status.Code.NOT_FOUND,
        "FORK_NOT_FOUND");
    assertReason(
        failure(
            () ->
                t.flushes()
                    .watchSnapshots(WatchSnapshotsRequest.newBuilder().setFork("nope").build())
                    .hasNext()),
        Status.Code.NOT_FOUND,
        "FORK_NOT_FOUND");
  }

  @Test
  void oversizeDocumentsAndBatches() {
    Document big =
        Document.newBuilder()
            .setId("big")
            .putFields("blob", Value.newBuilder().setStringValue("x".repeat(20_000)).build())
            .build();
    assertInvalid(failure(() -> t.write("", "docs", big)), "mutations[0].put");

    WriteRequest.Builder many = WriteRequest.newBuilder().setCollection("docs");
    for (int i = 0; i < 101; i++) {
      many.addMutations(TestServer.put(doc("m" + i, "m", "m", i)));
    }
    assertInvalid(failure(() -> t.documents().write(many.build())), "mutations");
    assertInvalid(failure(() -> t.documents().write(WriteRequest.newBuilder().setCollection("docs").build())), "mutations");

    // Above the maximum message size, gRPC itself refuses the request.
    WriteRequest.Builder huge = WriteRequest.newBuilder().setCollection("docs");
    for (int i = 0; i < 30; i++) {
      huge.addMutations(
          TestServer.put(
              Document.newBuilder()
                  .setId("h" + i)
                  .putFields("blob", Value.newBuilder().setStringValue("y".repeat(10_000)).build())
                  .build()));
    }
    assertThat(code(failure(() -> t.documents().write(huge.build())))).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);

    Document manyFields = doc("f", "f", "f", 1);
    Document.Builder b = manyFields.toBuilder();
    for (int i = 0; i < 1001; i++) {
      b.putFields("f" + i, Value.newBuilder().setBoolValue(true).build());
    }
    assertInvalid(failure(() -> t.write("", "docs", b.build())), "mutations[0].put.fields");

    assertInvalid(failure(() -> t.write("", "docs", doc("é".repeat(257), "x", "x", 1))), "mutations[0].put.id");
    assertInvalid(
        failure(() -> t.documents().batchGet(BatchGetRequest.newBuilder().setCollection("docs").addAllIds(java.util.Collections.nCopies(1001, "a")).build())),
        "ids");
    assertInvalid(failure(() -> t.documents().batchGet(BatchGetRequest.newBuilder().setCollection("docs").build())), "ids");
    assertInvalid(
        failure(() -> t.documents().write(WriteRequest.newBuilder().setCollection("docs").addMutations(Mutation.newBuilder()).build())),
        "mutations[0]");
  }

  @Test
  void wrongTypesFailTheWholeWrite() {
    Document good = doc("w-good", "fine", "x", 1);
    Document bad =
        doc("w-bad", "oops", "x", 1).toBuilder().putFields("n", Value.newBuilder().setStringValue("seven").build()).build();
    Document nan =
        doc("w-nan", "nan", "x", 1).toBuilder().putFields("price", Value.newBuilder().setDoubleValue(Double.NaN).build()).build();
    Document noKind = doc("w-nokind", "nokind", "x", 1).toBuilder().putFields("tag", Value.getDefaultInstance()).build();
    StatusRuntimeException e = failure(() -> t.write("", "docs", good, bad, nan, noKind));
    assertInvalid(e, "mutations[1].put.fields[n]");
    assertThat(badRequest(e).getFieldViolationsList())
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("mutations[1].put.fields[n]", "mutations[2].put.fields[price]", "mutations[3].put.fields[tag]");
    // Nothing of that write was applied.
    assertReason(
        failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("w-good").build())),
        Status.Code.NOT_FOUND,
        "DOCUMENT_NOT_FOUND");
    assertInvalid(
        failure(
            () ->
                t.write(
                    "",
                    "docs",
                    doc("w2", "x", "x", 1).toBuilder().putFields("9bad", Value.newBuilder().setBoolValue(true).build()).build())),
        "mutations[0].put.fields[9bad]");
  }

  @Test
  void schemaConflictsAndBadSchemas() {
    t.createCollection("", "conflict");
    StatusRuntimeException e =
        failure(
            () ->
                t.collections()
                    .createOrGetCollection(
                        CreateOrGetCollectionRequest.newBuilder()
                            .setName("conflict")
                            .addFields(FieldSchema.newBuilder().setName("body").setKind(FieldKind.FIELD_KIND_KEYWORD))
                            .build()));
    assertReason(e, Status.Code.FAILED_PRECONDITION, "COLLECTION_SCHEMA_CONFLICT");
    assertThat(e.getStatus().getDescription()).contains("body");

    StatusRuntimeException bad =
        failure(
            () ->
                t.collections()
                    .createOrGetCollection(
                        CreateOrGetCollectionRequest.newBuilder()
                            .setName("badschema")
                            .addFields(FieldSchema.newBuilder().setName("a").setKind(FieldKind.FIELD_KIND_TEXT).setAnalyzer("klingon"))
                            .addFields(FieldSchema.newBuilder().setName("a").setKind(FieldKind.FIELD_KIND_TEXT))
                            .addFields(FieldSchema.newBuilder().setName("b"))
                            .addFields(FieldSchema.newBuilder().setName("c").setKind(FieldKind.FIELD_KIND_LONG).setAnalyzer("english"))
                            .addFields(FieldSchema.newBuilder().setName("_d").setKind(FieldKind.FIELD_KIND_LONG))
                            .build()));
    assertInvalid(bad, "fields[0].analyzer");
    assertThat(badRequest(bad).getFieldViolationsList())
        .extracting(BadRequest.FieldViolation::getField)
        .containsExactly("fields[0].analyzer", "fields[1].name", "fields[2].kind", "fields[3].analyzer", "fields[4].name");
  }

  @Test
  void forkTagAndDiffPreconditions() {
    assertReason(
        failure(() -> t.forks().dropFork(DropForkRequest.newBuilder().setName("main").build())),
        Status.Code.FAILED_PRECONDITION,
        "MAIN_FORK_PROTECTED");
    t.forks().createFork(CreateForkRequest.newBuilder().setName("dup").setFromSnapshotId(first.getId()).build());
    assertReason(
        failure(() -> t.forks().createFork(CreateForkRequest.newBuilder().setName("dup").setFromFork("main").build())),
        Status.Code.ALREADY_EXISTS,
        "FORK_ALREADY_EXISTS");
    assertInvalid(
        failure(
            () ->
                t.forks()
                    .createFork(CreateForkRequest.newBuilder().setName("x2").setFromSnapshotId(first.getId()).setFlushFirst(true).build())),
        "flush_first");
    assertInvalid(failure(() -> t.forks().createFork(CreateForkRequest.newBuilder().setName("x3").build())), "from_snapshot_id");

    t.write("", "docs", doc("d2", "two", "x", 2));
    Snapshot second = t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();
    assertReason(
        failure(
            () ->
                t.snapshots()
                    .diffSnapshots(
                        DiffSnapshotsRequest.newBuilder().setFromSnapshotId(second.getId()).setToSnapshotId(first.getId()).build())
                    .hasNext()),
        Status.Code.FAILED_PRECONDITION,
        "SNAPSHOT_NOT_ANCESTOR");

    t.snapshots().tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(first.getId()).setTag("pinned").build());
    assertReason(
        failure(() -> t.snapshots().tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(second.getId()).setTag("pinned").build())),
        Status.Code.ALREADY_EXISTS,
        "TAG_ALREADY_EXISTS");
    t.forks().dropFork(DropForkRequest.newBuilder().setName("dup").build());
  }

  @Test
  void badSearchesAndPages() {
    assertInvalid(failure(() -> t.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery("body:(unclosed").build())), "query");
    assertInvalid(
        failure(
            () ->
                t.documents()
                    .search(
                        SearchRequest.newBuilder()
                            .setCollection("docs")
                            .addTermFilters(TermFilter.newBuilder().setField("body").addValues("x"))
                            .build())),
        "term_filters[0].field");
    assertInvalid(failure(() -> t.documents().search(SearchRequest.newBuilder().setCollection("docs").setLimit(10_001).build())), "limit");
    assertInvalid(
        failure(
            () ->
                t.documents()
                    .search(
                        SearchRequest.newBuilder()
                            .setCollection("docs")
                            .setSnapshotId(first.getId())
                            .setWaitFor(WaitFor.WAIT_FOR_FLUSHED)
                            .build())),
        "wait_for");
    assertInvalid(failure(() -> t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().setPageSize(-1).build())), "page_size");
    assertInvalid(failure(() -> t.collections().listCollections(ListCollectionsRequest.newBuilder().setPageToken("garbage!").build())), "page_token");
    String token = t.collections().listCollections(ListCollectionsRequest.newBuilder().setPageSize(1).build()).getNextPageToken();
    assertThat(token).isNotEmpty();
    assertInvalid(
        failure(() -> t.collections().listCollections(ListCollectionsRequest.newBuilder().setSnapshotId(first.getId()).setPageToken(token).build())),
        "page_token");
    assertInvalid(failure(() -> t.documents().scan(ScanRequest.newBuilder().setCollection("docs").setLimit(-1).build()).hasNext()), "limit");
  }

  @Test
  void awaitFlushPastItsDeadlineKeepsTheTicket() {
    t.createCollection("", "tickets");
    WriteResponse w = t.write("", "tickets", doc("t1", "one", "x", 1));
    // flush.interval is off: nothing publishes this write until someone flushes.
    FlushTicket ticket = FlushTicket.newBuilder().setForkId(w.getForkId()).setLsn(w.getLsn()).build();
    StatusRuntimeException e =
        failure(
            () ->
                t.flushes()
                    .withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()));
    assertThat(code(e)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    t.flushes().flush(FlushRequest.newBuilder().build());
    Snapshot s = t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot();
    assertThat(s.getCoveredLsn()).isGreaterThanOrEqualTo(w.getLsn());

    assertReason(
        failure(
            () ->
                t.flushes()
                    .awaitFlush(
                        AwaitFlushRequest.newBuilder()
                            .setTicket(FlushTicket.newBuilder().setForkId("main-0000000000000000").setLsn(1))
                            .build())),
        Status.Code.NOT_FOUND,
        "FORK_NOT_FOUND"); // no fork ever had that id: not "dropped" (ApiContractTest)
    assertInvalid(
        failure(
            () ->
                t.flushes()
                    .awaitFlush(
                        AwaitFlushRequest.newBuilder()
                            .setTicket(FlushTicket.newBuilder().setForkId(w.getForkId()).setLsn(w.getLsn() + 1_000_000))
                            .build())),
        "ticket.lsn");
    assertInvalid(failure(() -> t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().build())), "ticket");
  }

  @Test
  void compactRejectsBadAndUnknownForks() {
    for (String bad : BAD_NAMES) {
      if (bad.isEmpty()) {
        continue; // empty means main
      }
      assertInvalid(failure(() -> t.admin().compact(CompactRequest.newBuilder().setFork(bad).build())), "fork");
    }
    assertReason(
        failure(() -> t.admin().compact(CompactRequest.newBuilder().setFork("nope").build())),
        Status.Code.NOT_FOUND,
        "FORK_NOT_FOUND");
  }
}
