package dev.strata.manifest;

import dev.strata.manifest.ChainProblem.Kind;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.FieldDef;
import dev.strata.manifest.proto.FieldKind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the invariants of one fork's manifest chain and of single manifests. Used by {@link
 * ManifestStore#publish} (one manifest), by engine recovery and by the {@code Verify} RPC (the
 * chain). Pure functions; thread-safe. LSNs and seqs are compared as unsigned 64-bit numbers.
 *
 * <p>Chain invariants, for a list ordered oldest first and each consecutive pair (p, n):
 *
 * <ol>
 *   <li>{@link Kind#FORK_MISMATCH}: every manifest has the {@code fork_id} of the first.
 *   <li>{@link Kind#SEQ_NOT_INCREASING}: {@code n.seq > p.seq}.
 *   <li>{@link Kind#LSN_DECREASED}: {@code n.covered_lsn >= p.covered_lsn}.
 *   <li>{@link Kind#PARENT_MISMATCH}: n has a {@code parent_seq} (only a fork's first manifest has
 *       none, and it can only be first in the list); if {@code n.parent_seq == p.seq} then {@code
 *       n.parent_id == p.id}; {@code n.parent_seq < p.seq} is a link that skips p, an error; {@code
 *       p.seq < n.parent_seq < n.seq} means n's parent was expired by retention (or lost; the store's
 *       {@link ManifestStore#verifyChain()} reports unreadable files separately), which is allowed.
 *   <li>{@link Kind#BASE_CHANGED}: {@code n.base_snapshot_id == p.base_snapshot_id}.
 *   <li>{@link Kind#DUPLICATE_ID}: ids are unique.
 *   <li>Each manifest passes {@link #checkManifest}.
 * </ol>
 */
public final class ManifestChainVerifier {

  private ManifestChainVerifier() {}

  /**
   * Checks a chain ordered oldest first (as {@link ManifestStore#list()} returns seqs).
   *
   * @return every problem found, in chain order; empty if the chain is valid
   */
  public static List<ChainProblem> verify(List<Manifest> chain) {
    List<ChainProblem> problems = new ArrayList<>();
    Map<String, Manifest> byId = new HashMap<>();
    Manifest prev = null;
    for (Manifest m : chain) {
      problems.addAll(checkManifest(m));
      Manifest other = byId.putIfAbsent(m.getId(), m);
      if (other != null) {
        problems.add(problem(Kind.DUPLICATE_ID, m, "id also used by seq " + Long.toUnsignedString(other.getSeq())));
      }
      if (prev != null) {
        checkLink(prev, m, chain.get(0).getForkId(), problems);
      }
      prev = m;
    }
    return List.copyOf(problems);
  }

  private static void checkLink(Manifest p, Manifest n, String forkId, List<ChainProblem> problems) {
    if (!n.getForkId().equals(forkId)) {
      problems.add(problem(Kind.FORK_MISMATCH, n,
          "fork_id '" + n.getForkId() + "', chain is of fork '" + forkId + "'"));
    }
    if (Long.compareUnsigned(n.getSeq(), p.getSeq()) <= 0) {
      problems.add(problem(Kind.SEQ_NOT_INCREASING, n,
          "seq not greater than predecessor's " + Long.toUnsignedString(p.getSeq())));
    }
    if (Long.compareUnsigned(n.getCoveredLsn(), p.getCoveredLsn()) < 0) {
      problems.add(problem(Kind.LSN_DECREASED, n,
          "covered_lsn " + Long.toUnsignedString(n.getCoveredLsn())
              + " < predecessor's " + Long.toUnsignedString(p.getCoveredLsn())
              + " (seq " + Long.toUnsignedString(p.getSeq()) + ")"));
    }
    if (!n.hasParentSeq()) {
      problems.add(problem(Kind.PARENT_MISMATCH, n,
          "has no parent_seq (a fork's first manifest) but follows seq " + Long.toUnsignedString(p.getSeq())));
    } else if (n.getParentSeq() == p.getSeq()) {
      if (!n.getParentId().equals(p.getId())) {
        problems.add(problem(Kind.PARENT_MISMATCH, n,
            "parent_id '" + n.getParentId() + "' but the manifest at parent_seq " + Long.toUnsignedString(p.getSeq())
                + " has id '" + p.getId() + "'"));
      }
    } else if (Long.compareUnsigned(n.getParentSeq(), p.getSeq()) < 0) {
      problems.add(problem(Kind.PARENT_MISMATCH, n,
          "parent_seq " + Long.toUnsignedString(n.getParentSeq()) + " skips the present predecessor seq "
              + Long.toUnsignedString(p.getSeq())));
    }
    // p.seq < parent_seq < n.seq: the parent is not in the list (expired); nothing to compare.
    if (!n.getBaseSnapshotId().equals(p.getBaseSnapshotId())) {
      problems.add(problem(Kind.BASE_CHANGED, n,
          "base_snapshot_id '" + n.getBaseSnapshotId() + "', predecessor has '" + p.getBaseSnapshotId() + "'"));
    }
  }

  /**
   * Structural rules of a single manifest ({@link Kind#INVALID_MANIFEST}): non-empty {@code id}
   * and {@code fork_id}; {@code seq < 2^63}; {@code parent_id != id}; {@code parent_seq < seq} and
   * a non-empty {@code parent_id} when {@code parent_seq} is present; segment ids non-empty and
   * unique, {@code min_lsn <= max_lsn}, origin set; collection names non-empty and unique; field
   * names non-empty and unique per collection, kind set; tags non-empty and unique.
   *
   * @return the problems, empty if none
   */
  public static List<ChainProblem> checkManifest(Manifest m) {
    List<String> bad = new ArrayList<>();
    if (m.getId().isEmpty()) {
      bad.add("empty id");
    }
    if (m.getForkId().isEmpty()) {
      bad.add("empty fork_id");
    }
    if (m.getSeq() < 0) {
      bad.add("seq " + Long.toUnsignedString(m.getSeq()) + " >= 2^63");
    }
    if (!m.getId().isEmpty() && m.getParentId().equals(m.getId())) {
      bad.add("parent_id equals id");
    }
    if (m.hasParentSeq()) {
      if (Long.compareUnsigned(m.getParentSeq(), m.getSeq()) >= 0) {
        bad.add("parent_seq " + Long.toUnsignedString(m.getParentSeq()) + " not below seq");
      }
      if (m.getParentId().isEmpty()) {
        bad.add("parent_seq set but parent_id empty");
      }
    }
    Set<String> segmentIds = new HashSet<>();
    for (int i = 0; i < m.getSegmentsCount(); i++) {
      SegmentRef s = m.getSegments(i);
      if (s.getSegmentId().isEmpty()) {
        bad.add("segment #" + i + " has an empty id");
      } else if (!segmentIds.add(s.getSegmentId())) {
        bad.add("segment '" + s.getSegmentId() + "' listed twice");
      }
      if (Long.compareUnsigned(s.getMinLsn(), s.getMaxLsn()) > 0) {
        bad.add("segment '" + s.getSegmentId() + "' has min_lsn " + Long.toUnsignedString(s.getMinLsn())
            + " > max_lsn " + Long.toUnsignedString(s.getMaxLsn()));
      }
      if (s.getOrigin() == SegmentOrigin.SEGMENT_ORIGIN_UNSPECIFIED) {
        bad.add("segment '" + s.getSegmentId() + "' has no origin");
      }
    }
    Set<String> collections = new HashSet<>();
    for (CollectionDef c : m.getCollectionsList()) {
      if (c.getName().isEmpty()) {
        bad.add("a collection has an empty name");
      } else if (!collections.add(c.getName())) {
        bad.add("collection '" + c.getName() + "' defined twice");
      }
      Set<String> fields = new HashSet<>();
      for (FieldDef f : c.getFieldsList()) {
        if (f.getName().isEmpty()) {
          bad.add("collection '" + c.getName() + "' has a field with an empty name");
        } else if (!fields.add(f.getName())) {
          bad.add("collection '" + c.getName() + "' defines field '" + f.getName() + "' twice");
        }
        if (f.getKind() == FieldKind.FIELD_KIND_UNSPECIFIED) {
          bad.add("field '" + c.getName() + "." + f.getName() + "' has no kind");
        }
      }
    }
    Set<String> tags = new HashSet<>();
    for (String t : m.getTagsList()) {
      if (t.isEmpty()) {
        bad.add("empty tag");
      } else if (!tags.add(t)) {
        bad.add("tag '" + t + "' listed twice");
      }
    }
    List<ChainProblem> out = new ArrayList<>(bad.size());
    for (String b : bad) {
      out.add(problem(Kind.INVALID_MANIFEST, m, b));
    }
    return out;
  }

  /** How problems name a manifest. */
  static String describe(Manifest m) {
    return "manifest seq=" + Long.toUnsignedString(m.getSeq()) + " id=" + m.getId();
  }

  private static ChainProblem problem(Kind kind, Manifest m, String detail) {
    return new ChainProblem(kind, describe(m), detail);
  }
}
