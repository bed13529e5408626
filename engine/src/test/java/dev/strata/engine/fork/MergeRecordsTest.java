package dev.strata.engine.fork;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.L0BulkLoad;
import dev.strata.engine.l0.L0Record;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.MergeCommit;
import dev.strata.engine.proto.MergeMarker;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import dev.strata.wal.WalOptions;
import dev.strata.wal.WalReader;
import dev.strata.wal.WalRecord;
import dev.strata.wal.WalWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merge record protocol on a hand-built log: the commit rule (writes between the read LSN and
 * the commit), and recovery's replay of it — applied at the commit LSN, dropped when the head
 * covers it, void when batches are missing, unfinished merges and markers leaving no trace — the
 * same decisions as at run time, from the log alone.
 */
class MergeRecordsTest {
  private static final String C = "docs";
  private static final CollectionSchema SCHEMA = new CollectionSchema(List.of(FieldSpec.of("body", FieldKind.TEXT)));

  @TempDir Path dir;

  private static Document doc(String id, String body) {
    return new Document(id, Map.of("body", new FieldValue.Str(body)));
  }

  private static Map<String, List<Mutation>> changes(String... idBody) {
    Map<String, List<Mutation>> out = new LinkedHashMap<>();
    for (int i = 0; i < idBody.length; i += 2) {
      out.computeIfAbsent(C, k -> new ArrayList<>())
          .add(idBody[i + 1] == null ? new Mutation.Delete(idBody[i]) : new Mutation.Put(doc(idBody[i], idBody[i + 1])));
    }
    return out;
  }

  private static MergeCommit commit(String id, int batches, long readLsn, MergeStrategy s) {
    return MergeCommit.newBuilder()
        .setMergeId(id)
        .setBatchCount(batches)
        .setReadLsn(readLsn)
        .setStrategy(MergeRecords.toRecord(s))
        .setSourceForkId("src")
        .setSourceSnapshotId("src-000000000007")
        .setBaseSnapshotId("main-000000000001")
        .build();
  }

  /** Appends {@code payloads} in order; returns their LSNs. */
  private long[] log(WalWriter w, byte[]... payloads) throws Exception {
    long[] lsns = new long[payloads.length];
    for (int i = 0; i < payloads.length; i++) {
      lsns[i] = w.append(payloads[i], Durability.SYNC).lsn();
    }
    return lsns;
  }

  /** Replays the whole WAL of {@code walDir} as recovery does, with the head covering {@code covered}. */
  private L0Buffer replay(Path walDir, long covered, CollectionRegistry reg, MergeLog mergeLog) throws Exception {
    L0Buffer active = new L0Buffer(covered);
    L0BulkLoad load = active.bulkLoad();
    MergeReplay r = new MergeReplay("f", LocalVfs.INSTANCE, walDir, covered, load, reg, mergeLog);
    L0Record record = new L0Record();
    try (WalReader reader = WalReader.open(LocalVfs.INSTANCE, walDir, 0)) {
      WalRecord rec;
      while ((rec = reader.next()) != null) {
        byte[] p = rec.payload();
        if (!r.consume(rec.lsn(), p, 0, p.length)) {
          WalEntries.parse(rec.lsn(), p, 0, p.length, record);
          load.add(rec.lsn(), record);
        }
      }
    }
    r.finish();
    load.finish();
    return active;
  }

  @Test
  void theCommitRuleSeesTheTargetsWritesBetweenTheReadAndTheCommit() throws Exception {
    Path walDir = dir.resolve("wal");
    Map<String, List<Mutation>> merge = changes("a", "src a", "b", "src b", "c", null);
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, walDir, WalOptions.defaults())) {
      byte[] before = WalEntries.encodeWrite(C, List.of(new Mutation.Put(doc("a", "target a, before the read")))).bytes();
      List<byte[]> batches = MergeRecords.encodeBatches("m1", Map.of(), merge, 1 << 20);
      byte[] during = WalEntries.encodeWrite(C, List.of(new Mutation.Put(doc("b", "target b, in the window")), new Mutation.Put(doc("z", "unrelated")))).bytes();
      long[] l = log(w, before, batches.get(0), during);
      long commitLsn = log(w, MergeRecords.encodeCommit(commit("m1", 1, l[0], MergeStrategy.FAIL)))[0];

      MergeRecords.Window win =
          MergeRecords.window(LocalVfs.INSTANCE, walDir, l[0], commitLsn, "m1", MergeRecords.keysOf(merge), Set.of());
      assertThat(win.keys()).as("only the merge's keys written after the read").containsExactly(new MergeRecords.Key(C, "b"));
      assertThat(MergeRecords.effective(MergeStrategy.FAIL, merge, win, "m1")).as("FAIL: a late conflict voids it").isNull();
      assertThat(MergeRecords.effective(MergeStrategy.TARGET_WINS, merge, win, "m1").get(C))
          .extracting(Mutation::id)
          .containsExactly("a", "c");
      assertThat(MergeRecords.effective(MergeStrategy.SOURCE_WINS, merge, win, "m1")).isEqualTo(merge);
      MergeRecords.Window defined =
          MergeRecords.window(LocalVfs.INSTANCE, walDir, 0, commitLsn, "m1", Set.of(), Set.of("docs"));
      assertThat(defined.collections()).isEmpty();

      // Replay decides the same from the log: FAIL was void, so L0 has the target's writes only.
      MergeLog mergeLog = new MergeLog();
      L0Buffer l0 = replay(walDir, 0, new CollectionRegistry(), mergeLog);
      assertThat(l0.get(C, "a").document().fields().get("body")).isEqualTo(new FieldValue.Str("target a, before the read"));
      assertThat(l0.get(C, "b").document().fields().get("body")).isEqualTo(new FieldValue.Str("target b, in the window"));
      assertThat(l0.get(C, "c")).isNull();
      assertThat(mergeLog.committedUpTo(Long.MAX_VALUE)).isEmpty();
    }
  }

  @Test
  void recoveryAppliesACommittedMergeAtItsCommitLsnAndDropsWhatNeverCommitted() throws Exception {
    Path walDir = dir.resolve("wal");
    Map<String, List<Mutation>> merge = changes("a", "src a", "b", null);
    long commitLsn;
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, walDir, WalOptions.defaults())) {
      List<byte[]> orphan = MergeRecords.encodeBatches("dead", Map.of(), changes("x", "never"), 1 << 20);
      log(w, orphan.get(0)); // a merge whose process died before its commit
      log(w, WalEntries.encodeWrite(C, List.of(new Mutation.Put(doc("b", "target b")))).bytes());
      // Two batches (tiny bound), a definition, then the commit, read LSN 2.
      List<byte[]> batches = MergeRecords.encodeBatches("m2", Map.of("extra", SCHEMA), merge, 10);
      assertThat(batches).hasSizeGreaterThan(1);
      for (byte[] b : batches) {
        log(w, b);
      }
      commitLsn = log(w, MergeRecords.encodeCommit(commit("m2", batches.size(), 2, MergeStrategy.FAIL)))[0];
      log(w, MergeRecords.encodeMarker(MergeMarker.newBuilder().setMergeId("ff").build()));
      List<byte[]> short1 = MergeRecords.encodeBatches("short", Map.of(), changes("y", "lost"), 1 << 20);
      log(w, MergeRecords.encodeCommit(commit("short", 2, 0, MergeStrategy.SOURCE_WINS)), short1.get(0));
    }
    CollectionRegistry reg = new CollectionRegistry();
    MergeLog mergeLog = new MergeLog();
    L0Buffer l0 = replay(walDir, 0, reg, mergeLog);
    assertThat(l0.get(C, "a").lsn()).as("at the commit LSN").isEqualTo(commitLsn);
    assertThat(l0.get(C, "b").isTombstone()).isTrue();
    assertThat(l0.get(C, "x")).as("never committed").isNull();
    assertThat(l0.get(C, "y")).as("a commit before its batches is void").isNull();
    assertThat(reg.get("extra").createdLsn()).isEqualTo(commitLsn);
    assertThat(mergeLog.committedUpTo(Long.MAX_VALUE)).singleElement().satisfies(m -> assertThat(m.getLsn()).isEqualTo(commitLsn));

    // A head that covers the commit already holds the merge: replay leaves it alone.
    MergeLog covered = new MergeLog();
    L0Buffer after = replay(walDir, commitLsn, new CollectionRegistry(), covered);
    assertThat(after.get(C, "a")).isNull();
    assertThat(covered.committedUpTo(Long.MAX_VALUE)).isEmpty();
  }

  @Test
  void theFloorHoldsTheLogUntilASnapshotCoversTheCommit() {
    MergeLog m = new MergeLog();
    assertThat(m.tryBegin()).isTrue();
    assertThat(m.tryBegin()).as("one merge at a time").isFalse();
    m.pin(11);
    m.published(50);
    assertThat(m.truncationFloor()).as("held while the merge runs").isEqualTo(11);
    m.endRun(20);
    m.published(19);
    assertThat(m.truncationFloor()).isEqualTo(11);
    m.published(20);
    assertThat(m.truncationFloor()).isEqualTo(MergeLog.NO_FLOOR);
    assertThat(m.tryBegin()).isTrue();
    m.pin(30);
    m.endRun(0);
    assertThat(m.truncationFloor()).as("nothing committed: lifted at once").isEqualTo(MergeLog.NO_FLOOR);
  }
}
