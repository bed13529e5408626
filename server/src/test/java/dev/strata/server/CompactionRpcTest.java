package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CompactResponse;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.ForkStats;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.StatsResponse;
import dev.strata.api.v1.WriteRequest;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compact and the compaction/retention statistics over real gRPC. */
class CompactionRpcTest {

  @Test
  void compactMergesTheHeadAndStatsReportIt(@TempDir Path dir) throws Exception {
    try (TestServer t =
        TestServer.start(dir, Map.of("compaction.enabled", "false", "retention.snapshots", "1", "retention.min_age", "0s"))) {
      t.createCollection("", "docs");
      for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 20; i++) {
          t.write("", "docs", doc("d" + i, "round" + round + " shared words", "x", round));
        }
        t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      }
      t.documents()
          .write(
              WriteRequest.newBuilder()
                  .setCollection("docs")
                  .addMutations(Mutation.newBuilder().setDeleteId("d5"))
                  .build());
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());

      ForkStats before = t.admin().stats(StatsRequest.newBuilder().build()).getForks(0);
      assertThat(before.getSegmentCount()).isEqualTo(5);
      assertThat(before.getCompactionsTotal()).isZero();
      assertThat(before.getCompactionBacklogSegments()).isEqualTo(5); // one tier of 5 tiny segments

      CompactResponse r = t.admin().compact(CompactRequest.newBuilder().setForceFullMerge(true).build());
      assertThat(r.getSegmentsBefore()).isEqualTo(5);
      assertThat(r.getSegmentsAfter()).isEqualTo(1);
      assertThat(r.getSnapshot().getKind()).isEqualTo(SnapshotKind.SNAPSHOT_KIND_COMPACTION);
      assertThat(r.getSnapshot().getSegmentCount()).isEqualTo(1);

      // Same documents: newest versions, the delete holds, old text no longer matches.
      assertThat(
              t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("d3").build()).getDocument()
                  .getFieldsMap().get("body").getStringValue())
          .isEqualTo("round3 shared words");
      StatusRuntimeException gone =
          TestServer.failure(() -> t.documents().get(GetRequest.newBuilder().setCollection("docs").setId("d5").build()));
      assertThat(TestServer.code(gone)).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
      assertThat(t.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery("round1").build()).getTotalHits())
          .isZero();
      assertThat(t.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery("shared").build()).getTotalHits())
          .isEqualTo(19);

      StatsResponse stats = t.admin().stats(StatsRequest.newBuilder().build());
      ForkStats after = stats.getForks(0);
      assertThat(after.getSegmentCount()).isEqualTo(1);
      assertThat(after.getCompactionsTotal()).isEqualTo(1);
      assertThat(after.getCompactionBacklogSegments()).isZero();
      assertThat(after.getCompactionBytesWrittenTotal()).isPositive();
      assertThat(after.getFlushBytesWrittenTotal()).isPositive();
      assertThat(after.getWriteAmplification()).isGreaterThan(1.0);
      // Old snapshots still hold the flushed segments: nothing is shared, some are reclaimable.
      assertThat(after.getExclusiveSegmentBytes()).isPositive();
      assertThat(after.getSharedSegmentBytes()).isZero();
      assertThat(after.getReclaimableSegmentBytes()).isPositive();

      // A second full merge of one segment without tombstones has nothing to do.
      CompactResponse again = t.admin().compact(CompactRequest.newBuilder().setForceFullMerge(true).build());
      assertThat(again.hasSnapshot()).isFalse();
      assertThat(again.getSegmentsAfter()).isEqualTo(1);

      // Retention keeps 1 snapshot (the head); GC then frees every segment only older ones held.
      t.server.engine().runRetention();
      assertThat(t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().build()).getSnapshotsCount()).isEqualTo(1);
      StatsResponse gc = t.admin().stats(StatsRequest.newBuilder().build());
      assertThat(gc.getSnapshotsExpiredTotal()).isEqualTo(5);
      assertThat(gc.getForks(0).getReclaimableSegmentBytes()).isZero();
      assertThat(gc.getSegmentCount()).isEqualTo(1);
      assertThat(gc.getSegmentsCollectedTotal()).isEqualTo(5);
    }
  }
}
