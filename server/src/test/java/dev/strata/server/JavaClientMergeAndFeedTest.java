package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.api.v1.ChangeOp;
import dev.strata.api.v1.DocumentChange;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.api.v1.MergeStrategy;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.client.StrataClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java client's {@code mergeFork} and {@code watchChanges} (issue 16) against a real server on
 * a loopback port: a fast-forward and a three-way merge with a conflict resolved by strategy, the
 * merged snapshot awaited through the returned ticket, and the change feed read through the
 * client, resumed from a complete snapshot, equal to the writes.
 */
class JavaClientMergeAndFeedTest {
  private static final String C = "docs";
  @TempDir Path dir;
  TestServer t;
  StrataClient client;

  @BeforeEach
  void start() throws Exception {
    t = TestServer.start(dir, Map.of());
    client = StrataClient.builder("127.0.0.1:" + t.server.port()).build();
    t.createCollection("", C);
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    t.close();
  }

  private String body(String fork, String id) {
    var d = client.get(fork, C, id, null);
    return d == null ? null : d.getFieldsMap().get("body").getStringValue();
  }

  @Test
  void mergeForkFastForwardsThenMergesThreeWayThroughTheJavaClient() {
    client.write("main", C, List.of(Mutation.newBuilder().setPut(doc("a", "main a", "x", 1)).build()));
    client.createForkFromFork("feat", "main", true);
    client.write("feat", C, List.of(Mutation.newBuilder().setPut(doc("b", "feat b", "x", 2)).build()));

    MergeForkResponse ff = client.mergeFork(MergeForkRequest.newBuilder().setSource("feat").setFlushSource(true).build());
    assertThat(ff.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_FAST_FORWARD);
    Snapshot merged = client.awaitFlushBlocking(ff.getTicket(), Duration.ofSeconds(30));
    assertThat(merged.getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_MERGE);
    assertThat(body("main", "b")).isEqualTo("feat b");

    // Both sides change "a"; the source also adds "c": the default strategy reports the conflict,
    // source-wins applies it.
    client.write("main", C, List.of(Mutation.newBuilder().setPut(doc("a", "main a2", "x", 3)).build()));
    client.write("feat", C, List.of(
        Mutation.newBuilder().setPut(doc("a", "feat a2", "x", 4)).build(),
        Mutation.newBuilder().setPut(doc("c", "feat c", "x", 5)).build()));
    MergeForkResponse conflicts =
        client.mergeFork(MergeForkRequest.newBuilder().setSource("feat").setFlushSource(true).build());
    assertThat(conflicts.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_CONFLICTS);
    assertThat(conflicts.getConflictsList()).extracting(c -> c.getId()).containsExactly("a");
    assertThat(body("main", "a")).isEqualTo("main a2");

    MergeForkResponse sw = client.mergeFork(MergeForkRequest.newBuilder()
        .setSource("feat").setFlushSource(true).setStrategy(MergeStrategy.MERGE_STRATEGY_SOURCE_WINS).build());
    assertThat(sw.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_THREE_WAY);
    client.awaitFlushBlocking(sw.getTicket(), Duration.ofSeconds(30));
    assertThat(body("main", "a")).isEqualTo("feat a2");
    assertThat(body("main", "c")).isEqualTo("feat c");

    StatusRuntimeException self = (StatusRuntimeException) org.assertj.core.api.Assertions.catchThrowable(
        () -> client.mergeFork(MergeForkRequest.newBuilder().setSource("feat").setTarget("feat").build()));
    assertThat(self.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void watchChangesThroughTheJavaClientEqualsTheWritesAndResumes() {
    client.write("main", C, List.of(Mutation.newBuilder().setPut(doc("z", "before", "x", 0)).build()));
    String start = client.awaitFlushBlocking(client.flush("main", false).getTicket(), Duration.ofSeconds(30)).getId();
    client.write("main", C, List.of(
        Mutation.newBuilder().setPut(doc("a", "one", "x", 1)).build(),
        Mutation.newBuilder().setPut(doc("b", "two", "x", 2)).build()));
    String first = client.awaitFlushBlocking(client.flush("main", false).getTicket(), Duration.ofSeconds(30)).getId();
    client.write("main", C, List.of(
        Mutation.newBuilder().setDeleteId("a").build(),
        Mutation.newBuilder().setPut(doc("c", "three", "x", 3)).build()));
    String second = client.awaitFlushBlocking(client.flush("main", false).getTicket(), Duration.ofSeconds(30)).getId();

    TreeMap<String, String> state = new TreeMap<>();
    List<String> complete = new ArrayList<>();
    Iterator<WatchChangesResponse> it =
        client.watchChanges(
            WatchChangesRequest.newBuilder().setCollection(C).setAfterSnapshotId(start).build(), Duration.ofSeconds(30));
    it.forEachRemaining(r -> apply(r, state, complete));
    assertThat(complete).containsExactly(first, second);
    assertThat(state).containsExactly(Map.entry("b", "two"), Map.entry("c", "three"));

    // Resumed after the first snapshot: only the second one's changes.
    TreeMap<String, String> tail = new TreeMap<>();
    List<WatchChangesResponse> resumed = new ArrayList<>();
    client.watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(first).build(), Duration.ofSeconds(30))
        .forEachRemaining(resumed::add);
    List<DocumentChange> changes = resumed.stream().flatMap(r -> r.getChangesList().stream()).toList();
    assertThat(changes).extracting(DocumentChange::getId, DocumentChange::getOp)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("a", ChangeOp.CHANGE_OP_DELETE),
            org.assertj.core.groups.Tuple.tuple("c", ChangeOp.CHANGE_OP_PUT));
    assertThat(resumed.get(resumed.size() - 1).getSnapshotId()).isEqualTo(second);
    assertThat(resumed.get(resumed.size() - 1).getSnapshotComplete()).isTrue();

    assertThatThrownBy(() -> client.watchChanges(
            WatchChangesRequest.newBuilder().setAfterSnapshotId("not a snapshot id").build(), Duration.ofSeconds(30))
        .hasNext())
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  private static void apply(WatchChangesResponse r, TreeMap<String, String> state, List<String> complete) {
    for (DocumentChange c : r.getChangesList()) {
      if (c.getOp() == ChangeOp.CHANGE_OP_PUT) {
        state.put(c.getId(), c.getDocument().getFieldsMap().get("body").getStringValue());
      } else {
        state.remove(c.getId());
      }
    }
    if (r.getSnapshotComplete()) {
      complete.add(r.getSnapshotId());
    }
  }
}
