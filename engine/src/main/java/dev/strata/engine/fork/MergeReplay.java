package dev.strata.engine.fork;

import dev.strata.engine.l0.L0BulkLoad;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.MergeBatch;
import dev.strata.engine.proto.MergeCommit;
import dev.strata.engine.proto.WalEntry;
import dev.strata.manifest.proto.MergeKind;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery's side of the merge record protocol ({@link ForkMerge}, {@link MergeRecords}). Replay
 * reads the WAL from its oldest kept record (a merge's batches may lie at or below the head's
 * covered LSN, since a flush can cover them before their commit) and hands every record here first:
 *
 * <ul>
 *   <li>a {@code MergeBatch} is kept, by merge id, until its commit;
 *   <li>a {@code MergeCommit} at or below the covered LSN is in the head already: its batches are
 *       dropped;
 *   <li>a {@code MergeCommit} above it takes effect as at run time: if every batch is there, the
 *       commit rule is evaluated on the log between its read LSN and its LSN, and the effective
 *       changes go into L0 at the commit LSN, its collections into the registry; the merge is
 *       registered for the manifest of the next flush. Missing batches (cut by truncation after
 *       the merge was void) make it void;
 *   <li>a {@code MergeMarker} changes nothing (a fast-forward happened in its manifest or not at
 *       all);
 *   <li>any other record at or below the covered LSN is skipped without being parsed.
 * </ul>
 *
 * Batches never followed by their commit (the process died during the merge) are dropped and
 * logged: the merge left no trace.
 *
 * <p>Confined to the recovering thread.
 */
final class MergeReplay {
  private static final Logger log = LoggerFactory.getLogger(MergeReplay.class);

  private final String forkName;
  private final Vfs vfs;
  private final Path walDir;
  private final long coveredLsn;
  private final L0BulkLoad load;
  private final CollectionRegistry collections;
  private final MergeLog mergeLog;
  private final Map<String, List<MergeBatch>> pending = new HashMap<>();
  private int applied;
  private int voided;

  MergeReplay(
      String forkName, Vfs vfs, Path walDir, long coveredLsn, L0BulkLoad load, CollectionRegistry collections, MergeLog mergeLog) {
    this.forkName = forkName;
    this.vfs = vfs;
    this.walDir = walDir;
    this.coveredLsn = coveredLsn;
    this.load = load;
    this.collections = collections;
    this.mergeLog = mergeLog;
  }

  /**
   * Takes one record, in log order.
   *
   * @return true if the record is dealt with here (a merge record, or any record the head covers);
   *     false if the caller replays it as a write or a definition
   * @throws IOException if a commit's window cannot be read
   */
  boolean consume(long lsn, byte[] src, int off, int len) throws IOException {
    int kind = MergeRecords.kindOf(src, off, len);
    boolean merge = kind == MergeRecords.BATCH || kind == MergeRecords.COMMIT || kind == MergeRecords.MARKER;
    if (!merge) {
      return lsn <= coveredLsn;
    }
    WalEntry e = WalEntries.decode(lsn, Arrays.copyOfRange(src, off, off + len));
    if (e.hasMergeBatch()) {
      pending.computeIfAbsent(e.getMergeBatch().getMergeId(), k -> new ArrayList<>()).add(e.getMergeBatch());
    } else if (e.hasMergeCommit()) {
      commit(lsn, e.getMergeCommit());
    }
    return true;
  }

  private void commit(long lsn, MergeCommit c) throws IOException {
    List<MergeBatch> batches = pending.remove(c.getMergeId());
    if (lsn <= coveredLsn) {
      return; // the head holds it
    }
    if (batches == null || batches.size() != c.getBatchCount()) {
      voided++;
      log.warn("fork={} merge {} at LSN {}: {} of {} batches in the log; void", forkName, c.getMergeId(), lsn,
          batches == null ? 0 : batches.size(), c.getBatchCount());
      return;
    }
    MergeRecords.Decoded d = MergeRecords.decode(batches);
    MergeRecords.Window w =
        MergeRecords.window(
            vfs, walDir, c.getReadLsn(), lsn, c.getMergeId(), MergeRecords.keysOf(d.changes()), d.definitions().keySet());
    Map<String, List<Mutation>> effective =
        MergeRecords.effective(MergeRecords.fromRecord(c.getStrategy()), d.changes(), w, c.getMergeId());
    if (effective == null) {
      voided++;
      return;
    }
    d.definitions().forEach((name, schema) -> collections.restore(new CollectionRegistry.Collection(name, schema, lsn)));
    // Through the bulk load in log order, as a Write's record of these mutations would be.
    effective.forEach((coll, ms) -> load.add(lsn, WalEntries.encodeWrite(coll, ms).l0()));
    mergeLog.committed(
        lsn,
        MergeRef.newBuilder()
            .setSourceForkId(c.getSourceForkId())
            .setSourceSnapshotId(c.getSourceSnapshotId())
            .setBaseSnapshotId(c.getBaseSnapshotId())
            .setKind(MergeKind.MERGE_KIND_THREE_WAY)
            .build());
    applied++;
  }

  /** Logs what was replayed and drops the batches of merges that never committed. */
  void finish() {
    if (!pending.isEmpty() || applied > 0 || voided > 0) {
      log.info("fork={} replay: {} merges applied, {} void, {} unfinished merges dropped ({} batches)", forkName,
          applied, voided, pending.size(), pending.values().stream().mapToInt(List::size).sum());
    }
    pending.clear();
  }
}
