package dev.strata.cli;

import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.DropForkResponse;
import dev.strata.api.v1.Fork;
import dev.strata.client.StrataClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(
    name = "fork",
    aliases = "forks",
    mixinStandardHelpOptions = true,
    description = "Create, list, show, drop and merge forks.",
    subcommands = {
      ForkCommand.Create.class,
      ForkCommand.ListCmd.class,
      ForkCommand.Show.class,
      ForkCommand.Tree.class,
      ForkCommand.Drop.class,
      ForkMergeCommand.class
    })
final class ForkCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "Missing subcommand: create, list, show, tree, drop or merge");
  }

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = {
      "Create a fork in O(1) from a snapshot, or from another fork's head snapshot (admin).",
      "",
      "Without a source, forks the head of --fork (default main)."
    })
  static final class Create extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "The new fork's name.")
    String name;

    static final class Source {
      @Option(names = "--from-snapshot", paramLabel = "ID|TAG", description = "A retained snapshot (id or tag).")
      String snapshot;

      @Option(names = "--from-fork", paramLabel = "FORK", description = "Another fork: its head snapshot.")
      String fork;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    @Option(names = "--flush-first", description = "With --from-fork: flush it first so that every write acknowledged on it is included.")
    boolean flushFirst;

    @Override
    int run(StrataClient c) {
      CreateForkRequest.Builder b = CreateForkRequest.newBuilder().setName(name);
      if (source != null && source.snapshot != null) {
        if (flushFirst) {
          throw new ParameterException(spec.commandLine(), "--flush-first needs --from-fork, not --from-snapshot");
        }
        b.setFromSnapshotId(SnapshotsCommand.resolveId(c, source.snapshot));
      } else {
        b.setFromFork(source != null && source.fork != null ? source.fork : fork());
        b.setFlushFirst(flushFirst);
      }
      Fork f = c.createFork(b.build());
      if (json()) {
        printJson(f);
      } else {
        out().printf(
            "created fork %s (%s) from %s; head %s%n",
            f.getName(), f.getId(), f.getBaseSnapshotId(), f.getHeadSnapshotId());
        out().flush();
      }
      return 0;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "All forks.")
  static final class ListCmd extends ClientCommand {
    @Override
    int run(StrataClient c) {
      List<Fork> forks = c.listForks();
      if (json()) {
        printJson(Map.of("forks", forks));
      } else {
        Views.forks(out(), forks);
      }
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "One fork.")
  static final class Show extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "The fork.")
    String name;

    @Override
    int run(StrataClient c) {
      Fork f = c.getFork(name);
      if (json()) {
        printJson(f);
      } else {
        Views.fork(out(), f);
      }
      return 0;
    }
  }

  @Command(
      name = "tree",
      mixinStandardHelpOptions = true,
      description = {
        "Every fork as a tree: each under the fork it was created from, in the order they branched off, with its base (FORK@SEQ), head, state and sizes.",
        "",
        "EXCLUSIVE is the segment bytes only this fork's retained snapshots use (what dropping it would free); SHARED the bytes it shares with other forks."
      })
  static final class Tree extends ClientCommand {
    @Option(names = "--ascii", description = "Draw the tree with |-- and `-- instead of box-drawing characters.")
    boolean ascii;

    @Override
    int run(StrataClient c) {
      ForkTree tree = new ForkTree(c.listForks(), c.stats(List.of()).getForksList());
      if (json()) {
        printJson(Map.of("forks", tree.json()));
      } else {
        tree.print(out(), ascii);
      }
      return 0;
    }
  }

  @Command(
      name = "drop",
      mixinStandardHelpOptions = true,
      description = {
      "Drop a fork (not main): drain its in-flight flushes, delete its WAL, snapshots and tags, reclaim segments no other fork uses.",
      "",
      "Unflushed writes are discarded (admin)."
    })
  static final class Drop extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "The fork.")
    String name;

    @Option(
        names = "--drain-timeout",
        defaultValue = "30s",
        converter = StrataCli.DurationConverter.class,
        paramLabel = "DURATION",
        description = "How long to let in-flight flushes finish (default ${DEFAULT-VALUE}); then DEADLINE_EXCEEDED and the fork stays.")
    Duration drainTimeout;

    @Override
    int run(StrataClient c) {
      DropForkResponse r = c.dropFork(name, drainTimeout);
      if (json()) {
        printJson(r);
      } else {
        out().printf(
            "dropped fork %s (%s): %d flushes drained, %d snapshots and %d tags deleted, %d segments (%s) reclaimed%n",
            name,
            r.getForkId(),
            r.getDrainedFlushes(),
            r.getDeletedSnapshots(),
            r.getDeletedTagsCount(),
            r.getReclaimedSegments(),
            Format.bytes(r.getReclaimedBytes()));
        out().flush();
      }
      return 0;
    }
  }
}
