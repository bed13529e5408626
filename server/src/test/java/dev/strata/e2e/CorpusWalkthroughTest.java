package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.cli.StrataCli;
import dev.strata.server.ServerConfig;
import dev.strata.server.StrataServer;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README walkthrough, command by command, on the real Debian corpus: a 5,000-document slice
 * by default, the whole corpus with {@code -Dstrata.e2e.fullCorpus=true} (Maven profile
 * {@code full-corpus}). The CLI runs in-process against a real server on a loopback port.
 *
 * <p>Needs {@code ../shared/data/debian-packages.jsonl.gz}; skipped without it unless {@code
 * STRATA_REQUIRE_CORPUS=1} (set by .ci/run), which turns the skip into a failure.
 */
class CorpusWalkthroughTest {
  private static final Pattern SNAPSHOT = Pattern.compile("(?m)^snapshot (\\S+)$");

  @TempDir Path tmp;
  String target;

  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  Result cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(List.of("--server", target));
    all.addAll(List.of(args));
    int code = StrataCli.run(new PrintWriter(out, true), new PrintWriter(err, true), all.toArray(new String[0]));
    return new Result(code, out.toString(), err.toString());
  }

  Result ok(String... args) {
    Result r = cli(args);
    assertThat(r.code()).as(String.join(" ", args) + "\n" + r).isZero();
    return r;
  }

  @Test
  void theReadmeWalkthroughOnTheDebianCorpus() throws Exception {
    Path corpus = CorpusFiles.corpus();
    if ("1".equals(System.getenv("STRATA_REQUIRE_CORPUS"))) {
      assertThat(corpus).as("../shared/data/debian-packages.jsonl.gz").isNotNull();
    }
    assumeTrue(corpus != null, "the Debian corpus is not beside the repository");
    boolean full = Boolean.getBoolean("strata.e2e.fullCorpus");
    Path slice = full ? corpus : slice(corpus, tmp.resolve("slice.jsonl.gz"), 5000);

    ServerConfig cfg =
        ServerConfig.load(
            null, Map.of(), Map.of("data_dir", tmp.resolve("data").toString(), "listen", "127.0.0.1:0"));
    StrataServer server = StrataServer.start(cfg);
    try {
      target = "127.0.0.1:" + server.port();

      // 1. Load.
      Result load =
          ok(
              "load", slice.toString(), "--collection", "packages",
              "--text-fields", "summary,description",
              "--keyword-fields", "section,priority,maintainer",
              "--long-fields", "installed_size_kib");
      assertThat(load.out()).contains("loaded " + String.format("%,d", full ? 63_666 : 5_000) + " documents");
      Matcher m = SNAPSHOT.matcher(load.out());
      assertThat(m.find()).as(load.toString()).isTrue();

      // 2. Search "text editor" among editors.
      Result search =
          ok("--json", "search", "text editor", "--collection", "packages", "--filter", "section=editors", "--limit", "50");
      JsonObject found = JsonParser.parseString(search.out().strip()).getAsJsonObject();
      var hits = found.getAsJsonArray("hits");
      assertThat(hits.size()).as(search.toString()).isGreaterThanOrEqualTo(3);
      List<String> editors = new ArrayList<>();
      for (var h : hits) {
        JsonObject hit = h.getAsJsonObject();
        JsonObject doc = hit.getAsJsonObject("document");
        JsonObject fields = doc.has("fields") ? doc.getAsJsonObject("fields") : doc;
        assertThat(fields.get("section").getAsString()).as(hit.toString()).isEqualTo("editors");
        editors.add(hit.get("id").getAsString());
      }

      // 3. Flush and await a ticket.
      String ticket = ok("flush").out().strip();
      assertThat(ticket).matches("\\S+:\\d+:\\d+");
      Result awaited = ok("await", ticket);
      String snap = awaited.out().strip().split("\\s+")[1];
      assertThat(snap).startsWith("main-");

      // 4. Fork from that snapshot.
      ok("fork", "create", "experiment", "--from-snapshot", snap);

      // 5. Delete two editors and change a third on the fork.
      String gone1 = editors.get(0);
      String gone2 = editors.get(1);
      String changed = editors.get(2);
      ok("--fork", "experiment", "delete", "--collection", "packages", gone1, gone2);
      ok("--fork", "experiment", "put", "--collection", "packages",
          "{\"id\": \"" + changed + "\", \"section\": \"editors\", \"summary\": \"rebuilt on a fork\", \"installed_size_kib\": 1}");
      Result forkFlush = ok("--fork", "experiment", "flush", "--wait");
      Matcher fm = SNAPSHOT.matcher(forkFlush.out());
      assertThat(fm.find()).as(forkFlush.toString()).isTrue();
      String forkSnap = fm.group(1);

      // 6. main unchanged at its snapshot; the fork changed.
      ok("get", "--collection", "packages", gone1);
      assertThat(cli("--fork", "experiment", "get", "--collection", "packages", gone1).code()).isEqualTo(1);
      Result changedOnFork = ok("--json", "--fork", "experiment", "get", "--collection", "packages", changed);
      assertThat(changedOnFork.out()).contains("rebuilt on a fork");
      assertThat(ok("--json", "get", "--collection", "packages", changed).out()).doesNotContain("rebuilt on a fork");

      // 7. Diff the two snapshots.
      Result diff = ok("snapshots", "diff", snap, forkSnap);
      assertThat(diff.out()).contains("0 added, 1 changed, 2 deleted");

      // 8. Drop the fork.
      ok("fork", "drop", "experiment");
      assertThat(ok("fork", "list").out()).doesNotContain("experiment");
      assertThat(ok("verify").out()).startsWith("ok");

      // 9. Compaction and metrics.
      Result compact = ok("compact", "--full");
      assertThat(compact.out()).containsPattern("(compacted fork main: \\d+ -> 1 segments|nothing to compact on fork main \\(1 segments\\))");
      assertThat(ok("verify").out()).startsWith("ok");
      java.net.http.HttpResponse<String> metrics =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create("http://127.0.0.1:" + server.metricsPort() + "/metrics"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(metrics.body()).contains("strata_segments{fork=\"main\"} 1.0");
    } finally {
      server.shutdown(Duration.ofSeconds(30));
    }
  }

  /** The first {@code n} lines of the corpus, gzipped. */
  private static Path slice(Path corpus, Path out, int n) throws Exception {
    try (BufferedReader r =
            new BufferedReader(
                new InputStreamReader(new GZIPInputStream(Files.newInputStream(corpus)), StandardCharsets.UTF_8));
        BufferedWriter w =
            new BufferedWriter(
                new OutputStreamWriter(new GZIPOutputStream(Files.newOutputStream(out)), StandardCharsets.UTF_8))) {
      String line;
      for (int i = 0; i < n && (line = r.readLine()) != null; i++) {
        w.write(line);
        w.write('\n');
      }
    }
    return out;
  }
}
