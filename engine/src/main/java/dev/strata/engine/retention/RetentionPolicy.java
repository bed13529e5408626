package dev.strata.engine.retention;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which snapshots of one fork have expired (SPEC §4). A snapshot is kept if it is the head, one of
 * the last {@link RetentionOptions#snapshots()}, younger than {@link RetentionOptions#minAgeMs()},
 * tagged, or the base of a fork that still exists (its lineage, {@code DiffSnapshots} against the
 * base, and recovery of a half-created fork need it); every other snapshot has expired. Pure and
 * thread-safe.
 */
public final class RetentionPolicy {
  private RetentionPolicy() {}

  /** What the policy knows of one retained snapshot. */
  public record SnapshotInfo(long seq, String id, long createTimeMs) {}

  /**
   * The seqs of the expired snapshots.
   *
   * @param snapshots the fork's retained snapshots, in any order; the one with the largest seq is
   *     the head
   * @param protectedIds ids that must stay whatever their age: tagged snapshots and fork bases
   * @param nowMs the current wall-clock time, ms since the epoch
   * @return seqs to delete, ascending; never the head's
   */
  public static List<Long> expired(
      List<SnapshotInfo> snapshots, Set<String> protectedIds, RetentionOptions options, long nowMs) {
    List<SnapshotInfo> sorted = new ArrayList<>(snapshots);
    sorted.sort((a, b) -> Long.compare(a.seq(), b.seq()));
    Set<Long> keep = new HashSet<>();
    int n = sorted.size();
    for (int i = Math.max(0, n - options.snapshots()); i < n; i++) {
      keep.add(sorted.get(i).seq()); // the last N, the head among them
    }
    List<Long> out = new ArrayList<>();
    for (SnapshotInfo s : sorted) {
      boolean young = nowMs - s.createTimeMs() < options.minAgeMs();
      if (!keep.contains(s.seq()) && !young && !protectedIds.contains(s.id())) {
        out.add(s.seq());
      }
    }
    return out;
  }
}
