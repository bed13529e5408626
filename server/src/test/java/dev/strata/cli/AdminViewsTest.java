package dev.strata.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.Fork;
import dev.strata.api.v1.ForkState;
import dev.strata.api.v1.ForkStats;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code strata fork tree} and {@code strata snapshots list --graph}, drawn from API messages. */
class AdminViewsTest {
  private static final String MAIN = "main-00000000000000aa";
  private static final String EXP = "exp-00000000000000bb";

  private static String id(String fork, long seq) {
    return String.format("%s-%012d", fork, seq);
  }

  private static Fork fork(String name, String id, String base, String baseFork, String head) {
    return Fork.newBuilder()
        .setName(name)
        .setId(id)
        .setBaseSnapshotId(base)
        .setBaseForkName(baseFork)
        .setHeadSnapshotId(head)
        .setState(ForkState.FORK_STATE_ACTIVE)
        .build();
  }

  private static ForkStats stats(String id, long exclusive, long shared) {
    return ForkStats.newBuilder()
        .setForkId(id)
        .setExclusiveSegmentBytes(exclusive)
        .setSharedSegmentBytes(shared)
        .setDocCount(10)
        .setSegmentCount(2)
        .build();
  }

  private static String print(java.util.function.Consumer<PrintWriter> p) {
    StringWriter out = new StringWriter();
    p.accept(new PrintWriter(out, true));
    return out.toString();
  }

  @Test
  void forksAreDrawnUnderTheForkTheyCameFromInTheOrderTheyBranchedOff() {
    List<Fork> forks =
        List.of(
            fork("zeta", "zeta-01", id(MAIN, 2), "main", id("zeta-01", 1)),
            fork("exp", EXP, id(MAIN, 7), "main", id(EXP, 3)),
            fork("main", MAIN, "", "", id(MAIN, 9)),
            fork("nested", "nested-02", id(EXP, 3), "exp", id("nested-02", 1)),
            fork("orphan", "orphan-03", id("gone-04", 5), "gone", id("orphan-03", 2)));
    ForkTree tree =
        new ForkTree(forks, List.of(stats(MAIN, 4096, 1 << 20), stats(EXP, 2048, 1 << 20)));

    String out = print(o -> tree.print(o, false));
    List<String> names = out.lines().skip(1).map(l -> l.substring(0, l.indexOf("ACTIVE")).strip()).toList();
    assertThat(names).containsExactly("main", "├── zeta", "└── exp", "└── nested", "orphan");
    assertThat(out).contains("\n    └── nested");
    assertThat(out).contains("main@7").contains("exp@3").contains("gone@5 (dropped)");
    assertThat(out.lines().filter(l -> l.contains("── exp")).findFirst().orElseThrow())
        .contains(id(EXP, 3))
        .contains("2.00 KiB")
        .contains("1.00 MiB");
    String ascii = print(o -> tree.print(o, true));
    assertThat(ascii).contains("|-- zeta").contains("`-- exp").contains("    `-- nested").doesNotContain("├");
    assertThat(JsonOutput.write(tree.json())).contains("\"children\":[{\"fork\":{\"id\":\"zeta-01\"");
  }

  @Test
  void theSnapshotChainShowsCompactionsTagsBranchesAndExpiredParents() {
    List<Snapshot> newestFirst =
        List.of(
            snapshot(MAIN, 9, SnapshotKind.SNAPSHOT_KIND_COMPACTION, id(MAIN, 8), 1).toBuilder().addTags("v2").build(),
            snapshot(MAIN, 8, SnapshotKind.SNAPSHOT_KIND_FLUSH, id(MAIN, 7), 4),
            snapshot(MAIN, 7, SnapshotKind.SNAPSHOT_KIND_FLUSH, id(MAIN, 6), 3).toBuilder().addTags("v1").build(),
            snapshot(MAIN, 5, SnapshotKind.SNAPSHOT_KIND_FLUSH, id(MAIN, 4), 2));
    SnapshotGraph g =
        new SnapshotGraph(
            newestFirst, List.of(fork("exp", EXP, id(MAIN, 7), "main", id(EXP, 3)), fork("main", MAIN, "", "", id(MAIN, 9))));

    List<String> lines = print(g::print).lines().map(String::stripTrailing).toList();
    assertThat(lines.get(0)).startsWith("SNAPSHOT");
    assertThat(lines.get(1)).startsWith("* " + id(MAIN, 9)).contains("COMPACTION").contains("4 -> 1 segment").endsWith("v2");
    assertThat(lines.get(2)).startsWith("* " + id(MAIN, 8)).contains("lsn 80, 4 segments");
    assertThat(lines.get(3)).startsWith("| * fork exp").contains("head " + id(EXP, 3));
    assertThat(lines.get(4)).isEqualTo("|/");
    assertThat(lines.get(5)).startsWith("* " + id(MAIN, 7)).endsWith("v1");
    assertThat(lines.get(6)).startsWith(": " + id(MAIN, 6)).endsWith("expired");
    assertThat(lines.get(7)).startsWith("* " + id(MAIN, 5));
    assertThat(lines.get(8)).startsWith(": " + id(MAIN, 4)).endsWith("older, not listed");
    assertThat(lines).hasSize(9);

    SnapshotGraph forkChain =
        new SnapshotGraph(List.of(snapshot(EXP, 1, SnapshotKind.SNAPSHOT_KIND_FORK, id(MAIN, 7), 3)), List.of());
    assertThat(print(forkChain::print)).contains("FORK").contains("from " + id(MAIN, 7)).doesNotContain("not listed");
  }

  private static Snapshot snapshot(String fork, long seq, SnapshotKind kind, String parent, int segments) {
    return Snapshot.newBuilder()
        .setId(id(fork, seq))
        .setForkId(fork)
        .setSeq(seq)
        .setKind(kind)
        .setParentId(parent)
        .setCoveredLsn(seq * 10)
        .setSegmentCount(segments)
        .build();
  }
}
