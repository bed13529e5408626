package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.cli.StrataCli;
import dev.strata.objectstore.S3ProxyFixture;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The shaded jar that {@code bin/strata} runs ({@code server/target/strata.jar}, built in {@code
 * package}) still runs every command of the command line: {@code serve} in one JVM, then each
 * client command in a JVM of its own, as a user's shell would, each checked for its exit code and
 * output. A command added to {@link StrataCli} without a run here fails the test.
 */
class ShadedJarCliIT {
  private static final Pattern SERVING = Pattern.compile("serving on (\\S+):(\\d+) ");

  @TempDir Path tmp;
  private Process server;
  private String target;
  /** The server's object storage: the jar's AWS SDK is exercised by serve, await --level and restore. */
  private S3ProxyFixture s3;
  private final Set<String> ran = new TreeSet<>();

  record Run(int code, String out, String err) {}

  @AfterEach
  void stopServer() throws Exception {
    if (server != null) {
      server.destroy(); // SIGTERM: graceful shutdown
      if (!server.waitFor(60, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
    if (s3 != null) {
      s3.close();
    }
  }

  /** This JVM's java, with the option bin/strata adds on JDK 23+ (protobuf still uses Unsafe). */
  private static List<String> java() {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    if (Runtime.version().feature() >= 23) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    return cmd;
  }

  private static Path jar() {
    Path jar = Path.of(System.getProperty("strata.jar", "target/strata.jar"));
    assertThat(jar).as("the shaded jar (mvn package)").isRegularFile();
    return jar;
  }

  /** Runs {@code strata --server <target> args...} in a JVM of its own. */
  private Run strata(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(java());
    // as bin/strata runs client commands: C1 only, and a class-data archive made by the first run
    // (about halves the start-up of the ~30 JVMs), its messages kept off stderr
    cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+AutoCreateSharedArchive",
        "-XX:SharedArchiveFile=" + tmp.resolve("cli.jsa"), "-Xlog:disable", "-Xlog:all=error,cds*=off:stderr",
        "-jar", jar().toString()));
    if (target != null) {
      cmd.addAll(List.of("--server", target));
    }
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Path err = Files.createTempFile(tmp, "err", ".txt");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as(String.join(" ", args)).isTrue();
    Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    recordCommand(args);
    return r;
  }

  private Run ok(String... args) throws Exception {
    Run r = strata(args);
    assertThat(r.code()).as("strata %s%n--- stdout%n%s--- stderr%n%s", String.join(" ", args), r.out(), r.err()).isZero();
    return r;
  }

  /** Notes the command path of a run ("fork tree"), past global options such as --json. */
  private void recordCommand(String... args) {
    CommandLine cl = StrataCli.commandLine();
    List<String> path = new ArrayList<>();
    for (String a : args) {
      CommandLine sub = cl.getSubcommands().get(a);
      if (sub != null) {
        cl = sub;
        path.add(sub.getCommandName());
      } else if (!path.isEmpty()) {
        break;
      }
    }
    if (!path.isEmpty()) {
      ran.add(String.join(" ", path));
    }
  }

  /** Every runnable command path of the CLI ("serve", "fork tree", ...), without "help". */
  private static Set<String> allCommands() {
    Set<String> all = new TreeSet<>();
    collect(StrataCli.commandLine(), "", all);
    return all;
  }

  private static void collect(CommandLine cl, String prefix, Set<String> into) {
    for (CommandLine sub : new java.util.LinkedHashSet<>(cl.getSubcommands().values())) {
      String name = (prefix + " " + sub.getCommandName()).strip();
      if (name.equals("help")) {
        continue;
      }
      if (sub.getSubcommands().isEmpty()) {
        into.add(name);
      } else {
        collect(sub, name, into);
      }
    }
  }

  @Test
  void everyCommandRunsFromTheShadedJar() throws Exception {
    assertThat(ok("--version").out()).startsWith("strata ");
    assertThat(ok("--help").out()).contains("Usage: strata").contains("Exit codes");

    startServer();
    Path corpus = tmp.resolve("packages.jsonl.gz");
    writeCorpus(corpus);

    assertThat(ok("collection", "create", "pk", "--text-fields", "summary", "--keyword-fields", "section",
        "--long-fields", "installed_size_kib").out()).contains("created collection pk");
    assertThat(ok("collection", "list").out()).contains("pk");
    assertThat(ok("collection", "show", "pk").out()).contains("summary").contains("TEXT");
    Run load = ok("load", corpus.toString(), "-c", "pk", "--no-progress");
    assertThat(load.out()).contains("loaded 40 documents");
    String first = snapshotOf(load.out());
    assertThat(ok("put", "-c", "pk", "{\"id\": \"extra\", \"summary\": \"added later\", \"section\": \"net\"}").out())
        .contains("wrote 1 document");
    assertThat(ok("delete", "-c", "pk", "pkg-001").out()).contains("deleted 1 document");
    assertThat(ok("get", "-c", "pk", "extra").out()).contains("added later");
    assertThat(ok("scan", "-c", "pk", "--limit", "3").out().lines().toList()).containsExactly("extra", "pkg-000", "pkg-002");
    String ticket = ok("flush").out().strip();
    assertThat(ticket).matches("main\\S*:\\d+:\\d+");
    String second = snapshotOf(ok("await", ticket).out());
    assertThat(snapshotOf(ok("await", ticket, "--level", "uploaded").out())).isEqualTo(second);
    assertThat(ok("search", "editor", "-c", "pk", "--filter", "section=editors").out()).contains("hits").contains("pkg-");
    assertThat(ok("snapshots", "list").out()).contains(second);
    assertThat(ok("snapshots", "list", "--graph").out()).contains("* " + second).contains("* " + first);
    assertThat(ok("snapshots", "show", second).out()).contains("covered lsn");
    assertThat(ok("snapshots", "tag", second, "t1").out()).contains("tagged");
    assertThat(ok("snapshots", "untag", "t1").out()).contains("removed tag t1");
    assertThat(ok("snapshots", "diff", first, second).out()).contains("1 added, 0 changed, 1 deleted");
    assertThat(ok("snapshots", "watch", "--after-seq", "-1", "--for", "2s").out()).contains(second);
    assertThat(ok("fork", "create", "f1", "--from-snapshot", first).out()).contains("created fork f1");
    assertThat(ok("fork", "list").out()).contains("f1");
    assertThat(ok("fork", "show", "f1").out()).contains(first);
    assertThat(ok("fork", "tree").out()).contains("└── f1");
    assertThat(ok("fork", "merge", "f1", "--dry-run").out()).contains("up to date");
    assertThat(ok("changes", "main", "--after", first).out()).contains("delete pk/pkg-001").contains("# complete " + second);
    assertThat(ok("fork", "drop", "f1").out()).contains("dropped fork f1");
    assertThat(ok("compact", "--full").out()).contains("fork main");
    assertThat(ok("stats").out()).contains("FORK").contains("main");
    assertThat(ok("--json", "verify").out()).contains("\"problems\":[]");

    Path conf = tmp.resolve("restore.properties");
    Files.writeString(conf, "storage.secret_key=" + S3ProxyFixture.SECRET_KEY + "\n");
    assertThat(ok("restore", "--from", "s3://" + S3ProxyFixture.BUCKET + "/jar", "--data-dir", tmp.resolve("restored").toString(),
        "--endpoint", s3.endpoint().toString(), "--access-key", S3ProxyFixture.ACCESS_KEY, "--path-style", "true",
        "--config", conf.toString()).out()).contains("restored fork main");

    Run missing = strata("get", "-c", "pk", "pkg-001");
    assertThat(missing.code()).isEqualTo(StrataCli.EXIT_FAILED);
    assertThat(missing.err()).startsWith("error: NOT_FOUND: ");

    ran.add("serve");
    assertThat(ran).as("commands run through the jar").containsAll(allCommands());
  }

  private void startServer() throws Exception {
    s3 = new S3ProxyFixture(tmp.resolve("blobs"));
    List<String> cmd = new ArrayList<>(java());
    cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "-jar", jar().toString(), "serve",
        "--data-dir", tmp.resolve("data").toString(), "--listen", "127.0.0.1:0", "--flush-interval", "off",
        "--set", "metrics.listen=off", "--set", "storage.bucket=" + S3ProxyFixture.BUCKET, "--set", "storage.prefix=jar",
        "--set", "storage.endpoint=" + s3.endpoint(), "--set", "storage.access_key=" + S3ProxyFixture.ACCESS_KEY,
        "--set", "storage.secret_key=" + S3ProxyFixture.SECRET_KEY, "--set", "storage.path_style=true"));
    server = new ProcessBuilder(cmd).redirectError(tmp.resolve("server.log").toFile()).start();
    BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      Matcher m = SERVING.matcher(line);
      if (m.find()) {
        target = m.group(1) + ":" + m.group(2);
        return;
      }
    }
    throw new AssertionError("strata serve ended without serving:\n" + Files.readString(tmp.resolve("server.log")));
  }

  private static String snapshotOf(String out) {
    Matcher m = Pattern.compile("(?m)^snapshot (\\S+)$").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return m.group(1);
  }

  private static void writeCorpus(Path file) throws IOException {
    try (Writer w = new OutputStreamWriter(new GZIPOutputStream(Files.newOutputStream(file)), StandardCharsets.UTF_8)) {
      for (int i = 0; i < 40; i++) {
        w.write(String.format(
            "{\"id\": \"pkg-%03d\", \"summary\": \"%s %d\", \"section\": \"%s\", \"installed_size_kib\": %d}%n",
            i, i % 2 == 0 ? "text editor" : "network tool", i, i % 2 == 0 ? "editors" : "net", 10 * i));
      }
    }
  }
}
