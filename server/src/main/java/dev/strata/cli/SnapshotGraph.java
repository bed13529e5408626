package dev.strata.cli;

import dev.strata.api.v1.Fork;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A fork's chain of snapshots drawn like {@code git log --graph} ({@code strata snapshots list
 * --graph}): newest first, one {@code *} per snapshot, with what each one did (a flush's covered
 * LSN, a compaction's segments before and after), its tags, the forks that branch off it
 * ({@code | *} then {@code |/} above it), the source snapshot a merge took in ({@code |\} then
 * {@code | *} below the merge's snapshot, like git's second parent), parents that retention expired
 * ({@code :}), and at the bottom the snapshot the fork itself was created from.
 *
 * <p>Not thread-safe; build, print, drop.
 */
final class SnapshotGraph {
  private final List<Snapshot> snapshots;
  private final Map<String, List<Fork>> branchesByBase = new HashMap<>();
  private final Map<String, String> forkNames = new HashMap<>();

  /**
   * @param snapshots a fork's snapshots, newest first (as ListSnapshots returns them)
   * @param forks every fork, to find those created from one of {@code snapshots}
   */
  SnapshotGraph(List<Snapshot> snapshots, List<Fork> forks) {
    this.snapshots = snapshots;
    for (Fork f : forks) {
      forkNames.put(f.getId(), f.getName());
      if (!f.getBaseSnapshotId().isEmpty()) {
        branchesByBase.computeIfAbsent(f.getBaseSnapshotId(), k -> new ArrayList<>()).add(f);
      }
    }
    branchesByBase.values().forEach(l -> l.sort(Comparator.comparing(Fork::getName)));
  }

  /** The forks created from {@code snapshotId}, by name. */
  List<Fork> branches(String snapshotId) {
    return branchesByBase.getOrDefault(snapshotId, List.of());
  }

  /** Prints the graph (ASCII, like git's) with a column per detail. */
  void print(PrintWriter out) {
    String pipe = "|";
    Table t = new Table("SNAPSHOT", "KIND", "WHAT", "DOCS", "SIZE", "CREATED", "TAGS").right(3, 4);
    for (int i = 0; i < snapshots.size(); i++) {
      Snapshot s = snapshots.get(i);
      Snapshot older = i + 1 < snapshots.size() ? snapshots.get(i + 1) : null;
      for (Fork f : branches(s.getId())) {
        t.row(pipe + " * " + "fork " + f.getName(), "", "head " + (f.getHeadSnapshotId().isEmpty() ? "-" : f.getHeadSnapshotId()));
        t.row(pipe + "/");
      }
      t.row(
          "* " + s.getId(),
          Views.kind(s),
          what(s, older),
          Format.count(s.getStats().getDocCount()),
          Format.bytes(s.getStats().getSizeBytes()),
          Format.time(s.getCreateTime()),
          String.join(", ", s.getTagsList()));
      if (!s.getMergedSnapshotId().isEmpty()) {
        // The merge's second parent: the source snapshot, on another fork's chain.
        t.row(pipe + "\\");
        t.row(pipe + " * " + s.getMergedSnapshotId(), "", "merged from fork " + forkOf(s.getMergedSnapshotId()));
      }
      if (s.getParentId().isEmpty() || s.getKind() == SnapshotKind.SNAPSHOT_KIND_FORK) {
        continue;
      }
      if (older == null) {
        t.row(": " + s.getParentId(), "", "older, not listed");
      } else if (!older.getId().equals(s.getParentId())) {
        t.row(": " + s.getParentId(), "", "expired");
      }
    }
    t.print(out);
  }

  /** What a snapshot did, next to the one listed below it (its parent when nothing expired). */
  private static String what(Snapshot s, Snapshot older) {
    return switch (s.getKind()) {
      case SNAPSHOT_KIND_COMPACTION ->
          (older == null ? "" : older.getSegmentCount() + " -> ") + segments(s.getSegmentCount());
      case SNAPSHOT_KIND_FORK -> "from " + s.getParentId();
      case SNAPSHOT_KIND_MERGE -> "fast-forward, " + segments(s.getSegmentCount());
      default -> "lsn " + s.getCoveredLsn() + ", " + segments(s.getSegmentCount());
    };
  }

  /** The name of the fork that owns {@code snapshotId} (its id while the fork is unknown, e.g. dropped). */
  private String forkOf(String snapshotId) {
    String forkId = snapshotId.substring(0, Math.max(0, snapshotId.lastIndexOf('-')));
    return forkNames.getOrDefault(forkId, forkId);
  }

  private static String segments(int n) {
    return n + (n == 1 ? " segment" : " segments");
  }
}
