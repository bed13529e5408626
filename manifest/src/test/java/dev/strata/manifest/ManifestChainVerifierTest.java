package dev.strata.manifest;

import static dev.strata.manifest.Manifests.next;
import static dev.strata.manifest.Manifests.root;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.manifest.ChainProblem.Kind;
import dev.strata.manifest.proto.FieldDef;
import dev.strata.manifest.proto.FieldKind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentOrigin;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each chain invariant is caught, named, and only that one. */
class ManifestChainVerifierTest {

  /** root(1) and four successors. */
  private static List<Manifest> chain() {
    List<Manifest> c = new ArrayList<>(List.of(root(1)));
    for (int i = 0; i < 4; i++) {
      c.add(next(c.get(c.size() - 1)));
    }
    return c;
  }

  private static List<Manifest> replace(int index, Manifest m) {
    List<Manifest> c = chain();
    c.set(index, m);
    return c;
  }

  private static List<Kind> kinds(List<Manifest> chain) {
    return ManifestChainVerifier.verify(chain).stream().map(ChainProblem::kind).toList();
  }

  @Test
  void aValidChainHasNoProblems() {
    assertThat(ManifestChainVerifier.verify(chain())).isEmpty();
    assertThat(ManifestChainVerifier.verify(List.of())).isEmpty();
    assertThat(ManifestChainVerifier.verify(List.of(root(5)))).isEmpty();
  }

  @Test
  void aWrongParentIdIsCaughtAndNamesTheManifest() {
    Manifest bad = chain().get(3).toBuilder().setParentId("nope").build();
    List<ChainProblem> problems = ManifestChainVerifier.verify(replace(3, bad));
    assertThat(problems).extracting(ChainProblem::kind).containsExactly(Kind.PARENT_MISMATCH);
    assertThat(problems.get(0).subject()).isEqualTo("manifest seq=4 id=s4");
    assertThat(problems.get(0).toString()).contains("parent_id 'nope'", "has id 's3'");
  }

  @Test
  void aLinkThatSkipsAPresentManifestIsCaught() {
    Manifest bad = chain().get(3).toBuilder().setParentId("s2").setParentSeq(2).build();
    assertThat(kinds(replace(3, bad))).containsExactly(Kind.PARENT_MISMATCH);
  }

  @Test
  void aSecondFirstManifestInsideAChainIsCaught() {
    Manifest bad = chain().get(2).toBuilder().clearParentSeq().build();
    assertThat(kinds(replace(2, bad))).containsExactly(Kind.PARENT_MISMATCH);
  }

  @Test
  void anExpiredPredecessorIsAllowed() {
    List<Manifest> c = chain();
    c.remove(2); // seq 3 expired by retention: 4's parent_seq 3 lies between 2 and 4
    c.remove(0);
    assertThat(ManifestChainVerifier.verify(c)).isEmpty();
  }

  @Test
  void nonIncreasingSeqsAreCaught() {
    List<Manifest> c = chain();
    Manifest dup = c.get(2).toBuilder().setId("s3b").build();
    c.add(3, dup); // seq 3 twice
    assertThat(kinds(c)).contains(Kind.SEQ_NOT_INCREASING);

    List<Manifest> swapped = chain();
    Manifest third = swapped.get(2);
    swapped.set(2, swapped.get(3));
    swapped.set(3, third);
    assertThat(kinds(swapped)).contains(Kind.SEQ_NOT_INCREASING);
  }

  @Test
  void aDecreasingCoveredLsnIsCaught() {
    Manifest bad = chain().get(2).toBuilder().setCoveredLsn(chain().get(1).getCoveredLsn() - 1).build();
    assertThat(kinds(replace(2, bad))).containsExactly(Kind.LSN_DECREASED);
    Manifest equal = chain().get(2).toBuilder().setCoveredLsn(chain().get(1).getCoveredLsn()).build();
    assertThat(kinds(replace(2, equal))).as("equal LSN is fine").isEmpty();
  }

  @Test
  void unsignedLsnsCompareAsUnsigned() {
    Manifest big = chain().get(1).toBuilder().setCoveredLsn(-1L).build(); // 2^64-1
    Manifest after = chain().get(2).toBuilder().setCoveredLsn(5).build();
    List<Manifest> c = chain();
    c.set(1, big);
    c.set(2, after);
    assertThat(kinds(c)).contains(Kind.LSN_DECREASED);
  }

  @Test
  void anotherForksManifestIsCaught() {
    Manifest bad = chain().get(2).toBuilder().setForkId("other-0000000000000001").build();
    assertThat(kinds(replace(2, bad))).containsExactly(Kind.FORK_MISMATCH);
  }

  @Test
  void aChangedBaseIsCaught() {
    Manifest bad = chain().get(4).toBuilder().setBaseSnapshotId("x").build();
    assertThat(kinds(replace(4, bad))).containsExactly(Kind.BASE_CHANGED);
  }

  @Test
  void duplicateIdsAreCaught() {
    List<Manifest> c = chain();
    Manifest fifth = c.get(4).toBuilder().setId("s2").setParentId("s4").build();
    c.set(4, fifth);
    assertThat(kinds(c)).containsExactly(Kind.DUPLICATE_ID);
  }

  @Test
  void structuralRulesOfOneManifest() {
    Manifest ok = root(3);
    assertThat(ManifestChainVerifier.checkManifest(ok)).isEmpty();
    assertInvalid(ok.toBuilder().setId("").build(), "empty id");
    assertInvalid(ok.toBuilder().setForkId("").build(), "empty fork_id");
    assertInvalid(ok.toBuilder().setSeq(-5).build(), "2^63");
    assertInvalid(ok.toBuilder().setParentId("s3").build(), "parent_id equals id");
    assertInvalid(ok.toBuilder().setParentId("p").setParentSeq(3).build(), "not below seq");
    assertInvalid(ok.toBuilder().setParentSeq(1).build(), "parent_id empty");
    assertInvalid(ok.toBuilder().addSegments(ok.getSegments(0)).build(), "listed twice");
    assertInvalid(ok.toBuilder().setSegments(0, ok.getSegments(0).toBuilder().setSegmentId("")).build(), "empty id");
    assertInvalid(ok.toBuilder().setSegments(0, ok.getSegments(0).toBuilder().setMinLsn(50).setMaxLsn(40)).build(), "min_lsn");
    assertInvalid(ok.toBuilder().setSegments(0, ok.getSegments(0).toBuilder().setOrigin(SegmentOrigin.SEGMENT_ORIGIN_UNSPECIFIED)).build(), "no origin");
    assertInvalid(ok.toBuilder().addCollections(ok.getCollections(0)).build(), "defined twice");
    assertInvalid(ok.toBuilder().setCollections(0, ok.getCollections(0).toBuilder()
        .addFields(FieldDef.newBuilder().setName("title").setKind(FieldKind.FIELD_KIND_KEYWORD))).build(), "field 'title' twice");
    assertInvalid(ok.toBuilder().setCollections(0, ok.getCollections(0).toBuilder()
        .addFields(FieldDef.newBuilder().setName("x"))).build(), "has no kind");
    assertInvalid(ok.toBuilder().addTags("t").addTags("t").build(), "tag 't' listed twice");
    assertInvalid(ok.toBuilder().addTags("").build(), "empty tag");
  }

  private static void assertInvalid(Manifest m, String detail) {
    List<ChainProblem> problems = ManifestChainVerifier.checkManifest(m);
    assertThat(problems).isNotEmpty().allMatch(p -> p.kind() == Kind.INVALID_MANIFEST);
    assertThat(problems).anyMatch(p -> p.detail().contains(detail));
    assertThat(ManifestChainVerifier.verify(List.of(m))).extracting(ChainProblem::kind).contains(Kind.INVALID_MANIFEST);
  }
}
