package dev.strata.cli;

import dev.strata.api.v1.ChangeOp;
import dev.strata.api.v1.DocumentChange;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.client.StrataClient;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code strata changes FORK}: prints a fork's change feed ({@code WatchChanges}), one line per
 * change, and one line per completed snapshot (the position to resume from with {@code --after}).
 * With {@code --follow} it waits for new snapshots until interrupted (no deadline).
 */
@Command(
    name = "changes",
    mixinStandardHelpOptions = true,
    description = {
      "Print a fork's change feed: every document put and delete of each snapshot after a position, in snapshot order.",
      "",
      "Text: one line per change (SNAPSHOT put|delete COLLECTION/ID), then '# complete SNAPSHOT' per snapshot."
          + " With --json, JSON Lines: each change ({\"snapshotId\",\"collection\",\"id\",\"op\",\"document\",\"lsn\"}),"
          + " then {\"snapshotComplete\":true,\"snapshotId\",\"seq\",\"kind\"} per snapshot.",
      "Resume with --after set to the last completed snapshot: the feed continues exactly there, across restarts and compactions,"
          + " while that snapshot is retained (tag it to keep it; see docs/operations.md)."
    })
final class ChangesCommand extends ClientCommand {
  @Parameters(paramLabel = "FORK", description = "The fork.")
  String forkName;

  @Option(names = {"-c", "--collection"}, paramLabel = "NAME", description = "Only this collection.")
  String collection;

  @Option(
      names = "--after",
      paramLabel = "SNAPSHOT_ID",
      description = "The position: changes of the snapshots after this one (default: the fork's base snapshot, or its oldest retained one).")
  String after;

  @Option(names = {"-f", "--follow"}, description = "Keep waiting for new snapshots (until interrupted).")
  boolean follow;

  @Override
  int run(StrataClient c) {
    String position = after != null ? after : defaultPosition(c);
    if (after == null && !json()) {
      err().println("# changes after " + position);
      err().flush();
    }
    WatchChangesRequest req =
        WatchChangesRequest.newBuilder()
            .setFork(forkName)
            .setCollection(collection == null ? "" : collection)
            .setAfterSnapshotId(position)
            .setFollow(follow)
            .build();
    Duration deadline = follow ? null : timeout().multipliedBy(20);
    Iterator<WatchChangesResponse> it = c.watchChanges(req, deadline);
    while (it.hasNext()) {
      WatchChangesResponse r = it.next();
      for (DocumentChange ch : r.getChangesList()) {
        if (json()) {
          out().println(JsonOutput.write(ch));
        } else {
          out().printf(
              "%s %s %s/%s%n", ch.getSnapshotId(), ch.getOp() == ChangeOp.CHANGE_OP_PUT ? "put" : "delete", ch.getCollection(), ch.getId());
        }
      }
      if (r.getSnapshotComplete()) {
        if (json()) {
          Map<String, Object> done = new LinkedHashMap<>();
          done.put("snapshotComplete", true);
          done.put("snapshotId", r.getSnapshotId());
          done.put("seq", r.getSeq());
          done.put("kind", r.getKind().name());
          out().println(JsonOutput.write(done));
        } else {
          out().println("# complete " + r.getSnapshotId());
        }
      }
      out().flush();
    }
    return 0;
  }

  /** The fork's base snapshot, or (main) its oldest retained snapshot. */
  private String defaultPosition(StrataClient c) {
    Fork f = c.getFork(forkName);
    if (!f.getBaseSnapshotId().isEmpty()) {
      return f.getBaseSnapshotId();
    }
    List<Snapshot> all = c.listSnapshots(forkName, false, Integer.MAX_VALUE);
    if (all.isEmpty()) {
      throw new CliException("fork '" + forkName + "' has no snapshot yet: flush it first");
    }
    return all.get(all.size() - 1).getId();
  }
}
