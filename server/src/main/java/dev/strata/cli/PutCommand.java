package dev.strata.cli;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.WriteResponse;
import dev.strata.client.StrataClient;
import dev.strata.client.Tickets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "put",
    mixinStandardHelpOptions = true,
    description = {
      "Insert or replace documents given as JSON objects, in one atomic write.",
      "",
      "Values are typed by the collection's schema (as with 'load'). A put replaces the whole document. Prints the write's LSN and a ticket that resolves once it is searchable.",
      "",
      "Example: strata put -c packages '{\"id\": \"vim\", \"summary\": \"Vi IMproved\"}'"
    })
final class PutCommand extends ClientCommand {
  @Option(names = {"-c", "--collection"}, required = true, paramLabel = "NAME", description = "The collection.")
  String collection;

  @Option(names = "--id-field", defaultValue = "id", paramLabel = "FIELD", description = "The JSON field holding the id (default ${DEFAULT-VALUE}).")
  String idField;

  @Parameters(arity = "1..*", paramLabel = "JSON", description = "One JSON object per document.")
  List<String> documents;

  @Override
  int run(StrataClient c) {
    Collection col = c.getCollection(fork(), collection, null);
    Documents conv = new Documents(idField, col.getFieldsList());
    List<Mutation> mutations = new ArrayList<>();
    int i = 0;
    for (String text : documents) {
      i++;
      Document d;
      try {
        d = conv.parse(text);
      } catch (IllegalArgumentException e) {
        throw new CliException("document " + i + ": " + e.getMessage());
      }
      mutations.add(Mutation.newBuilder().setPut(d).build());
    }
    WriteResponse r = c.write(fork(), collection, mutations);
    report(this, r, mutations.size(), "put");
    return 0;
  }

  /** Prints the outcome of a write (shared with {@code delete}). */
  static void report(ClientCommand cmd, WriteResponse r, int count, String verb) {
    FlushTicket ticket = FlushTicket.newBuilder().setForkId(r.getForkId()).setLsn(r.getLsn()).build();
    if (cmd.json()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("lsn", r.getLsn());
      m.put("forkId", r.getForkId());
      m.put("mutations", count);
      m.put("ticket", Tickets.format(ticket));
      cmd.printJson(m);
    } else {
      cmd.out()
          .printf(
              "%s %d document%s on fork %s at lsn %d (ticket %s)%n",
              verb.equals("put") ? "wrote" : "deleted",
              count,
              count == 1 ? "" : "s",
              cmd.fork(),
              r.getLsn(),
              Tickets.format(ticket));
      cmd.out().flush();
    }
  }
}
