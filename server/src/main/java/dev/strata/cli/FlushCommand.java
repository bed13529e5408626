package dev.strata.cli;

import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.client.StrataClient;
import dev.strata.client.Tickets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "flush",
    mixinStandardHelpOptions = true,
    description = {
      "Flush a fork: publish every write acknowledged so far in a new snapshot.",
      "",
      "Prints the ticket (<fork_id>:<seq>:<lsn>) at once; 'strata await TICKET' waits for its snapshot. With --wait, waits here and prints the snapshot id too."
    })
final class FlushCommand extends ClientCommand {
  @Option(names = "--wait", description = "Wait for the snapshot (Flush, then AwaitFlush).")
  boolean waitForSnapshot;

  @Option(
      names = "--await-timeout",
      defaultValue = "10m",
      converter = StrataCli.DurationConverter.class,
      paramLabel = "DURATION",
      description = "With --wait: how long to wait for the snapshot (default ${DEFAULT-VALUE}).")
  Duration awaitTimeout;

  @Override
  int run(StrataClient c) {
    FlushResponse r = c.flush(fork(), false);
    String ticket = Tickets.format(r.getTicket());
    Snapshot s = r.hasSnapshot() ? r.getSnapshot() : null;
    if (waitForSnapshot && s == null) {
      if (!json()) {
        out().println("ticket " + ticket);
        out().flush();
      }
      s = c.awaitFlushBlocking(r.getTicket(), awaitTimeout);
    }
    if (json()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("ticket", ticket);
      m.put("flushTicket", r.getTicket());
      if (s != null) {
        m.put("snapshot", s);
      }
      printJson(m);
    } else if (waitForSnapshot) {
      if (r.hasSnapshot()) {
        out().println("ticket " + ticket);
      }
      out().println("snapshot " + s.getId());
    } else {
      out().println(ticket);
    }
    out().flush();
    return 0;
  }
}
