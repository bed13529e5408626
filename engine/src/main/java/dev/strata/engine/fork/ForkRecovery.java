package dev.strata.engine.fork;

import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.L0BulkLoad;
import dev.strata.engine.l0.L0Record;
import dev.strata.engine.proto.CollectionDefinition;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ManifestConflictException;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.WalReplaySink;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens one fork and recovers it (SPEC §5.6, LevelDB's {@code DBImpl::Recover}): the manifest
 * store and its chain, the head snapshot (segments pinned, liveness built), the WAL, and the WAL's
 * records past the head's covered LSN replayed into a fresh L0 buffer.
 *
 * <h2>Steps</h2>
 *
 * <ol>
 *   <li>Open the manifest store. A fork whose catalog entry names a base snapshot but has no
 *       manifest on disk (a new fork, before its first flush) gets its first manifest derived from
 *       the entry and the base ({@link SnapshotEdit#firstOfFork}, stamped with the entry's creation
 *       time, so every derivation gives the same manifest) and adopted in memory: creating a fork
 *       writes no manifest, the fork's first publication writes it ({@link
 *       ManifestStore#adoptFirst}).
 *   <li>Read every manifest once and verify the chain. A broken chain, or a manifest that cannot be
 *       read, does not stop the open: the fork opens read-only with the reason, and segment GC
 *       stays off while any manifest is unreadable ({@link SnapshotChain} invariant 3).
 *   <li>Open the head snapshot: a head that cannot be opened fails the open.
 *   <li>Open the WAL, deleting first the segments wholly covered by the head (a truncation a crash
 *       cut short may have left them with a gap between), and replay every record past the head's
 *       covered LSN in the same pass that checks its CRC ({@link WalReplaySink}): definitions into
 *       the collection registry, writes into the active L0 buffer.
 * </ol>
 *
 * For a new fork this is the whole of its creation after the catalog entry: no fsync (the WAL
 * directory is empty, the manifest directory too).
 *
 * Nothing stays open or pinned when {@link #recover} throws.
 *
 * <p>Runs on the caller's thread (the engine's open, or a fork create); touches nothing shared.
 */
final class ForkRecovery {
  private static final Logger log = LoggerFactory.getLogger(ForkRecovery.class);

  private ForkRecovery() {}

  /**
   * What recovery hands to the {@link Fork} it opens (ownership of every resource moves with it).
   *
   * @param head the head snapshot with one reference, or null before the fork's first flush
   * @param active the active L0 buffer, holding the replayed records
   * @param retained every manifest read at open, by seq
   * @param segmentsKnown false if a manifest could not be read
   * @param problem why the fork must open read-only, or null
   * @param replayedRecords WAL records replayed
   */
  record RecoveredFork(
      ManifestStore manifests,
      WalWriter wal,
      PublishedSnapshot head,
      L0Buffer active,
      CollectionRegistry collections,
      SortedMap<Long, RetainedSnapshot> retained,
      boolean segmentsKnown,
      String problem,
      int replayedRecords,
      MergeLog merges) {}

  /**
   * Recovers the fork of {@code entry}.
   *
   * @param base the base snapshot's manifest, needed only when the fork has no manifest on disk
   * @param openBase the base snapshot, already open, or null: its liveness is reused when the head
   *     has exactly its segments (a new fork's first snapshot), so creating a fork rebuilds nothing
   * @throws IOException if the WAL or manifest directory cannot be opened, the head cannot be
   *     opened, or the fork has no manifest and its base is gone
   */
  static RecoveredFork recover(ForkContext ctx, ForkEntry entry, Manifest base, PublishedSnapshot openBase)
      throws IOException {
    Path dir = ctx.forkDir(entry.forkId());
    ctx.vfs().createDirectories(dir);
    ManifestStore manifests =
        ManifestStore.open(ctx.vfs(), ManifestStore.directoryFor(ctx.dataDir(), entry.forkId()), entry.forkId());
    PublishedSnapshot head = null;
    WalWriter wal = null;
    try {
      Optional<Manifest> headManifest = manifests.head();
      if (headManifest.isEmpty() && !entry.baseSnapshotId().isEmpty()) {
        adoptFirstManifest(manifests, entry, base);
        headManifest = manifests.head();
      }
      ManifestStore.Chain chain = manifests.readChain();
      List<String> chainProblems = new ArrayList<>();
      chain.problems().forEach(p -> chainProblems.add(p.toString()));
      String problem = chainProblems.isEmpty() ? null : "manifest chain: " + chainProblems;
      boolean segmentsKnown = !chain.hasUnreadable();
      SortedMap<Long, RetainedSnapshot> retained = new TreeMap<>();
      chain.manifests().forEach((seq, m) -> retained.put(seq, RetainedSnapshot.of(m)));
      if (headManifest.isPresent()) {
        head = openHead(ctx, headManifest.get(), openBase);
      }
      CollectionRegistry collections = new CollectionRegistry();
      headManifest.ifPresent(m -> m.getCollectionsList().forEach(d -> collections.restore(CollectionRegistry.fromDef(d))));
      long covered = headManifest.map(Manifest::getCoveredLsn).orElse(0L);
      L0Buffer active = new L0Buffer(covered);
      MergeLog merges = new MergeLog();
      // One pass: the WAL checks each record's CRC as it hands it to the replay. It reads from the
      // oldest record kept (0): a merge's batches may lie at or below the covered LSN (MergeReplay).
      // The head holds every record up to the covered LSN, so a gap below covered + 1 is what a
      // truncation cut short by a power loss left, and the segments before it go (WalRecovery).
      Path walDir = dir.resolve("wal");
      L0BulkLoad load = active.bulkLoad();
      MergeReplay mergeReplay = new MergeReplay(entry.name(), ctx.vfs(), walDir, covered, load, collections, merges);
      Replay replay = new Replay(covered, load, collections, mergeReplay);
      wal = WalWriter.open(ctx.vfs(), walDir, ctx.options().wal(), 0, covered + 1, replay);
      mergeReplay.finish();
      load.finish();
      int replayed = replay.records;
      log.info(
          "fork={} id={} opened: head={} coveredLsn={} walLastLsn={} replayedRecords={} l0Bytes={}",
          entry.name(), entry.forkId(), headManifest.map(Manifest::getId).orElse("-"), covered, wal.lastLsn(),
          replayed, active.sizeBytes());
      return new RecoveredFork(manifests, wal, head, active, collections, retained, segmentsKnown, problem, replayed, merges);
    } catch (IOException | RuntimeException e) {
      // Nothing may stay pinned or open by a fork that did not open.
      if (head != null) {
        head.release();
      }
      if (wal != null) {
        try {
          wal.close();
        } catch (IOException | RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      manifests.close();
      throw e;
    }
  }

  /** True if the fork's manifest directory holds at least one published manifest. */
  static boolean hasManifest(ForkContext ctx, ForkEntry entry) throws IOException {
    Path dir = ManifestStore.directoryFor(ctx.dataDir(), entry.forkId());
    if (!ctx.vfs().exists(dir)) {
      return false;
    }
    for (Path p : ctx.vfs().list(dir)) {
      if (p.getFileName().toString().endsWith(ManifestStore.FILE_SUFFIX)) {
        return true;
      }
    }
    return false;
  }

  private static PublishedSnapshot openHead(ForkContext ctx, Manifest head, PublishedSnapshot openBase)
      throws IOException {
    LivenessMap reuse = null;
    if (openBase != null && openBase.manifest().getSegmentsList().equals(head.getSegmentsList())) {
      reuse = openBase.liveness();
    }
    try {
      return PublishedSnapshot.open(ctx.segments(), head, reuse);
    } catch (RuntimeException e) {
      throw new IOException("head snapshot " + head.getId() + " cannot be opened: " + e.getMessage(), e);
    }
  }

  /**
   * Derives the fork's first manifest from its entry and base and makes it the store's head in
   * memory; the fork's first publication writes it. Stamped with the entry's creation time, so a
   * derivation after a crash gives the same manifest as the one at creation.
   */
  private static void adoptFirstManifest(ManifestStore store, ForkEntry entry, Manifest base) throws IOException {
    if (base == null) {
      throw new IOException(
          "fork '" + entry.name() + "' has no manifest and its base snapshot " + entry.baseSnapshotId() + " is gone");
    }
    try {
      store.adoptFirst(SnapshotEdit.firstOfFork(entry, base, entry.createTimeMs()));
    } catch (ManifestConflictException e) {
      throw new IOException("could not derive the first manifest of fork " + entry.name(), e);
    }
  }

  /**
   * Replays the WAL records as {@link WalWriter#open} hands them over: merge records and every
   * record the head covers go to {@link MergeReplay} first (it applies a committed merge's changes
   * at its commit LSN); the records past the head's covered LSN go definitions into the collection
   * registry, writes into the active L0 buffer, each record's bytes parsed in place ({@link
   * WalEntries#parse}) and its documents' bodies copied straight from the WAL's read buffer into the
   * arena. The buffer is bulk-loaded ({@link L0BulkLoad}: no one can read it before the fork
   * opens), and indexed in one sorted pass once the WAL is read. One thread (the fork's open); one
   * reused {@link L0Record}.
   */
  private static final class Replay implements WalReplaySink {
    private final long coveredLsn;
    private final L0BulkLoad load;
    private final CollectionRegistry collections;
    private final MergeReplay merges;
    private final L0Record record = new L0Record();
    private int records;

    Replay(long coveredLsn, L0BulkLoad load, CollectionRegistry collections, MergeReplay merges) {
      this.coveredLsn = coveredLsn;
      this.load = load;
      this.collections = collections;
      this.merges = merges;
    }

    @Override
    public void accept(long lsn, ByteBuffer payload) throws IOException {
      byte[] src;
      int off;
      if (payload.hasArray()) {
        src = payload.array();
        off = payload.arrayOffset() + payload.position();
      } else {
        src = new byte[payload.remaining()];
        payload.get(payload.position(), src);
        off = 0;
      }
      int len = payload.remaining();
      if (merges.consume(lsn, src, off, len)) {
        records += lsn > coveredLsn ? 1 : 0;
        return;
      }
      CollectionDefinition d = WalEntries.parse(lsn, src, off, len, record);
      if (d != null) {
        collections.restore(new CollectionRegistry.Collection(d.getName(), WalEntries.schemaOf(d), lsn));
      } else {
        load.add(lsn, record);
      }
      records++;
    }
  }
}
