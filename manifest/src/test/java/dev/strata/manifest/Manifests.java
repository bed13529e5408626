package dev.strata.manifest;

import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.FieldDef;
import dev.strata.manifest.proto.FieldKind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestStats;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;

/** Test fixtures: valid manifests and chains. */
final class Manifests {
  static final String FORK = "main-00000000000000aa";

  private Manifests() {}

  /** The first manifest of {@link #FORK}: a root with no parent. */
  static Manifest root(long seq) {
    return Manifest.newBuilder()
        .setId("s" + seq)
        .setForkId(FORK)
        .setForkName("main")
        .setSeq(seq)
        .setCoveredLsn(seq * 10)
        .addSegments(segment("seg-" + seq, seq * 10))
        .addCollections(CollectionDef.newBuilder()
            .setName("docs")
            .setCreatedLsn(1)
            .addFields(FieldDef.newBuilder().setName("title").setKind(FieldKind.FIELD_KIND_TEXT).setAnalyzer("standard"))
            .addFields(FieldDef.newBuilder().setName("year").setKind(FieldKind.FIELD_KIND_LONG)))
        .setStats(ManifestStats.newBuilder().setSegmentCount(1).setDocCount(3).setSizeBytes(1024))
        .setCreateTimeMs(1_700_000_000_000L + seq)
        .build();
  }

  /** The successor of {@code parent}: seq + 1, a new segment in front, LSN + 10. */
  static Manifest next(Manifest parent) {
    return next(parent, "s" + (parent.getSeq() + 1));
  }

  /** Same, with id {@code id}. */
  static Manifest next(Manifest parent, String id) {
    long seq = parent.getSeq() + 1;
    return parent.toBuilder()
        .setId(id)
        .setSeq(seq)
        .setParentId(parent.getId())
        .setParentSeq(parent.getSeq())
        .setCoveredLsn(parent.getCoveredLsn() + 10)
        .addSegments(0, segment("seg-" + id, parent.getCoveredLsn() + 10))
        .setCreateTimeMs(parent.getCreateTimeMs() + 1)
        .build();
  }

  static SegmentRef segment(String id, long lsn) {
    return SegmentRef.newBuilder()
        .setSegmentId(id)
        .setDocCount(3)
        .setTombstoneCount(1)
        .setSizeBytes(1024)
        .setChecksum(0xdeadbeef)
        .setMinLsn(Math.max(0, lsn - 9))
        .setMaxLsn(lsn)
        .setOrigin(SegmentOrigin.SEGMENT_ORIGIN_FLUSH)
        .setOriginForkId(FORK)
        .build();
  }
}
