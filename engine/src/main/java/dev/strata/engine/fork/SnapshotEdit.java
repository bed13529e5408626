package dev.strata.engine.fork;

import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.WrittenSegment;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.manifest.proto.ManifestStats;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A change to a fork's segment list, as a value: applied to the head manifest it gives the next
 * manifest (LevelDB's {@code VersionEdit}: "version N + edit = version N+1"). Flush publication and
 * compaction install both publish through one, so the rules for the next manifest are in one place:
 *
 * <ul>
 *   <li><b>Flush</b>: the new segment (if the flush wrote one) goes first, newest first; the head's
 *       segments follow unchanged. The covered LSN becomes the flush's; the collections are those
 *       defined at or below it, with their live document counts; the document count is their sum.
 *   <li><b>Compaction</b>: a contiguous run of the head's segments is replaced, in place, by the
 *       merged segment. Covered LSN, collections and live counts stay the head's (a compaction
 *       adds no write and changes no live document).
 *   <li><b>Merge</b> (a fast-forward {@code MergeFork}): the segment list becomes the source
 *       snapshot's, whole (O(1), no data copied); the covered LSN becomes the merge marker's; the
 *       collections are the ones given (the source's, with this fork's creation LSNs).
 * </ul>
 *
 * Every kind carries the head's {@code merges} (one {@link MergeRef} per source fork) and adds the
 * merges it holds: a merge edit its own, a flush those whose commit records it covers ({@link
 * #withMerges}); a newer merge of a source replaces the older one.
 *
 * For manifests written before live counts existed (collections without {@code live_doc_count}),
 * the document count is the old informational total: every version in the segments.
 *
 * In both, the next manifest's id is {@code <fork id>-<seq>}, its parent is the head (none before
 * the fork's first manifest), its origin says which kind published it, and tags are never
 * inherited (they live in the catalog). {@link #applyTo} is a pure function: same inputs, same
 * manifest.
 *
 * <p>Immutable and thread-safe.
 */
public final class SnapshotEdit {
  private final long seq;
  private final ManifestOrigin origin;
  /** Flush only. */
  private final long coveredLsn;
  /** The flush's new segment, the compaction's merged one; null for a flush that wrote none. */
  private final SegmentRef added;
  /** Compaction only: the replaced run's segment ids, newest first. */
  private final List<String> replacedRun;
  /** Flush and merge: the fork's collections as of the covered LSN. */
  private final List<CollectionDef> collections;
  /** Merge only: the source snapshot whose segments the fork takes. */
  private final Manifest mergeSource;
  /** Merges this edit's manifest holds (merged_in_seq = this edit's seq). */
  private final List<MergeRef> newMerges;

  private SnapshotEdit(
      long seq,
      ManifestOrigin origin,
      long coveredLsn,
      SegmentRef added,
      List<String> replacedRun,
      List<CollectionDef> collections,
      Manifest mergeSource,
      List<MergeRef> newMerges) {
    if (seq < 1) {
      throw new IllegalArgumentException("seq must be at least 1, got " + seq);
    }
    this.seq = seq;
    this.origin = origin;
    this.coveredLsn = coveredLsn;
    this.added = added;
    this.replacedRun = List.copyOf(replacedRun);
    this.collections = List.copyOf(collections);
    this.mergeSource = mergeSource;
    List<MergeRef> stamped = new ArrayList<>();
    newMerges.forEach(r -> stamped.add(r.toBuilder().setMergedInSeq(seq).build()));
    this.newMerges = List.copyOf(stamped);
  }

  /**
   * A flush's edit.
   *
   * @param seq the flush's seq (rotate order)
   * @param coveredLsn every WAL record with LSN ≤ this is in the next manifest
   * @param newSegment the segment the flush wrote, or null if its buffer held only definitions
   * @param collections the fork's collections defined at or below {@code coveredLsn}, each with
   *     its live document count in the new snapshot
   */
  public static SnapshotEdit flush(
      long seq, long coveredLsn, SegmentRef newSegment, List<CollectionDef> collections) {
    return new SnapshotEdit(seq, ManifestOrigin.MANIFEST_ORIGIN_FLUSH, coveredLsn, newSegment, List.of(), collections, null, List.of());
  }

  /**
   * A compaction's edit.
   *
   * @param runIds the merged segments' ids (hex, as in manifests), newest first: a contiguous run
   *     of the head's list
   * @param merged the merged segment
   */
  public static SnapshotEdit compaction(long seq, List<String> runIds, SegmentRef merged) {
    if (runIds.isEmpty()) {
      throw new IllegalArgumentException("a compaction replaces at least one segment");
    }
    return new SnapshotEdit(seq, ManifestOrigin.MANIFEST_ORIGIN_COMPACTION, 0, merged, runIds, List.of(), null, List.of());
  }

  /**
   * A fast-forward merge's edit: the fork takes {@code source}'s segments whole.
   *
   * @param markerLsn the LSN of the merge's marker record in this fork's WAL: the next manifest
   *     covers it (the head must cover every LSN below it)
   * @param source the source snapshot's manifest (of another fork)
   * @param collections the collections of the merged snapshot, with their live counts
   * @param merge the merge (its merged_in_seq is set to {@code seq})
   */
  public static SnapshotEdit merge(
      long seq, long markerLsn, Manifest source, List<CollectionDef> collections, MergeRef merge) {
    return new SnapshotEdit(
        seq, ManifestOrigin.MANIFEST_ORIGIN_MERGE, markerLsn, null, List.of(), collections, source, List.of(merge));
  }

  /**
   * This flush edit with the merges it holds: those whose commit record it covers (their
   * merged_in_seq is set to this edit's seq).
   */
  public SnapshotEdit withMerges(List<MergeRef> merges) {
    if (merges.isEmpty()) {
      return this;
    }
    if (origin != ManifestOrigin.MANIFEST_ORIGIN_FLUSH) {
      throw new IllegalStateException("only a flush edit takes merges committed through the WAL");
    }
    List<MergeRef> all = new ArrayList<>(newMerges);
    all.addAll(merges);
    return new SnapshotEdit(seq, origin, coveredLsn, added, replacedRun, collections, mergeSource, all);
  }

  /** The seq of the manifest this edit makes. */
  public long seq() {
    return seq;
  }

  /** Where {@link #compaction}'s run starts in {@code head}'s segment list, or empty if it is not there. */
  public Optional<Integer> runStart(Manifest head) {
    if (head == null || replacedRun.isEmpty()) {
      return Optional.empty();
    }
    List<String> ids = new ArrayList<>(head.getSegmentsCount());
    head.getSegmentsList().forEach(r -> ids.add(r.getSegmentId()));
    int at = Collections.indexOfSubList(ids, replacedRun);
    return at < 0 ? Optional.empty() : Optional.of(at);
  }

  /**
   * The next manifest: {@code head} with this edit applied.
   *
   * @param head the fork's head manifest, or null before its first (a flush only)
   * @param fork the fork's catalog entry (id, name, base snapshot)
   * @param createTimeMs the new manifest's creation time, ms since the epoch
   * @throws IllegalArgumentException if a compaction's run is not a contiguous run of {@code head},
   *     or {@code seq} is not above the head's
   */
  public Manifest applyTo(Manifest head, ForkEntry fork, long createTimeMs) {
    if (head != null && seq <= head.getSeq()) {
      throw new IllegalArgumentException("seq " + seq + " is not above the head's " + head.getSeq());
    }
    return switch (origin) {
      case MANIFEST_ORIGIN_COMPACTION -> applyCompaction(head, fork, createTimeMs);
      case MANIFEST_ORIGIN_MERGE -> applyMerge(head, fork, createTimeMs);
      default -> applyFlush(head, fork, createTimeMs);
    };
  }

  private Manifest applyMerge(Manifest head, ForkEntry fork, long createTimeMs) {
    if (head != null && coveredLsn < head.getCoveredLsn()) {
      throw new IllegalArgumentException(
          "a merge marker at LSN " + coveredLsn + " is below the head's covered LSN " + head.getCoveredLsn());
    }
    long docs = mergeSource.getStats().getDocCount();
    if (!collections.isEmpty() && collections.stream().allMatch(CollectionDef::hasLiveDocCount)) {
      docs = collections.stream().mapToLong(CollectionDef::getLiveDocCount).sum();
    }
    return next(head, fork, createTimeMs, mergeSource.getSegmentsList(), docs);
  }

  /** The next manifest of a flush or a merge: the given segments, this edit's LSN and collections. */
  private Manifest next(Manifest head, ForkEntry fork, long createTimeMs, List<SegmentRef> segments, long docs) {
    Manifest.Builder b =
        Manifest.newBuilder()
            .setId(snapshotId(fork.forkId(), seq))
            .setForkId(fork.forkId())
            .setForkName(fork.name())
            .setSeq(seq)
            .setCoveredLsn(coveredLsn)
            .addAllSegments(segments)
            .addAllCollections(collections)
            .setCreateTimeMs(createTimeMs)
            .setBaseSnapshotId(fork.baseSnapshotId())
            .setOrigin(origin)
            .setStats(ManifestStats.newBuilder().setDocCount(docs).build())
            .addAllMerges(mergesAfter(head));
    if (head != null) {
      b.setParentId(head.getId()).setParentSeq(head.getSeq());
    }
    return b.build();
  }

  /** The head's merges with this edit's own: one per source fork, the newest winning, by fork id. */
  private List<MergeRef> mergesAfter(Manifest head) {
    Map<String, MergeRef> bySource = new LinkedHashMap<>();
    if (head != null) {
      head.getMergesList().forEach(r -> bySource.put(r.getSourceForkId(), r));
    }
    newMerges.forEach(r -> bySource.put(r.getSourceForkId(), r));
    List<MergeRef> out = new ArrayList<>(bySource.values());
    out.sort(Comparator.comparing(MergeRef::getSourceForkId));
    return out;
  }

  private Manifest applyFlush(Manifest head, ForkEntry fork, long createTimeMs) {
    List<SegmentRef> refs = new ArrayList<>();
    long docs = head == null ? 0 : head.getStats().getDocCount();
    if (added != null) {
      refs.add(added);
      docs += added.getDocCount();
    }
    if (!collections.isEmpty() && collections.stream().allMatch(CollectionDef::hasLiveDocCount)) {
      docs = collections.stream().mapToLong(CollectionDef::getLiveDocCount).sum();
    }
    if (head != null) {
      refs.addAll(head.getSegmentsList());
    }
    return next(head, fork, createTimeMs, refs, docs);
  }

  private Manifest applyCompaction(Manifest head, ForkEntry fork, long createTimeMs) {
    int at =
        runStart(head)
            .orElseThrow(
                () -> new IllegalArgumentException("segments " + replacedRun + " are not a contiguous run of the head"));
    int end = at + replacedRun.size();
    List<SegmentRef> old = head.getSegmentsList();
    List<SegmentRef> refs = new ArrayList<>(old.subList(0, at));
    refs.add(added);
    refs.addAll(old.subList(end, old.size()));
    long docs = head.getStats().getDocCount() + added.getDocCount();
    for (SegmentRef r : old.subList(at, end)) {
      docs -= r.getDocCount();
    }
    if (head.getCollectionsCount() > 0 && head.getCollectionsList().stream().allMatch(CollectionDef::hasLiveDocCount)) {
      docs = head.getStats().getDocCount(); // a merge changes no live document
    }
    return head.toBuilder()
        .setId(snapshotId(fork.forkId(), seq))
        .setSeq(seq)
        .setParentId(head.getId())
        .setParentSeq(head.getSeq())
        .clearSegments()
        .addAllSegments(refs)
        .clearTags()
        .setCreateTimeMs(createTimeMs)
        .setOrigin(origin)
        .setStats(ManifestStats.newBuilder().setDocCount(Math.max(0, docs)).build())
        .build();
  }

  /**
   * A new fork's first manifest (seq 1): the base snapshot's segments and collections, O(1), no
   * data copied. Its parent is the base snapshot (of another fork) and it covers LSN 0 of the new
   * fork's own WAL; the collections' creation LSNs are reset to 0 for the same reason.
   */
  public static Manifest firstOfFork(ForkEntry fork, Manifest base, long createTimeMs) {
    return Manifest.newBuilder()
        .setId(snapshotId(fork.forkId(), 1))
        .setForkId(fork.forkId())
        .setForkName(fork.name())
        .setSeq(1)
        .setParentId(base.getId())
        .setCoveredLsn(0)
        .addAllSegments(base.getSegmentsList())
        .addAllCollections(base.getCollectionsList().stream().map(c -> c.toBuilder().setCreatedLsn(0).build()).toList())
        .setStats(base.getStats())
        .setCreateTimeMs(createTimeMs)
        .setBaseSnapshotId(base.getId())
        .setOrigin(ManifestOrigin.MANIFEST_ORIGIN_FLUSH)
        .build();
  }

  /** The manifest entry of a segment the fork {@code forkId} wrote. */
  public static SegmentRef refOf(WrittenSegment w, SegmentOrigin origin, String forkId) {
    return SegmentRef.newBuilder()
        .setSegmentId(SegmentStore.hex(w.segmentId()))
        .setDocCount(w.docCount())
        .setTombstoneCount(w.tombstoneCount())
        .setSizeBytes(w.sizeBytes())
        .setChecksum((int) w.contentChecksum())
        .setMinLsn(w.minLsn())
        .setMaxLsn(w.maxLsn())
        .setOrigin(origin)
        .setOriginForkId(forkId)
        .build();
  }

  /** The numeric segment id of a manifest entry (16 hex digits). */
  public static long segmentId(SegmentRef ref) {
    return Long.parseUnsignedLong(ref.getSegmentId(), 16);
  }

  /** {@code <forkId>-<seq, 12 digits>}: unique across forks, sorts by seq within one. */
  public static String snapshotId(String forkId, long seq) {
    return forkId + "-" + String.format("%012d", seq);
  }

  /**
   * The fork id inside a snapshot id ({@code <fork id>-<seq>}: the text before the last '-'), or
   * "" if it has none.
   */
  public static String forkIdOf(String snapshotId) {
    int dash = snapshotId == null ? -1 : snapshotId.lastIndexOf('-');
    return dash <= 0 ? "" : snapshotId.substring(0, dash);
  }
}
