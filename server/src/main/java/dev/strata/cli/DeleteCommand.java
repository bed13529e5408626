package dev.strata.cli;

import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.WriteResponse;
import dev.strata.client.StrataClient;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "delete",
    mixinStandardHelpOptions = true,
    description = {
      "Delete documents by id, in one atomic write (ids that do not exist are not an error)."
    })
final class DeleteCommand extends ClientCommand {
  @Option(names = {"-c", "--collection"}, required = true, paramLabel = "NAME", description = "The collection.")
  String collection;

  @Parameters(arity = "1..*", paramLabel = "ID", description = "Document ids.")
  List<String> ids;

  @Override
  int run(StrataClient c) {
    List<Mutation> mutations =
        ids.stream().map(id -> Mutation.newBuilder().setDeleteId(id).build()).toList();
    WriteResponse r = c.write(fork(), collection, mutations);
    PutCommand.report(this, r, mutations.size(), "delete");
    return 0;
  }
}
