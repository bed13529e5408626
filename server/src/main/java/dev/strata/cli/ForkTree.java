package dev.strata.cli;

import dev.strata.api.v1.Fork;
import dev.strata.api.v1.ForkStats;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The forks of a server as a tree, each under the fork its base snapshot belongs to, children in
 * the order they branched off (base seq, then name), drawn with the tree's lines in the first
 * column ({@code strata fork tree}). A fork whose base fork was dropped, or whose base snapshot
 * cannot be read, is a root of its own, its FROM column saying where it came from.
 *
 * <p>Sizes come from {@code Stats}: exclusive bytes are segments only this fork's retained
 * snapshots use (what dropping it frees), shared bytes those it shares with other forks.
 * Immutable once built; not thread-safe to print from several threads.
 */
final class ForkTree {
  /** {@code <fork id>-<seq>}: a snapshot id names its fork and its seq. */
  private static final Pattern SNAPSHOT_ID = Pattern.compile("^(.+)-(\\d{12,})$");

  /** One fork and the forks made from its snapshots. */
  record Node(Fork fork, ForkStats stats, String parentForkId, long baseSeq, List<Node> children) {}

  private final List<Node> roots = new ArrayList<>();

  ForkTree(List<Fork> forks, List<ForkStats> stats) {
    Map<String, ForkStats> statsById = new HashMap<>();
    stats.forEach(s -> statsById.put(s.getForkId(), s));
    Map<String, Node> byId = new LinkedHashMap<>();
    for (Fork f : forks) {
      Matcher m = SNAPSHOT_ID.matcher(f.getBaseSnapshotId());
      String parent = m.matches() ? m.group(1) : null;
      long seq = m.matches() ? Long.parseLong(m.group(2)) : -1;
      byId.put(f.getId(), new Node(f, statsById.get(f.getId()), parent, seq, new ArrayList<>()));
    }
    for (Node n : byId.values()) {
      Node parent = n.parentForkId() == null ? null : byId.get(n.parentForkId());
      (parent == null || parent == n ? roots : parent.children()).add(n);
    }
    Comparator<Node> order =
        Comparator.comparing((Node n) -> !n.fork().getName().equals("main"))
            .thenComparingLong(Node::baseSeq)
            .thenComparing(n -> n.fork().getName());
    roots.sort(order);
    byId.values().forEach(n -> n.children().sort(order));
  }

  List<Node> roots() {
    return roots;
  }

  /** Prints the tree as a table; {@code ascii} draws with {@code |-- `--} instead of box lines. */
  void print(PrintWriter out, boolean ascii) {
    Table t =
        new Table("FORK", "STATE", "FROM", "HEAD SNAPSHOT", "DOCS", "SEGMENTS", "EXCLUSIVE", "SHARED", "CREATED")
            .right(4, 5, 6, 7);
    for (int i = 0; i < roots.size(); i++) {
      rows(t, roots.get(i), "", "", ascii);
    }
    t.print(out);
  }

  private void rows(Table t, Node n, String prefix, String childPrefix, boolean ascii) {
    Fork f = n.fork();
    ForkStats s = n.stats();
    t.row(
        prefix + f.getName(),
        Views.state(f).replaceFirst(" \\(.*", ""),
        from(n),
        f.getHeadSnapshotId().isEmpty() ? "-" : f.getHeadSnapshotId(),
        s == null ? "" : Format.count(s.getDocCount()),
        s == null ? "" : Integer.toString(s.getSegmentCount()),
        s == null ? "" : Format.bytes(s.getExclusiveSegmentBytes()),
        s == null ? "" : Format.bytes(s.getSharedSegmentBytes()),
        Format.time(f.getCreateTime()));
    for (int i = 0; i < n.children().size(); i++) {
      boolean last = i == n.children().size() - 1;
      String branch = ascii ? (last ? "`-- " : "|-- ") : (last ? "└── " : "├── ");
      String below = ascii ? (last ? "    " : "|   ") : (last ? "    " : "│   ");
      rows(t, n.children().get(i), childPrefix + branch, childPrefix + below, ascii);
    }
  }

  /** {@code main@7}: the base fork and the seq of the base snapshot; "-" for none. */
  private String from(Node n) {
    Fork f = n.fork();
    if (f.getBaseSnapshotId().isEmpty()) {
      return "-";
    }
    String name = f.getBaseForkName().isEmpty() ? n.parentForkId() : f.getBaseForkName();
    boolean orphan = roots.contains(n);
    return (n.baseSeq() >= 0 ? name + "@" + n.baseSeq() : f.getBaseSnapshotId()) + (orphan ? " (dropped)" : "");
  }

  /** The tree for {@code --json}: forks with their sizes and children, nested. */
  List<Map<String, Object>> json() {
    return roots.stream().map(ForkTree::json).toList();
  }

  private static Map<String, Object> json(Node n) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("fork", n.fork());
    m.put("exclusiveSegmentBytes", n.stats() == null ? null : n.stats().getExclusiveSegmentBytes());
    m.put("sharedSegmentBytes", n.stats() == null ? null : n.stats().getSharedSegmentBytes());
    m.put("children", n.children().stream().map(ForkTree::json).toList());
    return m;
  }
}
