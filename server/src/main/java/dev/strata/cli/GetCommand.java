package dev.strata.cli;

import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.Document;
import dev.strata.client.StrataClient;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "get",
    mixinStandardHelpOptions = true,
    description = {
      "Show documents by id: at the fork's head (including writes not flushed yet) or at a snapshot.",
      "",
      "One id that does not exist is an error (NOT_FOUND); with several ids, the missing ones are reported and the exit code is 1."
    })
final class GetCommand extends ClientCommand {
  @Option(names = {"-c", "--collection"}, required = true, paramLabel = "NAME", description = "The collection.")
  String collection;

  @Option(names = "--snapshot", paramLabel = "ID", description = "Read at this snapshot (default: the head).")
  String snapshot;

  @Parameters(arity = "1..1000", paramLabel = "ID", description = "Document ids.")
  List<String> ids;

  @Option(names = "--fields", split = ",", paramLabel = "FIELD", description = "Show only these fields (default: all).")
  List<String> fields;

  private Document select(Document d) {
    if (fields == null) {
      return d;
    }
    Document.Builder b = Document.newBuilder().setId(d.getId());
    for (String f : fields) {
      if (d.getFieldsMap().containsKey(f)) {
        b.putFields(f, d.getFieldsMap().get(f));
      }
    }
    return b.build();
  }

  @Override
  int run(StrataClient c) {
    if (ids.size() == 1) {
      Document d = select(c.get(fork(), collection, ids.get(0), snapshot));
      if (json()) {
        printJson(d);
      } else {
        Views.document(out(), d);
      }
      return 0;
    }
    int missing = 0;
    boolean first = true;
    for (BatchGetResult r : c.batchGet(fork(), collection, ids, snapshot)) {
      if (!r.getFound()) {
        missing++;
        if (!json()) {
          err().printf(
              "error: NOT_FOUND: document '%s' does not exist in collection '%s' of fork '%s'%n",
              r.getId(), collection, fork());
        } else {
          printJson(r);
        }
        continue;
      }
      Document d = select(r.getDocument());
      if (json()) {
        printJson(r.toBuilder().setDocument(d).build());
      } else {
        if (!first) {
          out().println();
        }
        first = false;
        Views.document(out(), d);
      }
    }
    err().flush();
    return missing == 0 ? 0 : StrataCli.EXIT_FAILED;
  }
}
