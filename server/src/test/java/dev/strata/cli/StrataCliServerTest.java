package dev.strata.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.server.ServerConfig;
import dev.strata.server.StrataServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line against a real server on a loopback port: every command runs in-process
 * through picocli with captured stdout and stderr.
 */
class StrataCliServerTest {
  private static final String[] SECTIONS = {"editors", "games", "devel", "net", "utils"};
  private static final Pattern SNAPSHOT_LINE = Pattern.compile("(?m)^snapshot (\\S+)$");

  @TempDir static Path tmp;
  static StrataServer server;
  static String target;
  static Path corpus;

  record Result(int code, String out, String err) {
    JsonObject json() {
      return JsonParser.parseString(out.strip()).getAsJsonObject();
    }

    List<JsonObject> jsonLines() {
      List<JsonObject> l = new ArrayList<>();
      for (String line : out.split("\n")) {
        if (!line.isBlank()) {
          l.add(JsonParser.parseString(line).getAsJsonObject());
        }
      }
      return l;
    }

    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  @BeforeAll
  static void startServer() throws IOException {
    Path data = tmp.resolve("data");
    ServerConfig cfg =
        ServerConfig.load(
            null, Map.of(), Map.of("data_dir", data.toString(), "listen", "127.0.0.1:0"));
    server = StrataServer.start(cfg);
    target = "127.0.0.1:" + server.port();
    corpus = tmp.resolve("packages.jsonl.gz");
    writeCorpus(corpus, 200);
  }

  @AfterAll
  static void stopServer() {
    if (server != null) {
      server.shutdown(Duration.ofSeconds(30));
    }
  }

  /** 200 lines shaped like /work/shared/data/debian-packages.jsonl.gz. */
  static void writeCorpus(Path file, int n) throws IOException {
    try (OutputStream gz = new GZIPOutputStream(Files.newOutputStream(file));
        Writer w = new java.io.OutputStreamWriter(gz, StandardCharsets.UTF_8)) {
      for (int i = 0; i < n; i++) {
        String section = SECTIONS[i % SECTIONS.length];
        String summary =
            section.equals("editors")
                ? "text editor number " + i
                : (i % 7 == 0 ? "library for text processing " : "tool ") + i;
        JsonObject doc = new JsonObject();
        doc.addProperty("id", String.format(Locale.ROOT, "pkg-%03d", i));
        doc.addProperty("version", "1.0-" + i);
        doc.addProperty("section", section);
        doc.addProperty("priority", i % 3 == 0 ? "important" : "optional");
        doc.addProperty("maintainer", "Team " + (i % 4) + " <team" + (i % 4) + "@lists.debian.org>");
        doc.addProperty("homepage", i % 2 == 0 ? "https://example.org/" + i : "");
        doc.addProperty("summary", summary);
        doc.addProperty("description", "Package " + i + " does things.\nIt has a second line, ünïcödé.");
        doc.addProperty("depends", "libc6 (>= 2.34)");
        doc.addProperty("installed_size_kib", 100L * i);
        w.write(doc.toString());
        w.write('\n');
      }
    }
  }

  static Result cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(List.of("--server", target));
    all.addAll(List.of(args));
    int code =
        StrataCli.run(new PrintWriter(out, true), new PrintWriter(err, true), all.toArray(new String[0]));
    return new Result(code, out.toString(), err.toString());
  }

  static Result ok(String... args) {
    Result r = cli(args);
    assertThat(r.code()).as(String.join(" ", args) + "\n" + r).isZero();
    return r;
  }

  static String load(String collection) {
    Result r =
        ok(
            "load", corpus.toString(),
            "--collection", collection,
            "--id-field", "id",
            "--text-fields", "summary,description",
            "--keyword-fields", "section,priority,maintainer",
            "--long-fields", "installed_size_kib",
            "--batch-size", "32",
            "--no-progress");
    assertThat(r.out()).contains("loaded 200 documents");
    Matcher m = SNAPSHOT_LINE.matcher(r.out());
    assertThat(m.find()).as(r.toString()).isTrue();
    return m.group(1);
  }

  @Test
  void loadThenSearchWithAFilter() {
    String snapshot = load("pk-search");
    assertThat(snapshot).matches("main\\S*-\\d{12,}");

    Result table = ok("search", "text editor", "-c", "pk-search", "--filter", "section=editors");
    assertThat(table.out()).contains("hits").contains("pkg-").contains("editors");

    Result json =
        ok("--json", "search", "text editor", "-c", "pk-search", "--filter", "section=editors", "-n", "100");
    JsonObject r = json.json();
    JsonArray hits = r.getAsJsonArray("hits");
    assertThat(r.get("totalHits").getAsLong()).isEqualTo(40);
    assertThat(hits).hasSize(40);
    for (JsonElement h : hits) {
      JsonObject fields = h.getAsJsonObject().getAsJsonObject("document").getAsJsonObject("fields");
      assertThat(fields.get("section").getAsString()).isEqualTo("editors");
      assertThat(fields.get("installed_size_kib").getAsLong()).isNotNegative();
    }

    Result ranged =
        ok(
            "--json", "search", "", "-c", "pk-search",
            "--range", "installed_size_kib=1000..1900",
            "--sort", "installed_size_kib:desc");
    JsonArray rh = ranged.json().getAsJsonArray("hits");
    assertThat(ranged.json().get("totalHits").getAsLong()).isEqualTo(10);
    assertThat(rh.get(0).getAsJsonObject().get("id").getAsString()).isEqualTo("pkg-019");

    Result got = ok("get", "-c", "pk-search", "pkg-005");
    assertThat(got.out()).contains("editors").contains("ünïcödé");
    Result gotJson = ok("--json", "get", "-c", "pk-search", "pkg-005");
    assertThat(gotJson.json().get("id").getAsString()).isEqualTo("pkg-005");
  }

  @Test
  void flushPrintsATicketThatAwaitResolves() {
    ok("collection", "create", "pk-flush", "--text-fields", "summary");
    ok("put", "-c", "pk-flush", "{\"id\": \"a\", \"summary\": \"alpha\"}");
    Result flush = ok("flush");
    String ticket = flush.out().strip();
    assertThat(ticket).matches("main\\S*:\\d+:\\d+");
    Result await = ok("await", ticket);
    assertThat(await.out()).matches("(?s)snapshot main\\S*-\\d{12,}\\s*");

    ok("put", "-c", "pk-flush", "{\"id\": \"b\", \"summary\": \"beta\"}");
    Result waited = ok("flush", "--wait");
    assertThat(SNAPSHOT_LINE.matcher(waited.out()).find()).isTrue();
    Result found = ok("--json", "search", "beta", "-c", "pk-flush");
    assertThat(found.json().get("totalHits").getAsLong()).isEqualTo(1);

    Result jsonFlush = ok("--json", "flush", "--wait");
    assertThat(jsonFlush.json().get("ticket").getAsString()).startsWith("main");
    assertThat(jsonFlush.json().getAsJsonObject("snapshot").get("id").getAsString()).startsWith("main");
  }

  @Test
  void forkChangeDiffAndDrop() {
    String base = load("pk-fork");
    Result created = ok("fork", "create", "feature-x", "--from-snapshot", base);
    assertThat(created.out()).contains("created fork feature-x");

    ok("--fork", "feature-x", "delete", "-c", "pk-fork", "pkg-001", "pkg-002");
    ok(
        "--fork", "feature-x", "put", "-c", "pk-fork",
        "{\"id\": \"pkg-003\", \"summary\": \"changed on the fork\", \"section\": \"editors\","
            + " \"installed_size_kib\": 1}",
        "{\"id\": \"pkg-new\", \"summary\": \"brand new\", \"section\": \"games\"}");
    Result flushed = ok("--fork", "feature-x", "flush", "--wait");
    Matcher m = SNAPSHOT_LINE.matcher(flushed.out());
    assertThat(m.find()).isTrue();
    String forkSnapshot = m.group(1);
    assertThat(forkSnapshot).startsWith("feature-x");

    // main is unchanged at its snapshot; the fork changed
    ok("get", "-c", "pk-fork", "pkg-001");
    Result gone = cli("--fork", "feature-x", "get", "-c", "pk-fork", "pkg-001");
    assertThat(gone.code()).as(gone.toString()).isEqualTo(1);
    assertThat(gone.err()).startsWith("error: NOT_FOUND: ");
    Result mainSearch = ok("--json", "search", "", "-c", "pk-fork", "--snapshot", base);
    assertThat(mainSearch.json().get("totalHits").getAsLong()).isEqualTo(200);
    Result forkSearch = ok("--json", "--fork", "feature-x", "search", "", "-c", "pk-fork");
    assertThat(forkSearch.json().get("totalHits").getAsLong()).isEqualTo(199);

    Result diff = ok("--json", "snapshots", "diff", base, forkSnapshot);
    Set<String> changes = new HashSet<>();
    for (JsonObject e : diff.jsonLines()) {
      changes.add(e.get("change").getAsString() + " " + e.get("id").getAsString());
    }
    assertThat(changes)
        .containsExactlyInAnyOrder(
            "CHANGE_KIND_DELETED pkg-001",
            "CHANGE_KIND_DELETED pkg-002",
            "CHANGE_KIND_CHANGED pkg-003",
            "CHANGE_KIND_ADDED pkg-new");
    Result diffTable = ok("snapshots", "diff", base, forkSnapshot);
    assertThat(diffTable.out()).contains("1 added, 1 changed, 2 deleted");

    Result tree = ok("fork", "tree");
    assertThat(tree.out()).contains("└── feature-x").contains("main@");
    Result treeJson = ok("--json", "fork", "tree");
    assertThat(treeJson.json().getAsJsonArray("forks").get(0).getAsJsonObject().getAsJsonArray("children").toString())
        .contains("feature-x");
    Result graph = ok("snapshots", "list", "--graph");
    assertThat(graph.out()).contains("| * fork feature-x").contains("|/").contains("* " + base);
    assertThat(ok("--fork", "feature-x", "snapshots", "list", "--graph").out()).contains("FORK").contains("from " + base);

    Result forks = ok("--json", "fork", "list");
    assertThat(forks.json().getAsJsonArray("forks").toString()).contains("feature-x");
    ok("fork", "show", "feature-x");
    Result dropped = ok("fork", "drop", "feature-x", "--drain-timeout", "10s");
    assertThat(dropped.out()).contains("dropped fork feature-x");
    Result after = cli("fork", "show", "feature-x");
    assertThat(after.code()).isEqualTo(1);
    assertThat(after.err()).startsWith("error: NOT_FOUND: ").doesNotContain("\tat ");
    assertThat(after.err().strip()).doesNotContain("\n");
  }

  @Test
  void forkMergeFastForwardAndConflictsThenTheChangeFeed() {
    String s = load("pk-merge");
    ok("fork", "create", "mfeat", "--flush-first");
    ok("--fork", "mfeat", "delete", "-c", "pk-merge", "pkg-001");
    ok("--fork", "mfeat", "put", "-c", "pk-merge", "{\"id\":\"pkg-new\",\"summary\":\"added on the fork\"}");
    Result dry = ok("fork", "merge", "mfeat", "--flush-source", "--dry-run");
    assertThat(dry.out()).contains("fast-forward: the target would take");
    Result ff = ok("fork", "merge", "mfeat");
    assertThat(ff.out()).contains("fast-forward: the target takes").contains("merged in snapshot main");
    Result graph = ok("snapshots", "list", "--graph");
    assertThat(graph.out()).contains("|\\").contains("merged from fork mfeat").contains("MERGE");
    assertThat(ok("--json", "snapshots", "list").out()).contains("\"mergedSnapshotId\":\"mfeat-");
    assertThat(ok("get", "-c", "pk-merge", "pkg-new").out()).contains("added on the fork");

    // Both sides change pkg-002: a conflict (exit 4, nothing written), then source-wins.
    ok("fork", "create", "mfeat2", "--flush-first");
    ok("--fork", "mfeat2", "put", "-c", "pk-merge", "{\"id\":\"pkg-002\",\"summary\":\"fork side\"}");
    ok("put", "-c", "pk-merge", "{\"id\":\"pkg-002\",\"summary\":\"main side\"}");
    Result conflicts = cli("fork", "merge", "mfeat2", "--into", "main", "--flush-source");
    assertThat(conflicts.code()).as(conflicts.toString()).isEqualTo(StrataCli.EXIT_PROBLEMS);
    assertThat(conflicts.out()).contains("conflicts: 1").contains("pkg-002").contains("changed @");
    Result json = cli("--json", "fork", "merge", "mfeat2");
    assertThat(json.json().getAsJsonObject("merge").get("outcome").getAsString()).isEqualTo("MERGE_OUTCOME_CONFLICTS");
    assertThat(json.json().getAsJsonArray("conflicts")).hasSize(1);
    assertThat(cli("fork", "merge", "mfeat2", "--strategy", "both").code()).isEqualTo(StrataCli.EXIT_USAGE);
    Result won = ok("fork", "merge", "mfeat2", "--strategy", "source-wins");
    assertThat(won.out()).contains("three-way merge").contains("1 conflicts resolved");
    assertThat(ok("get", "-c", "pk-merge", "pkg-002").out()).contains("fork side");

    // The change feed after the loaded snapshot: JSON Lines, each snapshot closed by a marker line.
    List<JsonObject> lines = ok("--json", "changes", "main", "--collection", "pk-merge", "--after", s).jsonLines();
    assertThat(lines).isNotEmpty();
    assertThat(lines.get(lines.size() - 1).get("snapshotComplete").getAsBoolean()).isTrue();
    Set<String> deleted = new HashSet<>();
    Set<String> put = new HashSet<>();
    for (JsonObject l : lines) {
      if (l.has("op")) {
        (l.get("op").getAsString().equals("CHANGE_OP_DELETE") ? deleted : put).add(l.get("id").getAsString());
      }
    }
    assertThat(deleted).contains("pkg-001");
    assertThat(put).contains("pkg-new", "pkg-002");
    Result text = ok("changes", "main", "--after", s);
    assertThat(text.out()).contains(" delete pk-merge/pkg-001").contains("# complete main");
    assertThat(cli("changes", "main", "--after", "main-0000000000000000-000000000001").code()).isEqualTo(StrataCli.EXIT_FAILED);
  }

  @Test
  void snapshotsTagsStatsVerifyAndJson() {
    String s = load("pk-admin");
    ok("snapshots", "tag", s, "loaded-admin");
    Result shown = ok("snapshots", "show", "loaded-admin");
    assertThat(shown.out()).contains(s).contains("pk-admin");
    Result list = ok("--json", "snapshots", "list");
    assertThat(list.json().getAsJsonArray("snapshots")).isNotEmpty();
    ok("snapshots", "untag", "loaded-admin");
    assertThat(cli("snapshots", "show", "loaded-admin").code()).isEqualTo(1);

    for (String[] cmd :
        new String[][] {
          {"--json", "stats"},
          {"--json", "collection", "list"},
          {"--json", "collection", "show", "pk-admin"},
          {"--json", "fork", "show", "main"},
          {"--json", "verify", "--skip-checksums"},
        }) {
      Result r = ok(cmd);
      assertThat(r.out().strip().split("\n")).as(String.join(" ", cmd)).hasSize(1);
      r.json(); // parses
    }
    Result compact = ok("--json", "compact", "--full");
    assertThat(compact.out().strip().split("\n")).hasSize(1);
    assertThat(compact.json().toString()).contains("segmentsBefore");
    Result stats = ok("stats");
    assertThat(stats.out()).contains("FORK").contains("main");
    Result verify = ok("verify");
    assertThat(verify.out()).startsWith("ok: ");
    Result cols = ok("collection", "list");
    assertThat(cols.out()).contains("pk-admin").contains("summary:TEXT");
  }

  @Test
  void loadStopsAtABadLineUnlessToldToSkipIt() throws IOException {
    Path bad = tmp.resolve("bad.jsonl");
    Files.writeString(
        bad,
        "{\"id\": \"a\", \"summary\": \"one\", \"size\": 1}\n"
            + "\n"
            + "{\"id\": \"b\", \"size\": \"big\"}\n"
            + "not json\n"
            + "{\"id\": \"c\", \"summary\": \"three\", \"size\": 3}\n",
        StandardCharsets.UTF_8);
    String[] args = {"load", bad.toString(), "-c", "pk-bad", "--text-fields", "summary", "--long-fields", "size", "--no-progress"};
    Result stopped = cli(args);
    assertThat(stopped.code()).as(stopped.toString()).isEqualTo(1);
    assertThat(stopped.err()).contains("\nerror: " + bad + ":3: field 'size' is LONG");

    List<String> skipping = new ArrayList<>(List.of(args));
    skipping.add("--skip-invalid");
    skipping.add("--json");
    Result skipped = ok(skipping.toArray(new String[0]));
    JsonObject summary = skipped.json();
    assertThat(summary.get("documents").getAsLong()).isEqualTo(2);
    assertThat(summary.get("skippedLines").getAsLong()).isEqualTo(2);
    assertThat(summary.get("snapshotId").getAsString()).isNotEmpty();
    assertThat(skipped.err()).contains(":3: ").contains(":4: invalid JSON");
    ok("get", "-c", "pk-bad", "c");
  }

  @Test
  void exitCodes() {
    Result notFound = cli("fork", "show", "x");
    assertThat(notFound.code()).isEqualTo(1);
    assertThat(notFound.err()).startsWith("error: NOT_FOUND: ");

    Result invalid = cli("fork", "create", "../x", "--from-fork", "main");
    assertThat(invalid.code()).isEqualTo(1);
    assertThat(invalid.err()).startsWith("error: INVALID_ARGUMENT: ");

    Result dropMain = cli("fork", "drop", "main");
    assertThat(dropMain.code()).isEqualTo(1);
    assertThat(dropMain.err()).startsWith("error: FAILED_PRECONDITION: ");

    Result badFlag = cli("search", "q", "-c", "x", "--frobnicate");
    assertThat(badFlag.code()).isEqualTo(2);

    Result badInput = cli("put", "-c", "nope", "{not json}");
    assertThat(badInput.code()).isEqualTo(1);

    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int unreachable =
        StrataCli.run(
            new PrintWriter(out, true), new PrintWriter(err, true), "--server", "127.0.0.1:1", "stats");
    assertThat(unreachable).isEqualTo(3);
    assertThat(err.toString()).startsWith("error: cannot connect to 127.0.0.1:1: UNAVAILABLE");
  }
}
