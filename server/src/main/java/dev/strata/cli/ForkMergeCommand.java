package dev.strata.cli;

import dev.strata.api.v1.MergeConflict;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.api.v1.MergeStrategy;
import dev.strata.api.v1.Snapshot;
import dev.strata.client.StrataClient;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code strata fork merge SOURCE [--into TARGET] [--strategy ...] [--dry-run]}: {@code
 * MergeFork}. Prints what the merge did (or would do) and, for conflicts, every page of them (the
 * later pages fetched with dry runs); waits for the snapshot that holds the merge unless {@code
 * --no-wait}. Exit code {@value StrataCli#EXIT_PROBLEMS} when the merge stopped on conflicts.
 */
@Command(
    name = "merge",
    mixinStandardHelpOptions = true,
    description = {
      "Merge a fork's changes into another fork, by default the one it was created from (admin).",
      "",
      "A fast-forward when the target has not changed since the merge base (O(1): the target takes the source's snapshot),"
          + " otherwise a three-way merge written atomically. A document both sides changed is a conflict:"
          + " --strategy fail (default) writes nothing, lists the conflicts and exits with 4;"
          + " source-wins or target-wins resolve them."
    })
final class ForkMergeCommand extends ClientCommand {
  @Parameters(paramLabel = "SOURCE", description = "The fork to merge from.")
  String source;

  @Option(names = "--into", paramLabel = "TARGET", description = "The fork to merge into (default: the fork SOURCE was created from).")
  String target;

  @Option(
      names = "--strategy",
      defaultValue = "fail",
      paramLabel = "fail|source-wins|target-wins",
      description = "What to do with conflicts (default ${DEFAULT-VALUE}).")
  String strategy;

  @Option(names = "--dry-run", description = "Report what the merge would do; write nothing.")
  boolean dryRun;

  @Option(names = "--expect-head", paramLabel = "SNAPSHOT_ID", description = "Merge only if the target's head is this snapshot (FAILED_PRECONDITION otherwise).")
  String expectHead;

  @Option(names = "--flush-source", description = "Flush SOURCE first so every write acknowledged on it is merged.")
  boolean flushSource;

  @Option(names = "--no-wait", description = "Do not wait for the snapshot that holds the merge.")
  boolean noWait;

  @Override
  int run(StrataClient c) {
    MergeForkRequest.Builder req =
        MergeForkRequest.newBuilder()
            .setSource(source)
            .setTarget(target == null ? "" : target)
            .setStrategy(strategyOrUsage())
            .setDryRun(dryRun)
            .setFlushSource(flushSource)
            .setConflictPageSize(1000);
    if (expectHead != null) {
      req.setExpectedTargetHead(expectHead);
    }
    MergeForkResponse r = c.mergeFork(req.build());
    List<MergeConflict> conflicts = new ArrayList<>(r.getConflictsList());
    String token = r.getNextConflictPageToken();
    while (!token.isEmpty()) {
      MergeForkResponse page = c.mergeFork(req.setDryRun(true).setFlushSource(false).setConflictPageToken(token).build());
      conflicts.addAll(page.getConflictsList());
      token = page.getNextConflictPageToken();
    }
    Snapshot merged = null;
    if (r.hasTicket() && !noWait) {
      merged = c.awaitFlushBlocking(r.getTicket(), timeout().multipliedBy(20));
    }
    if (json()) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("merge", r.toBuilder().clearConflicts().clearNextConflictPageToken().build());
      out.put("conflicts", conflicts);
      if (merged != null) {
        out.put("snapshot", merged);
      }
      printJson(out);
    } else {
      print(out(), r, conflicts, merged);
    }
    return r.getOutcome() == MergeOutcome.MERGE_OUTCOME_CONFLICTS ? StrataCli.EXIT_PROBLEMS : StrataCli.EXIT_OK;
  }

  private MergeStrategy strategyOrUsage() {
    return switch (strategy) {
      case "fail" -> MergeStrategy.MERGE_STRATEGY_FAIL;
      case "source-wins" -> MergeStrategy.MERGE_STRATEGY_SOURCE_WINS;
      case "target-wins" -> MergeStrategy.MERGE_STRATEGY_TARGET_WINS;
      default -> throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--strategy must be fail, source-wins or target-wins, got '" + strategy + "'");
    };
  }

  private static void print(PrintWriter out, MergeForkResponse r, List<MergeConflict> conflicts, Snapshot merged) {
    String would = r.getDryRun() ? "would " : "";
    switch (r.getOutcome()) {
      case MERGE_OUTCOME_FAST_FORWARD -> out.printf(
          "fast-forward: the target %s %s's segments (base %s)%n", r.getDryRun() ? "would take" : "takes",
          r.getSourceSnapshotId(), r.getBaseSnapshotId());
      case MERGE_OUTCOME_THREE_WAY -> out.printf(
          "three-way merge of %s (base %s): %s%d puts, %d deletes, %d collections created; %d conflicts resolved%n",
          r.getSourceSnapshotId(), r.getBaseSnapshotId(), would, r.getDocumentsPut(), r.getDocumentsDeleted(),
          r.getCollectionsCreated(), r.getConflictCount());
      case MERGE_OUTCOME_UP_TO_DATE -> out.printf(
          "up to date: nothing of %s to merge%s%n", r.getSourceSnapshotId(),
          r.getConflictCount() > 0 ? " (" + r.getConflictCount() + " conflicts resolved to the target's versions)" : "");
      case MERGE_OUTCOME_CONFLICTS -> out.printf(
          "conflicts: %d (nothing written); merge again with --strategy source-wins or target-wins%n", r.getConflictCount());
      default -> out.printf("outcome %s%n", r.getOutcome());
    }
    if (!conflicts.isEmpty()) {
      if (r.getOutcome() != MergeOutcome.MERGE_OUTCOME_CONFLICTS) {
        out.println("resolved conflicts:");
      }
      Table t = new Table("COLLECTION", "ID", "KIND", "SOURCE", "TARGET", "DETAIL");
      for (MergeConflict c : conflicts) {
        t.row(
            c.getCollection(),
            c.getId(),
            c.getKind() == dev.strata.api.v1.ConflictKind.CONFLICT_KIND_SCHEMA ? "schema" : "document",
            side(c.getSourceDeleted(), c.getSourceLsn()),
            side(c.getTargetDeleted(), c.getTargetLsn()),
            c.getDetail());
      }
      t.print(out);
    }
    if (merged != null) {
      out.printf("merged in snapshot %s%n", merged.getId());
    } else if (r.hasTicket()) {
      out.printf(
          "merge at lsn %d; wait for its snapshot with: strata await %s:%d:%d%n",
          r.getMergeLsn(), r.getTicket().getForkId(), r.getTicket().getSeq(), r.getTicket().getLsn());
    }
    out.flush();
  }

  private static String side(boolean deleted, long lsn) {
    return (deleted ? "deleted" : "changed") + (lsn > 0 ? " @" + lsn : "");
  }
}
