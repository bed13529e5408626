package dev.strata.bench.peers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Strata server in a child JVM: {@code strata serve} (main class {@code dev.strata.cli.StrataCli})
 * on a loopback port picked by the server, with this JVM's Java binary and class path (which holds
 * the server: the shaded {@code benchmarks.jar}, or the test class path). A separate process, like
 * PostgreSQL: the server's threads, heap and GC do not share a JVM with the load generator, and a
 * {@code kill -9} is real. {@code -Dstrata.bench.serverJvmArgs="..."} adds JVM options to the child
 * (a JFR recording, say). Output goes to a log file; {@link #close()} stops the server with
 * SIGTERM (graceful: final flush) and kills it after a timeout.
 */
public final class StrataServerProcess implements AutoCloseable {
  private static final Pattern SERVING = Pattern.compile("strata: serving on (\\S+):(\\d+) ");

  private final Process process;
  private final Path log;
  private final int port;

  private StrataServerProcess(Process process, Path log, int port) {
    this.process = process;
    this.log = log;
    this.port = port;
  }

  /**
   * Starts a server on {@code dataDir} and waits until it serves.
   *
   * @param settings configuration keys of {@code docs/operations.md} ({@code --set KEY=VALUE})
   * @param heapMb the child's {@code -Xmx}, in MiB
   * @param log where the child's stdout and stderr go
   * @throws IOException if it does not print its serving line within {@code startTimeoutMs}, or exits
   */
  public static StrataServerProcess start(Path dataDir, Map<String, String> settings, int heapMb, Path log, long startTimeoutMs)
      throws IOException, InterruptedException {
    return start(dataDir, "127.0.0.1:0", settings, heapMb, log, startTimeoutMs);
  }

  /**
   * Like {@link #start(Path, Map, int, Path, long)}, listening on {@code listen} ({@code host:port};
   * a fixed port lets a restarted server be reached where the killed one was).
   */
  public static StrataServerProcess start(Path dataDir, String listen, Map<String, String> settings, int heapMb, Path log,
      long startTimeoutMs) throws IOException, InterruptedException {
    return start(dataDir, listen, settings, heapMb, List.of(), log, startTimeoutMs);
  }

  /**
   * Like {@link #start(Path, String, Map, int, Path, long)}, with more options for the child JVM
   * ({@code jvmArgs}, e.g. a class-data-sharing archive that shortens restarts).
   */
  public static StrataServerProcess start(Path dataDir, String listen, Map<String, String> settings, int heapMb,
      List<String> jvmArgs, Path log, long startTimeoutMs) throws IOException, InterruptedException {
    String java = ProcessHandle.current().info().command().orElse(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>(List.of(
        java, "-Xmx" + heapMb + "m", "--add-modules", "jdk.incubator.vector",
        "--enable-native-access=ALL-UNNAMED"));
    cmd.addAll(jvmArgs);
    String extra = System.getProperty("strata.bench.serverJvmArgs", "").strip();
    if (!extra.isEmpty()) {
      cmd.addAll(List.of(extra.split("\\s+"))); // e.g. -XX:StartFlightRecording=filename=server.jfr
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
        "dev.strata.cli.StrataCli", "serve", "--data-dir", dataDir.toString(), "--listen", listen));
    settings.forEach((k, v) -> {
      cmd.add("--set");
      cmd.add(k + "=" + v);
    });
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("STRATA_")); // only our settings count
    Process p = pb.start();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(startTimeoutMs);
    while (System.nanoTime() < deadline) {
      String out = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
      Matcher m = SERVING.matcher(out);
      if (m.find()) {
        return new StrataServerProcess(p, log, Integer.parseInt(m.group(2)));
      }
      if (!p.isAlive()) {
        throw new IOException("strata serve exited with " + p.exitValue() + ": " + tail(log));
      }
      Thread.sleep(10);
    }
    p.destroyForcibly();
    throw new IOException("strata serve did not start in " + startTimeoutMs + " ms: " + tail(log));
  }

  /** The loopback port it serves on. */
  public int port() {
    return port;
  }

  /** {@code 127.0.0.1:port}. */
  public String target() {
    return "127.0.0.1:" + port;
  }

  /** The child's process id. */
  public long pid() {
    return process.pid();
  }

  /** The child's output file. */
  public Path log() {
    return log;
  }

  /** Ends the child at once (SIGKILL), as a crash would; waits for it to be gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM (graceful shutdown: final flush), then SIGKILL after 60 s. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** The last lines of a log file, for error messages. */
  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }
}
