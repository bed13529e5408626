package dev.strata.cli;

import dev.strata.api.v1.ChangeKind;
import dev.strata.api.v1.DiffEntry;
import dev.strata.api.v1.Snapshot;
import dev.strata.client.StrataClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "snapshots",
    aliases = "snapshot",
    mixinStandardHelpOptions = true,
    description = "List, show, tag and compare snapshots.",
    subcommands = {
      SnapshotsCommand.ListCmd.class,
      SnapshotsCommand.Show.class,
      SnapshotsCommand.Tag.class,
      SnapshotsCommand.Untag.class,
      SnapshotsCommand.Diff.class,
      SnapshotsCommand.Watch.class
    })
final class SnapshotsCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  /**
   * What a snapshot id looks like ({@code <fork id>-<seq, at least 12 digits>}); anything else
   * given where a snapshot is expected is taken as a tag.
   */
  static final Pattern SNAPSHOT_ID = Pattern.compile("^[a-z0-9][a-z0-9._-]*-\\d{12,}$");

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: list, show, tag, untag, diff or watch");
  }

  /** The snapshot named by an id or, failing that, by a tag. */
  static Snapshot resolve(StrataClient c, String idOrTag) {
    if (!SNAPSHOT_ID.matcher(idOrTag).matches()) {
      return c.getSnapshotByTag(idOrTag);
    }
    try {
      return c.getSnapshot(idOrTag);
    } catch (io.grpc.StatusRuntimeException e) {
      if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND || !isTag(idOrTag)) {
        throw e;
      }
      try {
        return c.getSnapshotByTag(idOrTag); // a tag that happens to look like an id
      } catch (io.grpc.StatusRuntimeException tagError) {
        throw e;
      }
    }
  }

  /** The id of a snapshot named by id or tag (ids are passed through without a call). */
  static String resolveId(StrataClient c, String idOrTag) {
    return SNAPSHOT_ID.matcher(idOrTag).matches() ? idOrTag : c.getSnapshotByTag(idOrTag).getId();
  }

  private static boolean isTag(String s) {
    return s.matches("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "The retained snapshots of a fork, newest first.")
  static final class ListCmd extends ClientCommand {
    @Option(names = "--tagged", description = "Only snapshots with a tag.")
    boolean tagged;

    @Option(names = {"-n", "--limit"}, defaultValue = "20", paramLabel = "N", description = "At most N (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(
        names = "--graph",
        description =
            "Draw the chain like git log --graph: what each snapshot did (flush LSN, compaction"
                + " segments before -> after), tags, forks branching off, expired parents.")
    boolean graph;

    @Override
    int run(StrataClient c) {
      List<Snapshot> list = c.listSnapshots(fork(), tagged, Math.max(1, limit));
      if (graph) {
        SnapshotGraph g = new SnapshotGraph(list, c.listForks());
        if (json()) {
          Map<String, Object> m = new java.util.LinkedHashMap<>();
          m.put("snapshots", list);
          m.put("branches", list.stream().flatMap(s -> g.branches(s.getId()).stream()).toList());
          printJson(m);
        } else {
          g.print(out());
        }
        return 0;
      }
      if (json()) {
        printJson(Map.of("snapshots", list));
        return 0;
      }
      Table t = new Table("SNAPSHOT", "SEQ", "KIND", "COVERED LSN", "DOCS", "SEGMENTS", "SIZE", "CREATED", "TAGS")
          .right(1, 3, 4, 5, 6);
      for (Snapshot s : list) {
        t.row(
            s.getId(),
            s.getSeq(),
            Views.kind(s),
            s.getCoveredLsn(),
            Format.count(s.getStats().getDocCount()),
            s.getSegmentCount(),
            Format.bytes(s.getStats().getSizeBytes()),
            Format.time(s.getCreateTime()),
            String.join(",", s.getTagsList()));
      }
      t.print(out());
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "One snapshot, by id or by tag.")
  static final class Show extends ClientCommand {
    @Parameters(paramLabel = "ID|TAG", description = "A snapshot id or a tag.")
    String idOrTag;

    @Override
    int run(StrataClient c) {
      Snapshot s = resolve(c, idOrTag);
      if (json()) {
        printJson(s);
      } else {
        Views.snapshot(out(), s);
      }
      return 0;
    }
  }

  @Command(name = "tag", mixinStandardHelpOptions = true, description = "Pin a tag on a snapshot; tagged snapshots are never expired (admin).")
  static final class Tag extends ClientCommand {
    @Parameters(index = "0", paramLabel = "SNAPSHOT", description = "The snapshot id.")
    String snapshotId;

    @Parameters(index = "1", paramLabel = "TAG", description = "The tag, e.g. v1.2.0.")
    String tag;

    @Override
    int run(StrataClient c) {
      Snapshot s = c.tagSnapshot(snapshotId, tag);
      if (json()) {
        printJson(s);
      } else {
        out().printf("tagged %s as %s%n", s.getId(), tag);
        out().flush();
      }
      return 0;
    }
  }

  @Command(name = "untag", mixinStandardHelpOptions = true, description = "Remove a tag (admin).")
  static final class Untag extends ClientCommand {
    @Parameters(paramLabel = "TAG", description = "The tag.")
    String tag;

    @Override
    int run(StrataClient c) {
      Snapshot s = c.deleteTag(tag);
      if (json()) {
        printJson(s);
      } else {
        out().printf("removed tag %s from %s%n", tag, s.getId());
        out().flush();
      }
      return 0;
    }
  }

  @Command(
      name = "diff",
      mixinStandardHelpOptions = true,
      description = {
      "Documents added, changed and deleted from snapshot FROM to snapshot TO.",
      "",
      "FROM must be TO or an ancestor of it (same fork, or a fork's base). Ids or tags."
    })
  static final class Diff extends ClientCommand {
    @Parameters(index = "0", paramLabel = "FROM", description = "The older snapshot (id or tag).")
    String from;

    @Parameters(index = "1", paramLabel = "TO", description = "The newer snapshot (id or tag).")
    String to;

    @Option(names = {"-c", "--collection"}, paramLabel = "NAME", description = "Only this collection.")
    String collection;

    @Option(names = {"-n", "--limit"}, defaultValue = "1000", paramLabel = "N", description = "List at most N entries; all are counted (default ${DEFAULT-VALUE}; 0 = all).")
    long limit;

    @Override
    int run(StrataClient c) {
      String fromId = resolveId(c, from);
      String toId = resolveId(c, to);
      Duration streamTimeout = timeout().multipliedBy(20);
      Iterator<DiffEntry> it = c.diff(fromId, toId, collection, streamTimeout);
      Map<ChangeKind, Long> counts = new EnumMap<>(ChangeKind.class);
      Table t = new Table("CHANGE", "COLLECTION", "ID");
      long n = 0;
      while (it.hasNext()) {
        DiffEntry e = it.next();
        counts.merge(e.getChange(), 1L, Long::sum);
        n++;
        if (json()) {
          out().println(JsonOutput.write(e));
        } else if (limit <= 0 || n <= limit) {
          t.row(change(e.getChange()), e.getCollection(), e.getId());
        }
      }
      if (json()) {
        out().flush();
        return 0;
      }
      if (!t.isEmpty()) {
        t.print(out());
        if (limit > 0 && n > limit) {
          out().printf("... %s more%n", Format.count(n - limit));
        }
      }
      List<String> parts = new ArrayList<>();
      for (ChangeKind k : List.of(ChangeKind.CHANGE_KIND_ADDED, ChangeKind.CHANGE_KIND_CHANGED, ChangeKind.CHANGE_KIND_DELETED)) {
        parts.add(Format.count(counts.getOrDefault(k, 0L)) + " " + change(k));
      }
      out().printf("%s -> %s: %s%n", fromId, toId, String.join(", ", parts));
      out().flush();
      return 0;
    }

    static String change(ChangeKind k) {
      return k.name().replace("CHANGE_KIND_", "").toLowerCase(java.util.Locale.ROOT);
    }
  }

  @Command(
      name = "watch",
      mixinStandardHelpOptions = true,
      description = "Print a fork's snapshots as they are published, until interrupted (Ctrl-C).")
  static final class Watch extends ClientCommand {
    @Option(names = "--after-seq", paramLabel = "SEQ", description = "First replay retained snapshots with a greater seq (-1: all).")
    Long afterSeq;

    @Option(names = "--for", converter = StrataCli.DurationConverter.class, paramLabel = "DURATION", description = "Stop after this long (default: never).")
    Duration duration;

    @Override
    int run(StrataClient c) {
      Duration d = duration == null ? Duration.ofDays(3650) : duration;
      Iterator<Snapshot> it = c.watchSnapshots(fork(), afterSeq, d);
      try {
        while (it.hasNext()) {
          Snapshot s = it.next();
          if (json()) {
            out().println(JsonOutput.write(s));
          } else {
            out().printf(
                "%s  %s  seq %d  covered lsn %d  %s docs  %d segments%n",
                Format.time(s.getCreateTime()),
                s.getId(),
                s.getSeq(),
                s.getCoveredLsn(),
                Format.count(s.getStats().getDocCount()),
                s.getSegmentCount());
          }
          out().flush();
        }
      } catch (io.grpc.StatusRuntimeException e) {
        if (duration != null && e.getStatus().getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
          return 0; // --for elapsed
        }
        throw e;
      }
      return 0;
    }
  }
}
