package dev.strata.cli;

import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Snapshot;
import dev.strata.client.StrataClient;
import dev.strata.client.Tickets;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(
    name = "await",
    mixinStandardHelpOptions = true,
    description = {
      "Wait until a flush ticket resolves and print its snapshot id.",
      "",
      "TICKET is what 'strata flush' printed: <fork_id>:<seq>:<lsn> (or <fork_id>:<lsn>). Tickets survive server restarts; a ticket of a dropped fork fails with NOT_FOUND."
    })
final class AwaitCommand extends ClientCommand {
  @Parameters(paramLabel = "TICKET", description = "The ticket, e.g. main.3f9a0c21:7:18.")
  String ticket;

  @Option(
      names = "--await-timeout",
      defaultValue = "10m",
      converter = StrataCli.DurationConverter.class,
      paramLabel = "DURATION",
      description = "Give up (DEADLINE_EXCEEDED, exit 1) after this long (default ${DEFAULT-VALUE}).")
  Duration awaitTimeout;

  @Override
  int run(StrataClient c) {
    FlushTicket t;
    try {
      t = Tickets.parse(ticket);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    Snapshot s = c.awaitFlushBlocking(t, awaitTimeout);
    if (json()) {
      printJson(s);
    } else {
      out().println("snapshot " + s.getId());
      out().flush();
    }
    return 0;
  }
}
