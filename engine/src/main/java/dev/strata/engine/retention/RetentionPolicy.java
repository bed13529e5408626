package dev.strata.engine.retention;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
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

  /**
   * One retained snapshot of some fork, for the space bound.
   *
   * @param forkName its fork
   * @param segmentBytes the bytes of every segment it refers to, by segment id
   * @param pinned a head, a tagged snapshot or a fork base: never expired
   */
  public record Retained(String forkName, String id, long createTimeMs, Map<Long, Long> segmentBytes, boolean pinned) {}

  /**
   * What the space bound expires: while the distinct segments every retained snapshot refers to
   * take more than {@code boundBytes}, the oldest unpinned snapshot (across all forks, by creation
   * time) goes, and the segments only it referred to stop counting. Stops when under the bound or
   * when only pinned snapshots are left.
   *
   * @return the ids to expire, oldest first
   */
  public static List<Retained> overSpaceBound(List<Retained> retained, long boundBytes) {
    Map<Long, Integer> holders = new HashMap<>();
    Map<Long, Long> bytes = new HashMap<>();
    for (Retained r : retained) {
      r.segmentBytes().forEach((id, b) -> {
        holders.merge(id, 1, Integer::sum);
        bytes.put(id, b);
      });
    }
    long total = bytes.values().stream().mapToLong(Long::longValue).sum();
    List<Retained> oldestFirst = new ArrayList<>(retained);
    oldestFirst.sort(Comparator.comparingLong(Retained::createTimeMs).thenComparing(Retained::id));
    List<Retained> out = new ArrayList<>();
    for (Retained r : oldestFirst) {
      if (total <= boundBytes) {
        break;
      }
      if (r.pinned()) {
        continue;
      }
      out.add(r);
      for (long id : r.segmentBytes().keySet()) {
        if (holders.merge(id, -1, Integer::sum) == 0) {
          total -= bytes.get(id);
        }
      }
    }
    return out;
  }
}
