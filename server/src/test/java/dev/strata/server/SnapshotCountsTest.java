package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.Collection;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WatchSnapshotsResponse;
import dev.strata.api.v1.WriteRequest;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot document counts are right the first time, from every RPC (issue #11, defect 11):
 * WatchSnapshots, AwaitFlush, ListSnapshots, GetSnapshot, GetCollection and Stats report the live
 * documents of each collection — overwritten versions and deleted documents not counted — and no
 * call changes what another reports.
 */
class SnapshotCountsTest {
  @TempDir Path dir;

  private static Map<String, Long> counts(Snapshot s) {
    Map<String, Long> out = new TreeMap<>();
    for (Collection c : s.getCollectionsList()) {
      out.put(c.getName(), c.getDocCount());
    }
    return out;
  }

  @Test
  void everyRpcReportsTheLiveDocumentsOfTheSnapshotFromTheStart() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.createCollection("", "books");
      t.createCollection("", "films");
      Iterator<WatchSnapshotsResponse> watch =
          FlushServiceGrpc.newBlockingStub(t.channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .watchSnapshots(WatchSnapshotsRequest.newBuilder().build());
      Snapshot published = null;
      for (int round = 0; round < 3; round++) {
        WriteRequest.Builder books = WriteRequest.newBuilder().setCollection("books");
        for (int i = 0; i < 50; i++) {
          books.addMutations(TestServer.put(doc("b" + i, "round " + round, "t", i))); // overwrites
        }
        t.documents().write(books.build());
        t.documents().write(
            WriteRequest.newBuilder().setCollection("films").addMutations(TestServer.put(doc("f" + round, "film", "t", round))).build());
        FlushTicket ticket = t.flushes().flush(FlushRequest.newBuilder().build()).getTicket();
        published = t.flushes().awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot();
      }
      t.documents().write(WriteRequest.newBuilder().setCollection("books").addMutations(Mutation.newBuilder().setDeleteId("b0")).build());
      Snapshot last =
          t.flushes().flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot();
      Map<String, Long> want = Map.of("books", 49L, "films", 3L);
      assertThat(counts(last)).as("Flush(wait)").isEqualTo(want);
      assertThat(last.getStats().getDocCount()).isEqualTo(52);
      assertThat(counts(published)).as("AwaitFlush of the third round").isEqualTo(Map.of("books", 50L, "films", 3L));

      // WatchSnapshots, first thing, without any other call having looked at these snapshots.
      Snapshot seen = null;
      while (seen == null || !seen.getId().equals(last.getId())) {
        seen = watch.next().getSnapshot();
      }
      assertThat(counts(seen)).as("WatchSnapshots").isEqualTo(want);
      assertThat(seen.getStats().getDocCount()).isEqualTo(52);

      for (Snapshot s : t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().build()).getSnapshotsList()) {
        Snapshot got = t.snapshots().getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(s.getId()).build()).getSnapshot();
        assertThat(counts(s)).as("ListSnapshots vs GetSnapshot of %s", s.getId()).isEqualTo(counts(got));
        assertThat(s.getStats().getDocCount()).isEqualTo(got.getStats().getDocCount());
      }
      assertThat(t.collections().getCollection(GetCollectionRequest.newBuilder().setName("books").build()).getCollection().getDocCount())
          .isEqualTo(49);
      assertThat(t.admin().stats(StatsRequest.newBuilder().build()).getForks(0).getDocCount()).as("Stats").isEqualTo(52);
    }
  }
}
