package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.retention.RetentionPolicy;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ManifestConflictException;
import dev.strata.manifest.ManifestNotFoundException;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork's chain of snapshots, as LevelDB's {@code VersionSet}: the manifest store, the retained
 * snapshots (what retention and GC need of each, in memory, so neither reads a manifest file), the
 * segments in doubt, expiry, and the sets of segments the chain refers to.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>A retained entry outlives its file.</b> An entry is added right after its manifest is
 *       durable and removed only after the file is deleted: GC, which reads {@link
 *       #referencedSegments()}, never sees a segment unreferenced while a manifest naming it
 *       exists.
 *   <li><b>In doubt means kept.</b> A publication that failed at or after its rename may be
 *       durable: its new segments join the in-doubt set and this process never deletes them
 *       (recovery decides from what is on disk).
 *   <li><b>Unknown means no GC.</b> If a manifest could not be read at open, {@link
 *       #segmentsKnown()} is false for the life of this process: the fork's segments are not all
 *       known, so the engine collects nothing.
 * </ol>
 *
 * <p>Thread-safe: concurrent collections only. Publications run on the fork's finalizer, one at a
 * time; expiry on the engine's GC thread, one at a time; reads anywhere.
 */
final class SnapshotChain implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SnapshotChain.class);

  /**
   * A manifest failed to publish before its rename: certainly not durable, and the store is still
   * usable, so the seq may stay a gap and the fork go on.
   */
  static final class CleanPublishFailure extends IOException {
    CleanPublishFailure(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  private final ForkEntry entry;
  private final ManifestStore manifests;
  private final SegmentStore segments;
  private final SegmentIdAllocator segmentIds;
  /** Every retained manifest by seq (invariant 1). */
  private final ConcurrentSkipListMap<Long, RetainedSnapshot> retained;
  /** Segments of publications in doubt (invariant 2). */
  private final Set<Long> inDoubtSegments = ConcurrentHashMap.newKeySet();
  private final boolean segmentsKnown;

  /**
   * @param retained the retained manifests read at open, by seq (ownership moves here)
   * @param segmentsKnown false if a manifest could not be read at open
   */
  SnapshotChain(
      ForkEntry entry,
      ManifestStore manifests,
      SortedMap<Long, RetainedSnapshot> retained,
      boolean segmentsKnown,
      SegmentStore segments,
      SegmentIdAllocator segmentIds) {
    this.entry = entry;
    this.manifests = manifests;
    this.retained = new ConcurrentSkipListMap<>(retained);
    this.segmentsKnown = segmentsKnown;
    this.segments = segments;
    this.segmentIds = segmentIds;
  }

  /**
   * Writes {@code next} durably and adds it to the retained set ({@code VersionSet::LogAndApply}).
   * On the fork's finalizer only.
   *
   * @param newSegmentIds the segments this publication adds: in doubt if it fails in doubt
   * @throws CleanPublishFailure if it failed before its rename (nothing in doubt)
   * @throws IOException if it failed in doubt (the store is failed for good: fsyncgate)
   * @throws ManifestConflictException if the seq is taken (a broken ordering invariant)
   */
  Manifest logAndApply(Manifest next, Collection<Long> newSegmentIds) throws IOException, ManifestConflictException {
    Manifest m;
    try {
      m = manifests.publish(next);
    } catch (IOException e) {
      if (manifests.isUsable()) {
        throw new CleanPublishFailure(e);
      }
      inDoubtSegments.addAll(newSegmentIds);
      throw e;
    }
    retained.put(m.getSeq(), RetainedSnapshot.of(m));
    return m;
  }

  /**
   * Loads a retained manifest by seq.
   *
   * @throws ManifestNotFoundException if it expired or never existed
   * @throws IOException if it cannot be read
   */
  Manifest load(long seq) throws IOException {
    return manifests.load(seq);
  }

  /**
   * Loads a retained manifest by snapshot id.
   *
   * @throws StrataException NOT_FOUND if it is not a retained snapshot of this fork
   */
  Manifest load(String snapshotId) {
    try {
      return manifests.load(seqOf(snapshotId));
    } catch (IOException e) {
      throw StrataException.notFound("snapshot '" + snapshotId + "' does not exist");
    }
  }

  /** True while the manifest of {@code seq} is retained. */
  boolean isRetained(long seq) {
    return retained.containsKey(seq);
  }

  /**
   * Every retained manifest, oldest first (those expiring during the walk are skipped).
   *
   * @throws StrataException IO_ERROR if the directory cannot be listed
   */
  List<Manifest> list() {
    List<Manifest> out = new ArrayList<>();
    walk(out::add);
    return out;
  }

  /**
   * The first retained manifest whose covered LSN reaches {@code lsn}, or null if none does.
   *
   * @throws StrataException IO_ERROR if the directory cannot be listed
   */
  Manifest firstCovering(long lsn) {
    Manifest[] found = new Manifest[1];
    walk(
        m -> {
          if (m.getCoveredLsn() < lsn) {
            return true;
          }
          found[0] = m;
          return false;
        });
    return found[0];
  }

  /** Loads retained manifests oldest first while {@code more} says so; skips those expiring. */
  private void walk(Predicate<Manifest> more) {
    try {
      for (long seq : manifests.list()) {
        Manifest m;
        try {
          m = manifests.load(seq);
        } catch (ManifestNotFoundException e) {
          continue; // expired by retention between the listing and the load
        }
        if (!more.test(m)) {
          return;
        }
      }
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot list snapshots: " + e.getMessage(), e);
    }
  }

  /** The manifest chain's problems (empty = sound). */
  List<String> verifyChain() throws IOException {
    List<String> out = new ArrayList<>();
    manifests.verifyChain().forEach(p -> out.add(p.toString()));
    return out;
  }

  /**
   * The seq of one of this fork's snapshot ids.
   *
   * @throws StrataException NOT_FOUND if the id is of another fork; INVALID_ARGUMENT if malformed
   */
  long seqOf(String snapshotId) {
    if (!entry.forkId().equals(SnapshotEdit.forkIdOf(snapshotId))) {
      throw StrataException.notFound("snapshot '" + snapshotId + "' is not of fork '" + entry.name() + "'");
    }
    try {
      return Long.parseLong(snapshotId.substring(snapshotId.lastIndexOf('-') + 1));
    } catch (NumberFormatException e) {
      throw StrataException.invalid("malformed snapshot id '" + snapshotId + "'");
    }
  }

  /** Segment ids referenced by a retained manifest or in doubt (GC keeps them). */
  Set<Long> referencedSegments() {
    Set<Long> out = new HashSet<>(inDoubtSegments);
    for (RetainedSnapshot r : retained.values()) {
      out.addAll(r.segmentBytes().keySet());
    }
    return out;
  }

  /** Bytes of every segment a retained manifest refers to, by id (manifest sizes; no file read). */
  Map<Long, Long> retainedSegmentBytes() {
    Map<Long, Long> out = new HashMap<>();
    retained.values().forEach(r -> out.putAll(r.segmentBytes()));
    return out;
  }

  /** Number of retained manifests. */
  int retainedCount() {
    return retained.size();
  }

  /** See invariant 3. */
  boolean segmentsKnown() {
    return segmentsKnown;
  }

  /**
   * Releases the handle of a segment that will not be published and deletes it — unless a
   * manifest naming it may be on disk (in doubt) or a retained one names it: then it stays. Either
   * way its id leaves the in-flight set.
   */
  void discardUnpublished(Segment segment) {
    long id = segment.segmentId();
    segment.release();
    try {
      if (inDoubtSegments.contains(id) || isReferenced(id)) {
        return;
      }
      segments.discard(id);
    } catch (IOException | RuntimeException e) {
      log.warn("fork={} could not discard unpublished segment {}: {}", entry.name(), SegmentStore.hex(id), e.toString());
    } finally {
      segmentIds.settle(id);
    }
  }

  private boolean isReferenced(long segmentId) {
    for (RetainedSnapshot r : retained.values()) {
      if (r.segmentBytes().containsKey(segmentId)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Deletes the snapshots past retention ({@link RetentionPolicy}): their manifest files go first
   * (with a directory fsync), then they leave the retained set (invariant 1). Never the head.
   * Call from one thread at a time (the engine's GC thread).
   *
   * @param protectedIds tagged snapshots and fork bases, kept whatever their age
   * @param confirm given the ids the policy would expire, returns those that may really go and
   *     marks them as going
   * @param done told the confirmed ids once their files are deleted (or the deletion failed)
   * @return the ids that expired
   * @throws IOException if a manifest cannot be deleted (those deleted so far stay deleted)
   */
  List<String> expire(
      Set<String> protectedIds,
      RetentionOptions retention,
      long nowMs,
      UnaryOperator<List<String>> confirm,
      Consumer<List<String>> done)
      throws IOException {
    List<RetentionPolicy.SnapshotInfo> infos = new ArrayList<>();
    retained.forEach((seq, r) -> infos.add(new RetentionPolicy.SnapshotInfo(seq, r.id(), r.createTimeMs())));
    List<String> ids = new ArrayList<>();
    for (long seq : RetentionPolicy.expired(infos, protectedIds, retention, nowMs)) {
      RetainedSnapshot r = retained.get(seq);
      if (r != null) {
        ids.add(r.id());
      }
    }
    return expireIds(ids, confirm, done);
  }

  /**
   * Deletes the named snapshots (retention's space bound chose them), as {@link #expire}: files
   * first, then the retained set. Never the head; ids no longer retained are skipped.
   *
   * @return the ids that expired
   * @throws IOException if a manifest cannot be deleted (those deleted so far stay deleted)
   */
  List<String> expireIds(List<String> ids, UnaryOperator<List<String>> confirm, Consumer<List<String>> done)
      throws IOException {
    Map<String, Long> seqById = new LinkedHashMap<>();
    long headSeq = retained.isEmpty() ? -1 : retained.lastKey();
    for (RetainedSnapshot r : retained.values()) {
      if (ids.contains(r.id()) && r.seq() != headSeq) {
        seqById.put(r.id(), r.seq());
      }
    }
    if (seqById.isEmpty()) {
      return List.of();
    }
    List<String> going = confirm.apply(new ArrayList<>(seqById.keySet()));
    if (going.isEmpty()) {
      return List.of();
    }
    List<Long> expired = new ArrayList<>();
    going.forEach(id -> expired.add(seqById.get(id)));
    try {
      manifests.delete(expired);
    } finally {
      done.accept(going);
    }
    expired.forEach(retained::remove);
    log.debug("fork={} expired {} snapshots: seqs {}", entry.name(), expired.size(), expired);
    return going;
  }

  /** Every retained snapshot, oldest first. */
  List<RetainedSnapshot> retained() {
    return new ArrayList<>(retained.values());
  }

  /** Closes the manifest store. Idempotent. */
  @Override
  public void close() {
    manifests.close();
  }
}
