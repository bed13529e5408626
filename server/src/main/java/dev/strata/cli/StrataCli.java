package dev.strata.cli;

import dev.strata.client.RetryPolicy;
import dev.strata.client.StrataClient;
import dev.strata.client.StrataErrors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code strata} command line: {@code serve} runs a server; every other command is a gRPC
 * client of one.
 *
 * <p>Exit codes: {@value #EXIT_OK} success; {@value #EXIT_FAILED} the server answered with an
 * error (printed on one line as {@code error: CODE: message}) or the input was bad; {@value
 * #EXIT_USAGE} usage error (unknown command or flag, missing argument); {@value
 * #EXIT_UNREACHABLE} the server could not be reached; {@value #EXIT_PROBLEMS} {@code verify} found
 * problems, or {@code fork merge} stopped on conflicts.
 */
@Command(
    name = "strata",
    mixinStandardHelpOptions = true,
    versionProvider = StrataCli.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Strata: a storage server with snapshots and O(1) forks, and its command line.",
      "",
      "Start a server with 'strata serve' (data in ./strata-data, listening on 127.0.0.1:7700);",
      "every other command talks to a server over gRPC (--server, or STRATA_SERVER)."
    },
    footer = {
      "",
      "Exit codes: 0 ok, 1 the server answered with an error (or bad input), 2 usage error,",
      "            3 cannot connect to the server, 4 verify found problems."
    },
    subcommands = {
      ServeCommand.class,
      CollectionCommand.class,
      LoadCommand.class,
      PutCommand.class,
      DeleteCommand.class,
      GetCommand.class,
      ScanCommand.class,
      SearchCommand.class,
      FlushCommand.class,
      AwaitCommand.class,
      SnapshotsCommand.class,
      ChangesCommand.class,
      ForkCommand.class,
      CompactCommand.class,
      StatsCommand.class,
      VerifyCommand.class,
      RestoreCommand.class,
      CommandLine.HelpCommand.class
    })
public final class StrataCli implements Runnable {
  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_UNREACHABLE = 3;
  public static final int EXIT_PROBLEMS = 4;

  @Spec CommandSpec spec;

  @Option(
      names = "--server",
      scope = ScopeType.INHERIT,
      paramLabel = "HOST:PORT",
      defaultValue = "${env:STRATA_SERVER:-127.0.0.1:7700}",
      description = "Server address (env STRATA_SERVER; default ${DEFAULT-VALUE}).")
  String server;

  @Option(
      names = "--token",
      scope = ScopeType.INHERIT,
      paramLabel = "TOKEN",
      defaultValue = "${env:STRATA_TOKEN}",
      description = "Bearer token (env STRATA_TOKEN); not needed when the server has no tokens.")
  String token;

  @Option(names = "--tls", scope = ScopeType.INHERIT, description = "Connect with TLS.")
  boolean tls;

  @Option(
      names = "--tls-ca",
      scope = ScopeType.INHERIT,
      paramLabel = "PEM",
      description = "Trust these CA certificates (PEM) instead of the system's; implies --tls.")
  File tlsCa;

  @Option(
      names = "--json",
      scope = ScopeType.INHERIT,
      description =
          "Machine-readable output: one JSON document per result, one per line (streams: one per"
              + " entry).")
  boolean json;

  @Option(
      names = "--fork",
      scope = ScopeType.INHERIT,
      paramLabel = "FORK",
      defaultValue = "main",
      description = "The fork to work on (default ${DEFAULT-VALUE}).")
  String fork;

  @Option(
      names = "--timeout",
      scope = ScopeType.INHERIT,
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = DurationConverter.class,
      description = "Deadline of each call (default ${DEFAULT-VALUE}; e.g. 500ms, 30s, 5m).")
  Duration timeout;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing command");
  }

  /**
   * The command line's retries: back-pressure waits the server's delay as everywhere, but a server
   * that cannot be reached is given up on after about half a second (a back-off bound of 50 ms up
   * to 1 s instead of the client's default 200 ms up to 5 s): a person at a terminal wants "cannot
   * connect" at once, and reruns the command.
   */
  static final RetryPolicy RETRY_POLICY =
      new RetryPolicy(RetryPolicy.DEFAULT.maxAttempts(), Duration.ofMillis(50), Duration.ofSeconds(1), 2.0);

  /** Opens a client with the global options. */
  StrataClient connect(StrataClient.RetryListener retryListener) {
    StrataClient.Builder b =
        StrataClient.builder(server)
            .token(token)
            .tls(tls || tlsCa != null)
            .deadline(timeout)
            .retryPolicy(RETRY_POLICY)
            .retryListener(retryListener);
    if (tlsCa != null) {
      b.trustedCertificates(tlsCa);
    }
    return b.build();
  }

  /** The command line with Strata's error handling and exit codes, printing to the console. */
  public static CommandLine commandLine() {
    return commandLine(
        new PrintWriter(new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8), true),
        new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8), true));
  }

  /** The command line with Strata's error handling and exit codes, printing to the given writers. */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
    StrataCli root = new StrataCli();
    CommandLine cl = new CommandLine(root);
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> handle(ex, commandLine, root));
    return cl;
  }

  /** Runs one command line and returns its exit code. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    return commandLine(out, err).execute(args);
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static int handle(Exception ex, CommandLine cl, StrataCli root) {
    PrintWriter err = cl.getErr();
    Throwable e = ex;
    while ((e instanceof CompletionException || e instanceof ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    int code;
    if (e instanceof CommandLine.ParameterException pe) {
      throw pe;
    } else if (e instanceof StatusRuntimeException sre) {
      if (StrataErrors.isUnreachable(sre)
          || sre.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED && root.neverConnected) {
        err.println("error: cannot connect to " + root.server + ": " + StrataErrors.oneLine(sre));
        code = EXIT_UNREACHABLE;
      } else {
        err.println("error: " + StrataErrors.oneLine(sre));
        code = EXIT_FAILED;
      }
    } else if (e instanceof CliException ce) {
      err.println("error: " + ce.getMessage());
      code = ce.exitCode();
    } else if (e instanceof IllegalArgumentException
        || e instanceof IOException
        || e instanceof UncheckedIOException) {
      err.println("error: " + oneLine(e.getMessage() == null ? e.toString() : e.getMessage()));
      code = EXIT_FAILED;
    } else {
      err.println("error: " + oneLine(e.toString()));
      if (System.getenv("STRATA_DEBUG") != null) {
        e.printStackTrace(err);
      }
      code = EXIT_FAILED;
    }
    err.flush();
    return code;
  }

  /** Set by commands that saw the channel never become ready (for exit code 3 on deadlines). */
  volatile boolean neverConnected;

  static String oneLine(String s) {
    return s.strip().replaceAll("\\s*[\\r\\n]+\\s*", "; ");
  }

  /** Picocli converter for durations such as {@code 30s}. */
  public static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return Format.parseDuration(value);
    }
  }

  /** Picocli converter for sizes such as {@code 64MiB}. */
  public static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      return Format.parseSize(value);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = StrataCli.class.getPackage().getImplementationVersion();
      return new String[] {
        "strata " + (v == null ? "0.1.0-SNAPSHOT" : v),
        "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"
      };
    }
  }
}
