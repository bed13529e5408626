package dev.strata.cli;

import dev.strata.client.StrataClient;
import io.grpc.ConnectivityState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A command that talks to a server: opens a client from the global options and closes it. */
abstract class ClientCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  StrataCli root() {
    return (StrataCli) spec.root().userObject();
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  boolean json() {
    return root().json;
  }

  String fork() {
    return root().fork;
  }

  Duration timeout() {
    return root().timeout;
  }

  /** Prints one compact JSON document on its own line (see {@link JsonOutput}). */
  void printJson(Object tree) {
    out().println(JsonOutput.write(tree));
    out().flush();
  }

  /**
   * Client commands print their results, not logs: without this, grpc-netty's DEBUG chatter
   * would reach the console whenever no logback configuration is on the classpath.
   */
  static void quietLogs() {
    if (org.slf4j.LoggerFactory.getILoggerFactory()
        instanceof ch.qos.logback.classic.LoggerContext ctx) {
      ch.qos.logback.classic.Logger rootLogger = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      if (System.getenv("STRATA_DEBUG") == null) {
        rootLogger.setLevel(ch.qos.logback.classic.Level.WARN);
      }
    }
  }

  @Override
  public final Integer call() throws Exception {
    quietLogs();
    try (StrataClient client = root().connect(retryListener())) {
      try {
        return run(client);
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
          ConnectivityState s = client.state();
          if (s == ConnectivityState.CONNECTING || s == ConnectivityState.TRANSIENT_FAILURE) {
            root().neverConnected = true;
          }
        }
        throw e;
      }
    }
  }

  /** Observes back-pressure retries; none by default. */
  StrataClient.RetryListener retryListener() {
    return null;
  }

  abstract int run(StrataClient client) throws Exception;
}
