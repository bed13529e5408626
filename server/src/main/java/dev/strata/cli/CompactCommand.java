package dev.strata.cli;

import dev.strata.api.v1.CompactResponse;
import dev.strata.client.StrataClient;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "compact",
    mixinStandardHelpOptions = true,
    description = "Merge a fork's segments now and wait for the compacted snapshot (admin).")
final class CompactCommand extends ClientCommand {
  @Option(names = "--full", description = "Merge all segments into one.")
  boolean full;

  @Option(
      names = "--compact-timeout",
      defaultValue = "30m",
      converter = StrataCli.DurationConverter.class,
      paramLabel = "DURATION",
      description = "Deadline of the call (default ${DEFAULT-VALUE}); the compaction goes on if it passes.")
  Duration compactTimeout;

  @Override
  int run(StrataClient c) {
    CompactResponse r = c.compact(fork(), full, compactTimeout);
    if (json()) {
      printJson(r);
    } else if (r.hasSnapshot()) {
      out().printf(
          "compacted fork %s: %d -> %d segments, snapshot %s%n",
          fork(), r.getSegmentsBefore(), r.getSegmentsAfter(), r.getSnapshot().getId());
    } else {
      out().printf("nothing to compact on fork %s (%d segments)%n", fork(), r.getSegmentsBefore());
    }
    out().flush();
    return 0;
  }
}
