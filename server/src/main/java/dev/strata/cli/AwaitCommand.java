package dev.strata.cli;

import dev.strata.api.v1.FlushLevel;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Snapshot;
import dev.strata.client.StrataClient;
import dev.strata.client.Tickets;
import java.time.Duration;
import java.util.Locale;
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

  @Option(
      names = "--level",
      defaultValue = "published",
      paramLabel = "LEVEL",
      description = "published (default): the snapshot is published on the server; uploaded: it is also in object storage (needs the tier, storage.bucket).")
  String level;

  @Override
  int run(StrataClient c) {
    FlushTicket t;
    try {
      t = Tickets.parse(ticket);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    FlushLevel l = switch (level.toLowerCase(Locale.ROOT)) {
      case "published" -> FlushLevel.FLUSH_LEVEL_PUBLISHED;
      case "uploaded" -> FlushLevel.FLUSH_LEVEL_UPLOADED;
      default -> throw new ParameterException(spec.commandLine(), "--level must be published or uploaded, got '" + level + "'");
    };
    Snapshot s = c.awaitFlushBlocking(t, l, awaitTimeout);
    if (json()) {
      printJson(s);
    } else {
      out().println("snapshot " + s.getId());
      out().flush();
    }
    return 0;
  }
}
