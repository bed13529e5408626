package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.MergeRef;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The merge base of two snapshots: their nearest common ancestor in the history the forks form.
 *
 * <h2>History</h2>
 *
 * A snapshot's ancestors are the earlier snapshots of its fork, the fork's base snapshot (on the
 * fork it was created from) and that snapshot's ancestors, and every source snapshot a merge
 * recorded in it ({@code Manifest.merges}) with that snapshot's ancestors. Since a fork's
 * snapshots form one chain, the ancestors of a snapshot are, per fork, every snapshot up to a
 * highest seq: the history is a map fork id → seq ({@link #ancestry}), like git's commit graph
 * folded per branch.
 *
 * <h2>The base</h2>
 *
 * Every fork in both maps gives a common ancestor at the lower of its two seqs. The base is the
 * one that is not an ancestor of another (git's merge-base); if two remain (criss-cross merges),
 * the one of the higher seq, then of the smaller fork id, for a stable answer. When the target is
 * the fork the source was created from, this is the source's base snapshot; through fork-of-fork
 * chains, the base of the fork nearest the target; after an earlier merge between the two, the
 * source snapshot that merge took.
 *
 * <p>A manifest that expired cannot be followed into its merges (its fork's base still can): the
 * base found may then be older than the true one, which only makes more keys look changed on both
 * sides (more conflicts reported), never a wrong merge. Retention keeps fork bases and merged
 * source snapshots, so this is rare.
 *
 * <p>Stateless; thread-safe.
 */
final class MergeBase {
  private MergeBase() {}

  /** Reads the history: manifests by id, and a fork's base snapshot id by fork id. */
  interface History {
    /** A retained manifest, or empty. */
    Optional<Manifest> manifest(String snapshotId);

    /** The base snapshot id of a fork ("" for main), or empty if the fork is gone. */
    Optional<String> forkBase(String forkId);
  }

  /** Per fork id, the highest seq of that fork that is {@code tip} or one of its ancestors. */
  static Map<String, Long> ancestry(Manifest tip, History history) {
    Map<String, Long> best = new HashMap<>();
    List<Manifest> todo = new ArrayList<>(List.of(tip));
    List<String> todoIds = new ArrayList<>();
    while (!todo.isEmpty() || !todoIds.isEmpty()) {
      if (!todo.isEmpty()) {
        Manifest m = todo.remove(todo.size() - 1);
        if (best.getOrDefault(m.getForkId(), -1L) >= m.getSeq()) {
          continue;
        }
        best.put(m.getForkId(), m.getSeq());
        if (!m.getBaseSnapshotId().isEmpty()) {
          todoIds.add(m.getBaseSnapshotId());
        }
        for (MergeRef r : m.getMergesList()) {
          if (r.getMergedInSeq() <= m.getSeq()) {
            todoIds.add(r.getSourceSnapshotId());
          }
        }
        continue;
      }
      String id = todoIds.remove(todoIds.size() - 1);
      String forkId = Fork.forkIdOf(id);
      long seq = seqOf(id);
      if (forkId.isEmpty() || seq < 0 || best.getOrDefault(forkId, -1L) >= seq) {
        continue;
      }
      Optional<Manifest> m = history.manifest(id);
      if (m.isPresent()) {
        todo.add(m.get());
      } else {
        best.put(forkId, seq); // expired: its merges are unknown, its fork's base is not
        history.forkBase(forkId).filter(b -> !b.isEmpty()).ifPresent(todoIds::add);
      }
    }
    return best;
  }

  /**
   * The merge base of {@code source} and {@code target} (snapshot id), or empty if they share no
   * history.
   */
  static Optional<String> find(Manifest source, Manifest target, History history) {
    Map<String, Long> a = ancestry(source, history);
    Map<String, Long> b = ancestry(target, history);
    List<String> candidates = new ArrayList<>();
    a.forEach(
        (fork, seq) -> {
          Long other = b.get(fork);
          if (other != null) {
            candidates.add(Fork.snapshotId(fork, Math.min(seq, other)));
          }
        });
    List<String> maximal = new ArrayList<>();
    for (String c : candidates) {
      boolean below = false;
      for (String d : candidates) {
        if (!d.equals(c) && isAncestor(c, d, history)) {
          below = true;
          break;
        }
      }
      if (!below) {
        maximal.add(c);
      }
    }
    return maximal.stream()
        .max(Comparator.comparingLong(MergeBase::seqOf).thenComparing(Comparator.comparing(Fork::forkIdOf).reversed()));
  }

  /** True if snapshot {@code a} is an ancestor of snapshot {@code b} (not equal). */
  private static boolean isAncestor(String a, String b, History history) {
    Map<String, Long> anc =
        history
            .manifest(b)
            .map(m -> ancestry(m, history))
            .orElseGet(
                () -> {
                  Map<String, Long> only = new HashMap<>();
                  only.put(Fork.forkIdOf(b), seqOf(b));
                  return only;
                });
    return anc.getOrDefault(Fork.forkIdOf(a), -1L) >= seqOf(a);
  }

  /** The seq in a snapshot id ({@code <fork id>-<seq>}), or -1 if malformed. */
  static long seqOf(String snapshotId) {
    int dash = snapshotId.lastIndexOf('-');
    try {
      return dash < 0 ? -1 : Long.parseLong(snapshotId.substring(dash + 1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** A {@link History} over the open forks. */
  static History of(ForkRegistry forks) {
    Map<String, Manifest> cache = new HashMap<>();
    return new History() {
      @Override
      public Optional<Manifest> manifest(String snapshotId) {
        Manifest m = cache.get(snapshotId);
        if (m == null) {
          m = forks.findManifest(snapshotId).orElse(null);
          if (m != null) {
            cache.put(snapshotId, m);
          }
        }
        return Optional.ofNullable(m);
      }

      @Override
      public Optional<String> forkBase(String forkId) {
        return forks.forkById(forkId).map(f -> f.entry().baseSnapshotId());
      }
    };
  }
}
