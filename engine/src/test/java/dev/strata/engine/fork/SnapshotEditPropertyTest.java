package dev.strata.engine.fork;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.manifest.proto.ManifestStats;
import dev.strata.manifest.proto.MergeKind;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * {@link SnapshotEdit} as a pure function: a random sequence of flush, compaction and merge edits
 * (fast-forwards, and flushes that hold three-way merges) applied in seq order gives, at every
 * step, the same manifest as rebuilding it from scratch from a plain model (the list of segments,
 * the covered LSN, the collections, the newest merge per source fork), and the parent chain holds.
 */
class SnapshotEditPropertyTest {
  /**
   * One step: a flush (with or without a new segment, covering more LSNs, maybe defining a
   * collection) or a compaction of a run chosen by fractions of the current head; {@code seqGap}
   * &gt; 1 models the gap an aborted compaction leaves.
   */
  record Step(boolean compaction, boolean writesSegment, int lsnAdvance, boolean defines, double runStart,
      double runLength, int docs, int tombstones, int seqGap, int merge) {
    /** A fast-forward from source fork {@code merge - 6} (0..2), or -1. */
    int fastForwardFrom() {
      return merge >= 6 && merge <= 8 ? merge - 6 : -1;
    }

    /** A three-way merge from source fork {@code merge - 9} (0..2) this flush holds, or -1. */
    int threeWayFrom() {
      return merge >= 9 ? merge - 9 : -1;
    }
  }

  @Provide
  Arbitrary<Step> steps() {
    return Combinators.combine(
            Combinators.combine(
                    Arbitraries.of(true, false, false),
                    Arbitraries.of(true, true, true, false),
                    Arbitraries.of(true, false, false, false, false))
                .as((c, w, d) -> new boolean[] {c, w, d}),
            Arbitraries.integers().between(0, 50),
            Arbitraries.doubles().between(0, 1),
            Arbitraries.doubles().between(0, 1),
            Arbitraries.integers().between(0, 1000),
            Combinators.combine(Arbitraries.integers().between(0, 100), Arbitraries.of(1, 1, 1, 2, 3))
                .as((tombs, gap) -> new int[] {tombs, gap}),
            Arbitraries.integers().between(0, 11))
        .as((flags, lsn, start, len, docs, tg, merge) ->
            new Step(flags[0], flags[1], lsn, flags[2], start, len, docs, tg[0], tg[1], merge));
  }

  /** The plain model a manifest is rebuilt from. */
  private static final class Model {
    final List<SegmentRef> segments = new ArrayList<>();
    final List<CollectionDef> collections = new ArrayList<>();
    long coveredLsn;
    long seq;
    String headId = "";
    long headSeq = -1;
    long nextSegmentId = 1;
    final TreeMap<String, MergeRef> merges = new TreeMap<>();

    long docCount() {
      return segments.stream().mapToLong(SegmentRef::getDocCount).sum();
    }
  }

  private static SegmentRef ref(long id, int docs, int tombstones, SegmentOrigin origin) {
    return SegmentRef.newBuilder()
        .setSegmentId(String.format("%016x", id))
        .setDocCount(docs)
        .setTombstoneCount(tombstones)
        .setSizeBytes(100L * docs + 7)
        .setOrigin(origin)
        .setOriginForkId("fork-1")
        .build();
  }

  @Property(tries = 400)
  void editsAppliedInSeqOrderEqualTheManifestRebuiltFromScratch(
      @ForAll @Size(max = 60) List<@From("steps") Step> steps, @ForAll boolean forked) {
    ForkEntry fork = ForkEntry.create("f", forked ? "base-000000000004" : "", 1_000);
    Model model = new Model();
    Manifest head = null;
    if (forked) {
      Manifest base =
          Manifest.newBuilder()
              .setId("base-000000000004")
              .setForkId("base")
              .setSeq(4)
              .setCoveredLsn(77)
              .addSegments(ref(900, 5, 0, SegmentOrigin.SEGMENT_ORIGIN_FLUSH))
              .addCollections(CollectionDef.newBuilder().setName("inherited").setCreatedLsn(12))
              .setStats(ManifestStats.newBuilder().setDocCount(5))
              .build();
      head = SnapshotEdit.firstOfFork(fork, base, 2_000);
      assertThat(head.getParentId()).isEqualTo(base.getId());
      assertThat(head.getCollections(0).getCreatedLsn()).as("LSNs of the base's WAL mean nothing here").isZero();
      model.segments.addAll(base.getSegmentsList());
      model.collections.add(head.getCollections(0));
      model.seq = 1;
      model.headId = head.getId();
      model.headSeq = 1;
    }
    for (Step step : steps) {
      long seq = model.seq + step.seqGap();
      boolean canCompact = head != null && !model.segments.isEmpty();
      SnapshotEdit edit;
      ManifestOrigin origin;
      if (step.fastForwardFrom() >= 0 && !step.compaction()) {
        origin = ManifestOrigin.MANIFEST_ORIGIN_MERGE;
        String sourceFork = "src" + step.fastForwardFrom();
        Manifest source = source(model, sourceFork, step);
        model.segments.clear();
        model.segments.addAll(source.getSegmentsList());
        model.coveredLsn += 1 + step.lsnAdvance(); // the marker's LSN, above the head's
        MergeRef ref = mergeRef(sourceFork, source.getId(), MergeKind.MERGE_KIND_FAST_FORWARD, model.coveredLsn);
        edit = SnapshotEdit.merge(seq, model.coveredLsn, source, model.collections, ref);
        model.merges.put(sourceFork, ref.toBuilder().setMergedInSeq(seq).build());
      } else if (step.compaction() && canCompact) {
        origin = ManifestOrigin.MANIFEST_ORIGIN_COMPACTION;
        int n = model.segments.size();
        int start = Math.min(n - 1, (int) (step.runStart() * n));
        int len = Math.max(1, Math.min(n - start, (int) Math.ceil(step.runLength() * (n - start))));
        List<String> run = new ArrayList<>();
        for (int i = start; i < start + len; i++) {
          run.add(model.segments.get(i).getSegmentId());
        }
        SegmentRef merged = ref(model.nextSegmentId++, step.docs(), 0, SegmentOrigin.SEGMENT_ORIGIN_COMPACTION);
        edit = SnapshotEdit.compaction(seq, run, merged);
        assertThat(edit.runStart(head)).as("the run is found where it is").contains(start);
        model.segments.subList(start, start + len).clear();
        model.segments.add(start, merged);
      } else {
        origin = ManifestOrigin.MANIFEST_ORIGIN_FLUSH;
        SegmentRef added = null;
        if (step.writesSegment()) {
          added = ref(model.nextSegmentId++, step.docs(), step.tombstones(), SegmentOrigin.SEGMENT_ORIGIN_FLUSH);
          model.segments.add(0, added);
        }
        model.coveredLsn += step.lsnAdvance();
        if (step.defines()) {
          model.collections.add(CollectionDef.newBuilder().setName("c" + model.collections.size()).setCreatedLsn(model.coveredLsn).build());
        }
        edit = SnapshotEdit.flush(seq, model.coveredLsn, added, model.collections);
        if (step.threeWayFrom() >= 0) {
          String sourceFork = "src" + step.threeWayFrom();
          MergeRef ref = mergeRef(sourceFork, sourceFork + "-00000000000" + step.docs() % 10, MergeKind.MERGE_KIND_THREE_WAY, model.coveredLsn);
          edit = edit.withMerges(List.of(ref));
          model.merges.put(sourceFork, ref.toBuilder().setMergedInSeq(seq).build());
        }
      }
      Manifest next = edit.applyTo(head, fork, 5_000 + seq);
      Manifest rebuilt = rebuild(model, fork, seq, origin, 5_000 + seq);
      assertThat(next).as("seq %d", seq).isEqualTo(rebuilt);
      // The chain: every manifest's parent is the one published just before it on this fork.
      assertThat(next.getSeq()).isGreaterThan(head == null ? 0 : head.getSeq());
      assertThat(next.getParentId()).isEqualTo(model.headId);
      if (model.headSeq >= 0) {
        assertThat(next.getParentSeq()).isEqualTo(model.headSeq);
      }
      assertThat(SnapshotEdit.forkIdOf(next.getId())).isEqualTo(fork.forkId());
      head = next;
      model.seq = seq;
      model.headId = next.getId();
      model.headSeq = seq;
    }
  }

  /** The manifest the model describes, built directly. */
  private static Manifest rebuild(Model m, ForkEntry fork, long seq, ManifestOrigin origin, long createTimeMs) {
    Manifest.Builder b =
        Manifest.newBuilder()
            .setId(SnapshotEdit.snapshotId(fork.forkId(), seq))
            .setForkId(fork.forkId())
            .setForkName(fork.name())
            .setSeq(seq)
            .setParentId(m.headId)
            .setCoveredLsn(m.coveredLsn)
            .addAllSegments(m.segments)
            .addAllCollections(m.collections)
            .setStats(ManifestStats.newBuilder().setDocCount(m.docCount()))
            .setCreateTimeMs(createTimeMs)
            .setBaseSnapshotId(fork.baseSnapshotId())
            .setOrigin(origin)
            .addAllMerges(m.merges.values());
    if (m.headSeq >= 0) {
      b.setParentSeq(m.headSeq);
    }
    return b.build();
  }

  /** A source fork's snapshot: one to three fresh segments, stats = the sum of their documents. */
  private static Manifest source(Model model, String sourceFork, Step step) {
    Manifest.Builder b = Manifest.newBuilder().setId(sourceFork + "-000000000042").setForkId(sourceFork).setSeq(42);
    long docs = 0;
    for (int i = 0; i <= step.docs() % 3; i++) {
      SegmentRef r = ref(model.nextSegmentId++, step.docs() + i, step.tombstones(), SegmentOrigin.SEGMENT_ORIGIN_FLUSH);
      b.addSegments(r.toBuilder().setOriginForkId(sourceFork));
      docs += r.getDocCount();
    }
    return b.setStats(ManifestStats.newBuilder().setDocCount(docs)).build();
  }

  private static MergeRef mergeRef(String sourceFork, String sourceSnapshot, MergeKind kind, long lsn) {
    return MergeRef.newBuilder()
        .setSourceForkId(sourceFork)
        .setSourceSnapshotId(sourceSnapshot)
        .setBaseSnapshotId("base-000000000004")
        .setKind(kind)
        .setLsn(lsn)
        .build();
  }

  @Property(tries = 50)
  void aMergeMarkerBelowTheHeadIsRefused(@ForAll @Size(min = 1, max = 5) List<Integer> docs) {
    ForkEntry fork = ForkEntry.create("f", "", 1);
    Manifest head = null;
    long seq = 0;
    for (int d : docs) {
      seq++;
      head = SnapshotEdit.flush(seq, 10 * seq, ref(seq, d, 0, SegmentOrigin.SEGMENT_ORIGIN_FLUSH), List.of()).applyTo(head, fork, seq);
    }
    Manifest h = head;
    Manifest source = Manifest.newBuilder().setId("s-000000000001").setForkId("s").setSeq(1).build();
    SnapshotEdit below =
        SnapshotEdit.merge(seq + 1, h.getCoveredLsn() - 1, source, List.of(), mergeRef("s", source.getId(), MergeKind.MERGE_KIND_FAST_FORWARD, 1));
    assertThatThrownBy(() -> below.applyTo(h, fork, 1)).isInstanceOf(IllegalArgumentException.class);
    SnapshotEdit compaction = SnapshotEdit.compaction(seq + 1, List.of(h.getSegments(0).getSegmentId()), ref(99, 1, 0, SegmentOrigin.SEGMENT_ORIGIN_COMPACTION));
    assertThatThrownBy(() -> compaction.withMerges(List.of(mergeRef("s", "s-000000000001", MergeKind.MERGE_KIND_THREE_WAY, 5))))
        .as("only flushes take WAL-committed merges")
        .isInstanceOf(IllegalStateException.class);
  }

  @Property(tries = 50)
  void aCompactionWhoseRunLeftTheHeadIsRefused(@ForAll @Size(min = 1, max = 8) List<Integer> docs) {
    ForkEntry fork = ForkEntry.create("f", "", 1);
    Manifest head = null;
    long seq = 0;
    for (int d : docs) {
      seq++;
      head = SnapshotEdit.flush(seq, seq, ref(seq, d, 0, SegmentOrigin.SEGMENT_ORIGIN_FLUSH), List.of()).applyTo(head, fork, seq);
    }
    SnapshotEdit gone = SnapshotEdit.compaction(seq + 1, List.of(String.format("%016x", 999)), ref(1000, 1, 0, SegmentOrigin.SEGMENT_ORIGIN_COMPACTION));
    Manifest h = head;
    assertThat(gone.runStart(h)).isEmpty();
    assertThatThrownBy(() -> gone.applyTo(h, fork, 1)).isInstanceOf(IllegalArgumentException.class);
    SnapshotEdit stale = SnapshotEdit.flush(seq, seq, null, List.of());
    assertThatThrownBy(() -> stale.applyTo(h, fork, 1)).as("a seq not above the head's").isInstanceOf(IllegalArgumentException.class);
  }
}
