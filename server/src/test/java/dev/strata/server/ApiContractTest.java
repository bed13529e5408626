package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #11 item 13: where the docs and the server disagreed, each side now says the same, and the
 * server keeps the contract: schema conflicts, the OR of term-filter values, the field kinds a
 * query string takes, creation order of schema fields, fork ids that never existed, retention
 * keys.
 */
class ApiContractTest {
  static final Path API_DOC = Path.of("..", "docs", "api.md");
  static final Path OPERATIONS_DOC = Path.of("..", "docs", "operations.md");
  static final Path DOCUMENT_PROTO = Path.of("..", "proto", "src", "main", "proto", "strata", "v1", "document.proto");

  @TempDir Path dir;

  static FieldSchema field(String name, FieldKind kind) {
    return FieldSchema.newBuilder().setName(name).setKind(kind).build();
  }

  static Document tagged(String id, String... tags) {
    return Document.newBuilder()
        .setId(id)
        .putFields("body", Value.newBuilder().setStringValue("text of " + id).build())
        .putFields("tag", Value.newBuilder().setStringListValue(StringList.newBuilder().addAllValues(List.of(tags))).build())
        .putFields("n", Value.newBuilder().setInt64Value(id.length()).build())
        .build();
  }

  List<String> ids(SearchResponse r) {
    return r.getHitsList().stream().map(h -> h.getId()).sorted().toList();
  }

  @Test
  void aSchemaConflictIsFailedPreconditionAndTheApiDocSaysSo() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.createCollection("main", "docs");
      StatusRuntimeException e =
          failure(
              () ->
                  t.collections()
                      .createOrGetCollection(
                          CreateOrGetCollectionRequest.newBuilder()
                              .setName("docs")
                              .addFields(field("body", FieldKind.FIELD_KIND_KEYWORD))
                              .build()));
      assertThat(code(e)).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(errorInfo(e).getReason()).isEqualTo("COLLECTION_SCHEMA_CONFLICT");
    }
    String row =
        Files.readAllLines(API_DOC).stream().filter(l -> l.startsWith("| `CreateOrGetCollection` |")).findFirst().orElseThrow();
    assertThat(row).contains("`FAILED_PRECONDITION` (other schema").doesNotContain("ALREADY_EXISTS");
  }

  @Test
  void termFilterValuesAreOredAndFiltersAreAnded() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.createCollection("main", "docs");
      t.write("main", "docs", tagged("a", "red"), tagged("b", "green"), tagged("c", "blue"), tagged("d", "green", "round"));
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      SearchRequest.Builder redOrGreen =
          SearchRequest.newBuilder()
              .setCollection("docs")
              .addTermFilters(TermFilter.newBuilder().setField("tag").addValues("red").addValues("green").addValues("absent"));
      assertThat(ids(t.documents().search(redOrGreen.build()))).containsExactly("a", "b", "d");
      SearchRequest.Builder andRound =
          redOrGreen.clone().addTermFilters(TermFilter.newBuilder().setField("tag").addValues("round"));
      assertThat(ids(t.documents().search(andRound.build()))).containsExactly("d");

      TermFilter.Builder max = TermFilter.newBuilder().setField("tag");
      IntStream.range(0, 1023).forEach(i -> max.addValues("v" + i));
      max.addValues("blue");
      assertThat(ids(t.documents().search(SearchRequest.newBuilder().setCollection("docs").addTermFilters(max).build())))
          .containsExactly("c");
      StatusRuntimeException tooMany =
          failure(
              () ->
                  t.documents()
                      .search(SearchRequest.newBuilder().setCollection("docs").addTermFilters(max.clone().addValues("x")).build()));
      assertThat(code(tooMany)).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(TestServer.badRequest(tooMany).getFieldViolations(0).getField()).isEqualTo("term_filters[0].values");
      StatusRuntimeException none =
          failure(
              () ->
                  t.documents()
                      .search(
                          SearchRequest.newBuilder().setCollection("docs").addTermFilters(TermFilter.newBuilder().setField("tag")).build()));
      assertThat(code(none)).isEqualTo(Status.Code.INVALID_ARGUMENT);
    }
    assertThat(Files.readString(OPERATIONS_DOC)).doesNotContain("takes a single value per filter");
  }

  /**
   * Decision: a query string may name KEYWORD, LONG and DOUBLE fields (as Elasticsearch's and Solr's
   * query strings do, and the only way to OR keyword or numeric conditions with each other or with
   * text); the proto said TEXT only and now says what the server does. Fields that are not indexed
   * or not in the schema stay INVALID_ARGUMENT.
   */
  @Test
  void queryStringsTakeTheFieldKindsTheProtoNames() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.collections()
          .createOrGetCollection(
              CreateOrGetCollectionRequest.newBuilder()
                  .setName("docs")
                  .addAllFields(TestServer.schema())
                  .addFields(field("note", FieldKind.FIELD_KIND_STORED))
                  .build());
      t.write("main", "docs", tagged("a", "Red Apple"), tagged("bb", "green"), tagged("ccc", "blue"));
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      assertThat(ids(search(t, "tag:\"Red Apple\""))).as("KEYWORD: exact, not analyzed").containsExactly("a");
      assertThat(ids(search(t, "tag:red"))).isEmpty();
      assertThat(ids(search(t, "tag:gr*"))).containsExactly("bb");
      assertThat(ids(search(t, "n:[2 TO 3]"))).as("LONG range").containsExactly("bb", "ccc");
      assertThat(ids(search(t, "n:1 OR tag:blue"))).as("LONG value OR KEYWORD").containsExactly("a", "ccc");
      for (String bad : List.of("note:x", "nosuch:x", "n:abc", "n:ab*")) {
        StatusRuntimeException e = failure(() -> search(t, bad));
        assertThat(code(e)).as(bad).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(TestServer.badRequest(e).getFieldViolations(0).getField()).isEqualTo("query");
      }
    }
    String proto = Files.readString(DOCUMENT_PROTO);
    assertThat(proto).contains("a KEYWORD field (the term matches exactly").doesNotContain("a field: prefix must name a TEXT");
  }

  SearchResponse search(TestServer t, String query) {
    return t.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery(query).build());
  }

  @Test
  void collectionFieldsKeepTheirCreationOrderEverywhereAndAcrossARestart() throws Exception {
    List<FieldSchema> fields =
        List.of(
            field("zeta", FieldKind.FIELD_KIND_TEXT),
            field("alpha", FieldKind.FIELD_KIND_KEYWORD),
            field("mid", FieldKind.FIELD_KIND_LONG),
            field("beta", FieldKind.FIELD_KIND_DOUBLE));
    List<String> order = List.of("zeta", "alpha", "mid", "beta");
    String snapshotId;
    try (TestServer t = TestServer.start(dir, Map.of())) {
      var created =
          t.collections()
              .createOrGetCollection(CreateOrGetCollectionRequest.newBuilder().setName("c").addAllFields(fields).build());
      assertThat(names(created.getCollection())).containsExactlyElementsOf(order);
      List<FieldSchema> shuffled = new java.util.ArrayList<>(fields);
      Collections.reverse(shuffled);
      var again =
          t.collections()
              .createOrGetCollection(CreateOrGetCollectionRequest.newBuilder().setName("c").addAllFields(shuffled).build());
      assertThat(again.getCreated()).as("same schema in another order is the same schema").isFalse();
      assertThat(names(again.getCollection())).containsExactlyElementsOf(order);
      t.write("main", "c", Document.newBuilder().setId("x").build());
      Snapshot s = t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();
      snapshotId = s.getId();
      assertThat(names(s.getCollections(0))).as("snapshot view").containsExactlyElementsOf(order);
      assertCreationOrder(t, order, snapshotId);
    }
    try (TestServer t = TestServer.start(dir, Map.of())) {
      assertCreationOrder(t, order, snapshotId);
    }
  }

  private void assertCreationOrder(TestServer t, List<String> order, String snapshotId) {
    assertThat(names(t.collections().getCollection(GetCollectionRequest.newBuilder().setName("c").build()).getCollection()))
        .as("head")
        .containsExactlyElementsOf(order);
    assertThat(
            names(
                t.collections()
                    .getCollection(GetCollectionRequest.newBuilder().setName("c").setSnapshotId(snapshotId).build())
                    .getCollection()))
        .as("at a snapshot")
        .containsExactlyElementsOf(order);
    assertThat(names(t.collections().listCollections(ListCollectionsRequest.getDefaultInstance()).getCollections(0)))
        .as("list")
        .containsExactlyElementsOf(order);
    assertThat(names(t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(snapshotId).build()).getSnapshot().getCollections(0)))
        .as("GetSnapshot")
        .containsExactlyElementsOf(order);
  }

  private static List<String> names(dev.strata.api.v1.Collection c) {
    return c.getFieldsList().stream().map(FieldSchema::getName).toList();
  }

  @Test
  void aForkIdThatNeverExistedIsNotFoundNotDropped() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.createCollection("main", "docs");
      t.write("main", "docs", tagged("a", "x"));
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());

      StatusRuntimeException ticket = failure(() -> await(t, "main-0000000000000000"));
      assertThat(code(ticket)).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(errorInfo(ticket).getReason()).isEqualTo("FORK_NOT_FOUND");
      assertThat(errorInfo(ticket).getMetadataMap()).containsEntry("fork_id", "main-0000000000000000");
      assertThat(ticket.getStatus().getDescription()).doesNotContain("dropped");
      StatusRuntimeException snapshot =
          failure(() -> t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId("nope-0123456789abcdef-000000000001").build()));
      assertThat(errorInfo(snapshot).getReason()).isEqualTo("SNAPSHOT_NOT_FOUND");
      assertThat(snapshot.getStatus().getDescription()).doesNotContain("dropped");

      // A fork that was dropped is still reported as dropped.
      t.forks().createFork(CreateForkRequest.newBuilder().setName("gone").setFromFork("main").build());
      t.write("gone", "docs", tagged("b", "y"));
      FlushResponse f = t.flushes().flush(FlushRequest.newBuilder().setFork("gone").setWait(true).build());
      t.forks().dropFork(DropForkRequest.newBuilder().setName("gone").build());
      StatusRuntimeException dropped = failure(() -> await(t, f.getTicket().getForkId()));
      assertThat(errorInfo(dropped).getReason()).isEqualTo("FORK_DROPPED");
      StatusRuntimeException droppedSnapshot =
          failure(() -> t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(f.getSnapshot().getId()).build()));
      assertThat(errorInfo(droppedSnapshot).getReason()).isEqualTo("FORK_DROPPED");
    }
  }

  private static Snapshot await(TestServer t, String forkId) {
    return t.flushes()
        .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(FlushTicket.newBuilder().setForkId(forkId).setLsn(1)).build())
        .getSnapshot();
  }

  @Test
  void operationsDocDoesNotCallConfiguredKeysUnconfigurable() throws IOException {
    String doc = Files.readString(OPERATIONS_DOC);
    for (ServerConfig.Key k : ServerConfig.KEYS) {
      assertThat(doc).as(k.name()).doesNotContainPattern("(?i)not configurable[^\\n]*\\n?[^\\n]*`" + java.util.regex.Pattern.quote(k.name()) + "`");
    }
  }
}
