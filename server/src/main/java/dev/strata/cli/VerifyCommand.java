package dev.strata.cli;

import dev.strata.api.v1.VerifyProblem;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.client.StrataClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = {
      "Check every retained snapshot's manifest chain, every referenced segment (exists, size, checksum) and every tag, on a running server (admin).",
      "",
      "Exit code 4 if problems are found."
    })
final class VerifyCommand extends ClientCommand {
  @Parameters(arity = "0..*", paramLabel = "FORK", description = "Forks to verify (default: all, and every tag).")
  List<String> forks = new ArrayList<>();

  @Option(names = "--skip-checksums", description = "Only check that segment files exist with their sizes (fast).")
  boolean skipChecksums;

  @Option(
      names = "--verify-timeout",
      defaultValue = "1h",
      converter = StrataCli.DurationConverter.class,
      paramLabel = "DURATION",
      description = "Deadline of the call (default ${DEFAULT-VALUE}).")
  Duration verifyTimeout;

  @Override
  int run(StrataClient c) {
    VerifyResponse r = c.verify(forks, skipChecksums, verifyTimeout);
    if (json()) {
      printJson(r);
    } else {
      String checked =
          String.format(
              "%d fork%s, %d snapshots, %d segments, %s read",
              r.getForksChecked(),
              r.getForksChecked() == 1 ? "" : "s",
              r.getSnapshotsChecked(),
              r.getSegmentsChecked(),
              Format.bytes(r.getBytesChecked()));
      if (r.getProblemsCount() == 0) {
        out().println("ok: " + checked);
      } else {
        Table t = new Table("PROBLEM", "FORK", "SNAPSHOT", "SEGMENT", "FILE", "MESSAGE");
        for (VerifyProblem p : r.getProblemsList()) {
          t.row(
              p.getKind().name().replace("VERIFY_PROBLEM_KIND_", ""),
              p.getForkName(),
              p.getSnapshotId(),
              p.getSegmentId(),
              p.getFile(),
              p.getMessage());
        }
        t.print(out());
        out().println(r.getProblemsCount() + " problem(s) found; checked " + checked);
      }
      out().flush();
    }
    return r.getProblemsCount() == 0 ? 0 : StrataCli.EXIT_PROBLEMS;
  }
}
