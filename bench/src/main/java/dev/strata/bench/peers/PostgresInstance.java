package dev.strata.bench.peers;

import dev.strata.bench.BenchDirs;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away PostgreSQL 15 cluster: {@code initdb} in a new directory under {@link
 * BenchDirs#root()}, started with {@code pg_ctl} on a free loopback port (no Unix socket outside
 * its directory), default settings plus {@code synchronous_commit=on} and {@code fsync=on} said
 * out loud; {@link #close()} stops it ({@code -m immediate} if a fast stop hangs) and deletes the
 * directory. When this JVM runs as root (initdb refuses root), every PostgreSQL command runs as the
 * {@code postgres} user through {@code runuser}, and the directory is handed to that user.
 */
public final class PostgresInstance implements AutoCloseable {
  /** Where Debian's postgresql-15 package puts its programs. */
  static final List<Path> BIN_DIRS =
      List.of(Paths.get("/usr/lib/postgresql/15/bin"), Paths.get("/usr/local/bin"), Paths.get("/usr/bin"));

  private final Path bin;
  private final Path dir;
  private final int port;
  private final boolean asPostgresUser;
  private boolean running;

  private PostgresInstance(Path bin, Path dir, int port, boolean asPostgresUser) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.asPostgresUser = asPostgresUser;
  }

  /** The directory holding {@code initdb} and {@code pg_ctl}, if PostgreSQL is installed. */
  public static Optional<Path> findBinDir() {
    String env = System.getenv("STRATA_PG_BIN");
    if (env != null && !env.isBlank()) {
      return Optional.of(Paths.get(env)).filter(p -> Files.isExecutable(p.resolve("pg_ctl")));
    }
    return BIN_DIRS.stream()
        .filter(p -> Files.isExecutable(p.resolve("pg_ctl")) && Files.isExecutable(p.resolve("initdb")))
        .findFirst();
  }

  /**
   * Creates and starts a cluster.
   *
   * @throws IOException if PostgreSQL is not installed, or initdb or the start fails (with its
   *     output)
   */
  public static PostgresInstance start() throws IOException, InterruptedException {
    Path bin = findBinDir().orElseThrow(() -> new IOException(
        "PostgreSQL is not installed (no pg_ctl in " + BIN_DIRS + "): apt-get install postgresql-15"));
    boolean root = "root".equals(System.getProperty("user.name"));
    Path dir = BenchDirs.create("strata-bench-pg-");
    PostgresInstance pg = new PostgresInstance(bin, dir, freePort(), root);
    try {
      if (root) {
        run(List.of("chown", "postgres:postgres", dir.toString()), 30);
      }
      Path data = dir.resolve("data");
      pg.pg(120, "initdb", "-D", data.toString(), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
          "--locale=C.UTF-8", "--no-instructions");
      String opts = "-p " + pg.port + " -c listen_addresses=127.0.0.1 -k " + dir
          + " -c synchronous_commit=on -c fsync=on -c max_connections=200";
      pg.running = true; // from here on, close() tries a stop
      pg.pg(120, "pg_ctl", "-D", data.toString(), "-l", dir.resolve("postgres.log").toString(), "-w",
          "-t", "60", "-o", opts, "start");
      return pg;
    } catch (IOException | InterruptedException | RuntimeException e) {
      pg.close();
      throw e;
    }
  }

  /** The TCP port on 127.0.0.1. */
  public int port() {
    return port;
  }

  /** A JDBC URL of database {@code db} (user postgres, trust authentication). */
  public String jdbcUrl(String db) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + db;
  }

  /**
   * A new connection to {@code db}. Batched inserts are rewritten into multi-row INSERTs
   * ({@code reWriteBatchedInserts}), which is what a user who cares about speed turns on.
   */
  public Connection connect(String db) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "postgres");
    p.setProperty("reWriteBatchedInserts", "true");
    p.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(jdbcUrl(db), p);
  }

  /** The server version string, e.g. {@code 15.14 (Debian 15.14-0+deb12u1)}. */
  public String version() throws SQLException {
    try (Connection c = connect("postgres");
        var rs = c.createStatement().executeQuery("SHOW server_version")) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Stops the server and deletes its directory. Safe to call twice. */
  @Override
  public void close() {
    try {
      if (running) {
        running = false;
        Path data = dir.resolve("data");
        try {
          pg(90, "pg_ctl", "-D", data.toString(), "-m", "fast", "-w", "-t", "60", "stop");
        } catch (IOException e) {
          pg(60, "pg_ctl", "-D", data.toString(), "-m", "immediate", "-w", "-t", "30", "stop");
        }
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("warning: stopping PostgreSQL in " + dir + " failed: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        BenchDirs.deleteRecursively(dir);
      } catch (IOException e) {
        System.err.println("warning: could not delete " + dir + ": " + e.getMessage());
      }
    }
  }

  private void pg(int timeoutSeconds, String program, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    if (asPostgresUser) {
      cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    cmd.add(bin.resolve(program).toString());
    cmd.addAll(List.of(args));
    run(cmd, timeoutSeconds);
  }

  private static void run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
    Path out = Files.createTempFile("strata-bench-pg-cmd-", ".log");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + ": no exit within " + timeoutSeconds + " s");
      }
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", cmd) + " exited with " + p.exitValue() + ": "
            + Files.readString(out, StandardCharsets.UTF_8).strip());
      }
    } finally {
      Files.deleteIfExists(out);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
