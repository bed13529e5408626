package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.ConflictKind;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.MergeConflict;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.api.v1.MergeStrategy;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.WriteRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ForkService.MergeFork} over real gRPC on loopback: fast-forward and three-way outcomes,
 * the snapshot that records the merge, conflicts paged with dry runs, every strategy, and the
 * statuses fork.proto promises (FAILED_PRECONDITION MERGE_TARGET_MOVED, NOT_FOUND,
 * INVALID_ARGUMENT, PERMISSION_DENIED for a reader).
 */
class MergeForkRpcTest {
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

  private String flush(String fork) {
    var ticket = t.flushes().flush(FlushRequest.newBuilder().setFork(fork).build()).getTicket();
    return t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot().getId();
  }

  private void fork(String name) {
    t.forks().createFork(CreateForkRequest.newBuilder().setName(name).setFromFork("main").setFlushFirst(true).build());
  }

  private String body(String fork, String id) {
    try {
      return t.documents()
          .get(GetRequest.newBuilder().setFork(fork).setCollection(C).setId(id).build())
          .getDocument()
          .getFieldsOrThrow("body")
          .getStringValue();
    } catch (StatusRuntimeException e) {
      if (code(e) == Status.Code.NOT_FOUND) {
        return null;
      }
      throw e;
    }
  }

  private void delete(String fork, String id) {
    t.documents()
        .write(WriteRequest.newBuilder().setFork(fork).setCollection(C).addMutations(Mutation.newBuilder().setDeleteId(id)).build());
  }

  private MergeForkResponse merge(MergeForkRequest.Builder b) {
    return t.forks().mergeFork(b.build());
  }

  private static MergeForkRequest.Builder from(String source) {
    return MergeForkRequest.newBuilder().setSource(source);
  }

  @Test
  void aFastForwardPublishesAMergeSnapshotOfTheSourcesSegments() {
    t.write("main", C, doc("a", "main a", "x", 1));
    fork("feat");
    t.write("feat", C, doc("b", "feat b", "x", 2));
    String sourceHead = flush("feat");

    MergeForkResponse dry = merge(from("feat").setDryRun(true));
    assertThat(dry.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_FAST_FORWARD);
    assertThat(dry.getDryRun()).isTrue();
    assertThat(dry.hasTicket()).isFalse();
    assertThat(body("main", "b")).as("a dry run writes nothing").isNull();

    MergeForkResponse r = merge(from("feat"));
    assertThat(r.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_FAST_FORWARD);
    assertThat(r.getSourceSnapshotId()).isEqualTo(sourceHead);
    assertThat(r.getTicket().getForkName()).isEqualTo("main");
    Snapshot s = t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(r.getTicket()).build()).getSnapshot();
    assertThat(s.getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_MERGE);
    assertThat(s.getMergedSnapshotId()).isEqualTo(sourceHead);
    Snapshot src = t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(sourceHead).build()).getSnapshot();
    assertThat(s.getSegmentCount()).as("O(1): the source's segments, no new one").isEqualTo(src.getSegmentCount());
    assertThat(s.getStats()).isEqualTo(src.getStats());
    assertThat(body("main", "b")).isEqualTo("feat b");
    assertThat(body("main", "a")).isEqualTo("main a");

    assertThat(merge(from("feat")).getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_UP_TO_DATE);
  }

  @Test
  void aThreeWayMergeListsConflictsPagedAndEachStrategyResolvesThem() {
    for (int i = 0; i < 5; i++) {
      t.write("main", C, doc("k" + i, "base " + i, "x", i));
    }
    fork("feat");
    // Source: changes k0..k3, deletes k4, adds n1 (from flush_source).
    for (int i = 0; i < 4; i++) {
      t.write("feat", C, doc("k" + i, "feat " + i, "x", i));
    }
    delete("feat", "k4");
    t.write("feat", C, doc("n1", "feat new", "x", 9));
    // Target: changes k1, k2 differently, k3 to the same fields as the source (not a conflict).
    t.write("main", C, doc("k1", "main 1", "x", 1), doc("k2", "main 2", "x", 2), doc("k3", "feat 3", "x", 3));

    MergeForkResponse fail = merge(from("feat").setFlushSource(true));
    assertThat(fail.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_CONFLICTS);
    assertThat(fail.getConflictCount()).isEqualTo(2);
    assertThat(fail.getConflictsList()).extracting(MergeConflict::getId).containsExactly("k1", "k2");
    MergeConflict k1 = fail.getConflicts(0);
    assertThat(k1.getKind()).isEqualTo(ConflictKind.CONFLICT_KIND_DOCUMENT);
    assertThat(k1.getSourceLsn()).isPositive();
    assertThat(k1.getTargetLsn()).isPositive();
    assertThat(fail.hasTicket()).isFalse();
    assertThat(body("main", "n1")).as("FAIL applies nothing").isNull();

    // Paged with dry runs: one conflict per page, a token to the next.
    List<String> paged = new ArrayList<>();
    MergeForkRequest.Builder page = from("feat").setDryRun(true).setConflictPageSize(1);
    while (true) {
      MergeForkResponse p = merge(page);
      p.getConflictsList().forEach(c -> paged.add(c.getId()));
      if (p.getNextConflictPageToken().isEmpty()) {
        break;
      }
      page.setConflictPageToken(p.getNextConflictPageToken());
    }
    assertThat(paged).containsExactly("k1", "k2");

    MergeForkResponse tw = merge(from("feat").setStrategy(MergeStrategy.MERGE_STRATEGY_TARGET_WINS));
    assertThat(tw.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_THREE_WAY);
    assertThat(tw.getConflictCount()).isEqualTo(2);
    assertThat(tw.getMergeLsn()).isPositive();
    Snapshot s = t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(tw.getTicket()).build()).getSnapshot();
    assertThat(s.getMergedSnapshotId()).isEqualTo(tw.getSourceSnapshotId());
    assertThat(body("main", "k0")).isEqualTo("feat 0");
    assertThat(body("main", "k1")).as("the target won").isEqualTo("main 1");
    assertThat(body("main", "k4")).isNull();
    assertThat(body("main", "n1")).isEqualTo("feat new");
  }

  @Test
  void sourceWinsOverwritesTheTargetsConflictingVersions() {
    t.write("main", C, doc("k", "base", "x", 0));
    fork("feat");
    t.write("feat", C, doc("k", "feat", "x", 1));
    t.write("main", C, doc("k", "main", "x", 2));
    MergeForkResponse r =
        merge(from("feat").setTarget("main").setFlushSource(true).setStrategy(MergeStrategy.MERGE_STRATEGY_SOURCE_WINS));
    assertThat(r.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_THREE_WAY);
    assertThat(body("main", "k")).isEqualTo("feat");
  }

  @Test
  void aConditionalMergeIsRefusedOnceTheTargetMoved() {
    t.write("main", C, doc("a", "a", "x", 1));
    fork("feat");
    t.write("feat", C, doc("b", "b", "x", 2));
    flush("feat");
    String head = flush("main");
    t.write("main", C, doc("c", "c", "x", 3));
    String moved = flush("main");

    StatusRuntimeException e = failure(() -> merge(from("feat").setExpectedTargetHead(head)));
    assertThat(code(e)).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(errorInfo(e).getReason()).isEqualTo(ErrorReason.MERGE_TARGET_MOVED.name());
    assertThat(errorInfo(e).getMetadataMap()).containsEntry("head_snapshot_id", moved).containsEntry("fork", "main");
    assertThat(body("main", "b")).isNull();

    assertThat(merge(from("feat").setExpectedTargetHead(moved)).getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_THREE_WAY);
  }

  @Test
  void badRequestsGetPreciseStatuses() {
    fork("feat");
    StatusRuntimeException missing = failure(() -> merge(from("nope")));
    assertThat(code(missing)).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(errorInfo(missing).getReason()).isEqualTo(ErrorReason.FORK_NOT_FOUND.name());

    StatusRuntimeException self = failure(() -> merge(from("feat").setTarget("feat")));
    assertThat(code(self)).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(TestServer.badRequest(self).getFieldViolations(0).getField()).isEqualTo("target");

    assertThat(code(failure(() -> merge(from("feat").setStrategyValue(42))))).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(failure(() -> merge(from("feat").setConflictPageToken("x")))))
        .as("a page token needs dry_run")
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(failure(() -> merge(from("feat").setDryRun(true).setConflictPageToken("garbage")))))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(failure(() -> merge(from(""))))).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(failure(() -> merge(from("main")))))
        .as("main was not created from a fork: the target must be named")
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void mergingNeedsTheAdminRole(@TempDir Path authDir) throws Exception {
    try (TestServer auth =
        TestServer.start(authDir, Map.of("auth.token.ops", "admin:admin-secret", "auth.token.dash", "reader:reader-secret"))) {
      var admin = auth.withToken(auth.forks(), "admin-secret");
      auth.withToken(auth.collections(), "admin-secret")
          .createOrGetCollection(CreateOrGetCollectionRequest.newBuilder().setName(C).addAllFields(TestServer.schema()).build());
      auth.withToken(auth.documents(), "admin-secret")
          .write(WriteRequest.newBuilder().setCollection(C).addMutations(TestServer.put(doc("a", "a", "x", 1))).build());
      admin.createFork(CreateForkRequest.newBuilder().setName("feat").setFromFork("main").setFlushFirst(true).build());
      StatusRuntimeException e = failure(() -> auth.withToken(auth.forks(), "reader-secret").mergeFork(from("feat").build()));
      assertThat(code(e)).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(admin.mergeFork(from("feat").setDryRun(true).build()).getOutcome())
          .isEqualTo(MergeOutcome.MERGE_OUTCOME_UP_TO_DATE);
    }
  }
}
