package dev.strata.cli;

import dev.strata.api.v1.ForkStats;
import dev.strata.api.v1.StatsResponse;
import dev.strata.client.StrataClient;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "stats",
    mixinStandardHelpOptions = true,
    description = "Per-fork statistics: L0, WAL, flushes, segments, stalls, errors.")
final class StatsCommand extends ClientCommand {
  @Parameters(arity = "0..*", paramLabel = "FORK", description = "Forks to report on (default: all).")
  List<String> forks = new ArrayList<>();

  @Override
  int run(StrataClient c) {
    StatsResponse r = c.stats(forks);
    if (json()) {
      printJson(r);
      return 0;
    }
    Table t =
        new Table(
                "FORK", "STATE", "HEAD SEQ", "DOCS", "SEGMENTS", "SEGMENT SIZE", "L0", "PENDING",
                "WAL", "LAST LSN", "COVERED LSN", "FLUSHES", "LAST FLUSH", "STALLS", "ERRORS")
            .right(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    List<String> errors = new ArrayList<>();
    for (ForkStats f : r.getForksList()) {
      t.row(
          f.getForkName(),
          f.getState().name().replace("FORK_STATE_", ""),
          f.getHeadSeq(),
          Format.count(f.getDocCount()),
          f.getSegmentCount(),
          Format.bytes(f.getSegmentBytes()),
          Format.bytes(f.getL0Bytes() + f.getFrozenL0Bytes()),
          f.getPendingFlushes() + "/" + f.getMaxPendingFlushes(),
          Format.bytes(f.getWalBytes()),
          f.getLastLsn(),
          f.getCoveredLsn(),
          Format.count(f.getFlushesTotal()),
          f.getLastFlushDurationMs() + " ms",
          f.getStalledRequestsTotal(),
          f.getFlushFailuresTotal());
      if (!f.getLastError().isEmpty()) {
        errors.add(f.getForkName() + ": " + Format.time(f.getLastErrorTime()) + " " + f.getLastError());
      }
    }
    t.print(out());
    out().printf(
        "%nsegments on disk: %d (%s), server up since %s%n",
        r.getSegmentCount(), Format.bytes(r.getSegmentBytes()), Format.time(r.getStartTime()));
    if (!errors.isEmpty()) {
      out().println("last errors:");
      errors.forEach(e -> out().println("  " + Format.cell(e, 200)));
    }
    out().flush();
    return 0;
  }
}
