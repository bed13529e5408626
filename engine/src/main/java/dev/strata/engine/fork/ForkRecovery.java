package dev.strata.engine.fork;

import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.proto.WalEntry;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ManifestConflictException;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.WalReader;
import dev.strata.wal.WalRecord;
import dev.strata.wal.WalWriter;
import java.io.IOException;
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
 *       manifest yet (a crash during fork creation) gets its first manifest from the base now.
 *   <li>Verify the chain. A broken chain, or a manifest that cannot be read, does not stop the
 *       open: the fork opens read-only with the reason, and segment GC stays off while any
 *       manifest is unreadable ({@link SnapshotChain} invariant 3).
 *   <li>Open the head snapshot: a head that cannot be opened fails the open.
 *   <li>Open the WAL and replay every record past the head's covered LSN: definitions into the
 *       collection registry, writes into the active L0 buffer.
 * </ol>
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
   * @param base the base snapshot's manifest, needed only when the fork has no manifest yet
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
        headManifest = Optional.of(publishFirstManifest(manifests, entry, base, ctx.options().clock().millis()));
      }
      List<String> chainProblems = new ArrayList<>();
      manifests.verifyChain().forEach(p -> chainProblems.add(p.toString()));
      String problem = chainProblems.isEmpty() ? null : "manifest chain: " + chainProblems;
      if (headManifest.isPresent()) {
        head = openHead(ctx, headManifest.get(), openBase);
      }
      wal = WalWriter.open(ctx.vfs(), dir.resolve("wal"), ctx.options().wal());
      SortedMap<Long, RetainedSnapshot> retained = new TreeMap<>();
      boolean segmentsKnown = true;
      for (long seq : manifests.list()) {
        try {
          retained.put(seq, RetainedSnapshot.of(manifests.load(seq)));
        } catch (IOException e) {
          problem = "manifest seq " + seq + " unreadable: " + e.getMessage();
          segmentsKnown = false;
        }
      }
      CollectionRegistry collections = new CollectionRegistry();
      headManifest.ifPresent(m -> m.getCollectionsList().forEach(d -> collections.restore(CollectionRegistry.fromDef(d))));
      long covered = headManifest.map(Manifest::getCoveredLsn).orElse(0L);
      L0Buffer active = new L0Buffer(covered);
      MergeLog merges = new MergeLog();
      int replayed = replay(ctx, entry, covered, active, collections, merges);
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

  private static Manifest publishFirstManifest(ManifestStore store, ForkEntry entry, Manifest base, long nowMs)
      throws IOException {
    if (base == null) {
      throw new IOException(
          "fork '" + entry.name() + "' has no manifest and its base snapshot " + entry.baseSnapshotId() + " is gone");
    }
    try {
      return store.publish(SnapshotEdit.firstOfFork(entry, base, nowMs));
    } catch (ManifestConflictException e) {
      throw new IOException("could not publish the first manifest of fork " + entry.name(), e);
    }
  }

  /**
   * Replays the WAL past {@code coveredLsn}; returns the number of records replayed. Reads from the
   * oldest record kept: records at or below the covered LSN go to {@link MergeReplay} only (a
   * merge's batches may be there), unparsed unless they are merge records.
   */
  private static int replay(
      ForkContext ctx, ForkEntry entry, long coveredLsn, L0Buffer active, CollectionRegistry collections, MergeLog merges)
      throws IOException {
    int n = 0;
    Path walDir = ctx.forkDir(entry.forkId()).resolve("wal");
    MergeReplay mergeReplay = new MergeReplay(entry.name(), ctx.vfs(), walDir, coveredLsn, active, collections, merges);
    try (WalReader reader = WalReader.open(ctx.vfs(), walDir, 0)) {
      WalRecord r;
      while ((r = reader.next()) != null) {
        if (mergeReplay.consume(r.lsn(), r.payload())) {
          n += r.lsn() > coveredLsn ? 1 : 0;
          continue;
        }
        WalEntry e = WalEntries.decode(r.lsn(), r.payload());
        if (e.hasDefineCollection()) {
          collections.restore(
              new CollectionRegistry.Collection(
                  e.getDefineCollection().getName(), WalEntries.schemaOf(e.getDefineCollection()), r.lsn()));
        } else if (e.hasWrite()) {
          ForkWriter.replay(active, r.lsn(), e.getWrite().getCollection(), WalEntries.mutationsOf(e.getWrite()));
        }
        n++;
      }
    }
    mergeReplay.finish();
    return n;
  }
}
