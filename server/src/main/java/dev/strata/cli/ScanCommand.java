package dev.strata.cli;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.ScanRequest;
import dev.strata.client.StrataClient;
import java.time.Duration;
import java.util.Iterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
    name = "scan",
    mixinStandardHelpOptions = true,
    description = {
      "List documents in id order (ids only, or whole documents with --json, one per line)."
    })
final class ScanCommand extends ClientCommand {
  @Option(names = {"-c", "--collection"}, required = true, paramLabel = "NAME", description = "The collection.")
  String collection;

  @Option(names = "--snapshot", paramLabel = "ID", description = "Read at this snapshot (default: the head).")
  String snapshot;

  @Option(names = "--prefix", paramLabel = "PREFIX", description = "Only ids starting with this.")
  String prefix;

  @Option(names = "--start-after", paramLabel = "ID", description = "Start after this id.")
  String startAfter;

  @Option(names = "--limit", defaultValue = "100", paramLabel = "N", description = "At most N documents; 0 = all (default ${DEFAULT-VALUE}).")
  long limit;

  @Override
  int run(StrataClient c) {
    ScanRequest.Builder b =
        ScanRequest.newBuilder().setFork(fork()).setCollection(collection).setLimit(Math.max(0, limit));
    if (snapshot != null) {
      b.setSnapshotId(snapshot);
    }
    if (prefix != null) {
      b.setIdPrefix(prefix);
    }
    if (startAfter != null) {
      b.setStartAfterId(startAfter);
    }
    Duration streamTimeout = timeout().multipliedBy(20);
    Iterator<Document> it = c.scan(b.build(), streamTimeout);
    long n = 0;
    while (it.hasNext()) {
      Document d = it.next();
      n++;
      if (json()) {
        out().println(JsonOutput.write(d));
      } else {
        out().println(d.getId());
      }
    }
    out().flush();
    if (!json()) {
      err().println(Format.count(n) + " document" + (n == 1 ? "" : "s"));
      err().flush();
    }
    return 0;
  }
}
