package dev.strata.cli;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.CreateOrGetCollectionResponse;
import dev.strata.client.StrataClient;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "collection",
    description = "Create, list and show collections.",
    mixinStandardHelpOptions = true,
    subcommands = {
      CollectionCommand.Create.class,
      CollectionCommand.ListCmd.class,
      CollectionCommand.Show.class
    })
final class CollectionCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(
        spec.commandLine(), "Missing subcommand: create, list or show");
  }

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = {
      "Create a collection with a schema (or check that it exists with the same schema).",
      "",
      "Fields not named here are stored, not indexed. Schemas are immutable."
    })
  static final class Create extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "Collection name.")
    String name;

    @Mixin SchemaOptions schema;

    @Override
    int run(StrataClient c) {
      CreateOrGetCollectionResponse r = c.createOrGetCollection(fork(), name, schema.fields());
      if (json()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("created", r.getCreated());
        m.put("collection", r.getCollection());
        m.put("lsn", r.getLsn());
        m.put("forkId", r.getForkId());
        printJson(m);
      } else {
        out().printf(
            "%s collection %s on fork %s: %s%n",
            r.getCreated() ? "created" : "unchanged (already exists with this schema):",
            r.getCollection().getName(),
            fork(),
            Views.schema(r.getCollection()));
      }
      return 0;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List the collections of a fork.")
  static final class ListCmd extends ClientCommand {
    @Option(names = "--snapshot", paramLabel = "ID", description = "Read at this snapshot (default: the head).")
    String snapshot;

    @Override
    int run(StrataClient c) {
      List<Collection> cols = c.listCollections(fork(), snapshot);
      if (json()) {
        printJson(Map.of("collections", cols));
        return 0;
      }
      Table t = new Table("COLLECTION", "DOCS", "SCHEMA").right(1);
      for (Collection col : cols) {
        t.row(col.getName(), Format.count(col.getDocCount()), Views.schema(col));
      }
      if (t.isEmpty()) {
        out().println("no collections on fork " + fork());
      } else {
        t.print(out());
      }
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one collection.")
  static final class Show extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "Collection name.")
    String name;

    @Option(names = "--snapshot", paramLabel = "ID", description = "Read at this snapshot (default: the head).")
    String snapshot;

    @Override
    int run(StrataClient c) {
      Collection col = c.getCollection(fork(), name, snapshot);
      if (json()) {
        printJson(col);
        return 0;
      }
      Table.keyValues(
          out(),
          List.of(
              new String[] {"collection", col.getName()},
              new String[] {"fork", fork()},
              new String[] {"documents", Format.count(col.getDocCount()) + " (as of the head snapshot)"}));
      out().println();
      Table t = new Table("FIELD", "KIND", "ANALYZER");
      col.getFieldsList()
          .forEach(f -> t.row(f.getName(), Documents.kindName(f.getKind()), f.getAnalyzer()));
      t.print(out());
      return 0;
    }
  }
}
