package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.SearchHit;
import dev.strata.api.v1.SearchRequest;
import dev.strata.cli.StrataCli;
import dev.strata.client.StrataClient;
import dev.strata.objectstore.S3ProxyFixture;
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
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The object-storage tier end to end on the Debian corpus (a 3,000-document slice): a server with
 * the tier on loads it, a ticket is awaited at level UPLOADED, Stats shows no upload lag, {@code
 * strata restore} builds a new data directory from the bucket, and a second server on it answers
 * Get, Scan and Search exactly as the source does at that snapshot; a fork made there writes and
 * flushes. Uses s3proxy in-process (filesystem backend, loopback port).
 */
class ObjectStorageRestoreTest {
  @TempDir Path tmp;

  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Result cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = StrataCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Result(code, out.toString(), err.toString());
  }

  static Result ok(String... args) {
    Result r = cli(args);
    assertThat(r.code()).as(String.join(" ", args) + "\n" + r).isZero();
    return r;
  }

  @Test
  void uploadRestoreAndServeTheCorpusOnANewNode() throws Exception {
    Path corpus = CorpusFiles.corpus();
    if ("1".equals(System.getenv("STRATA_REQUIRE_CORPUS"))) {
      assertThat(corpus).as("../shared/data/debian-packages.jsonl.gz").isNotNull();
    }
    assumeTrue(corpus != null, "the Debian corpus is not beside the repository");
    Path slice = slice(corpus, tmp.resolve("slice.jsonl.gz"), 3000);
    try (S3ProxyFixture s3 = new S3ProxyFixture(tmp.resolve("blobs"))) {
      Map<String, String> storage = new HashMap<>();
      storage.put("storage.bucket", S3ProxyFixture.BUCKET);
      storage.put("storage.prefix", "prod/strata");
      storage.put("storage.endpoint", s3.endpoint().toString());
      storage.put("storage.access_key", S3ProxyFixture.ACCESS_KEY);
      storage.put("storage.secret_key", S3ProxyFixture.SECRET_KEY);
      storage.put("storage.path_style", "true");
      Map<String, String> settings = new HashMap<>(storage);
      settings.put("data_dir", tmp.resolve("source").toString());
      settings.put("listen", "127.0.0.1:0");
      settings.put("flush.interval", "off");
      settings.put("l0.max_bytes", "1MiB"); // several segments
      StrataServer source = StrataServer.start(ServerConfig.load(null, Map.of(), settings));
      String snapshot;
      try {
        String target = "127.0.0.1:" + source.port();
        ok("--server", target, "load", slice.toString(), "--collection", "packages",
            "--text-fields", "summary,description", "--keyword-fields", "section,priority,maintainer",
            "--long-fields", "installed_size_kib");
        String ticket = ok("--server", target, "flush").out().strip();
        Result uploaded = ok("--server", target, "await", ticket, "--level", "uploaded");
        snapshot = uploaded.out().strip().split("\\s+")[1];
        JsonObject stats = JsonParser.parseString(ok("--server", target, "--json", "stats").out().strip()).getAsJsonObject();
        JsonObject upload = stats.getAsJsonArray("forks").get(0).getAsJsonObject().getAsJsonObject("upload");
        assertThat(upload.get("snapshotsPending") == null ? 0 : upload.get("snapshotsPending").getAsInt()).as(stats.toString()).isZero();
        assertThat(upload.get("uploadedSeq").getAsLong()).isPositive();

        // Restore on "another node": the CLI reads the secret from a config file.
        Path conf = tmp.resolve("restore.properties");
        Files.writeString(conf, "storage.secret_key=" + S3ProxyFixture.SECRET_KEY + "\n");
        Path restoredDir = tmp.resolve("restored");
        Result restored = ok("restore", "--from", "s3://" + S3ProxyFixture.BUCKET + "/prod/strata", "--data-dir", restoredDir.toString(),
            "--config", conf.toString(), "--endpoint", s3.endpoint().toString(), "--access-key", S3ProxyFixture.ACCESS_KEY,
            "--path-style", "true");
        assertThat(restored.out()).contains("restored fork main").contains("at snapshot " + snapshot);
        Result again = cli("restore", "--from", "s3://" + S3ProxyFixture.BUCKET + "/prod/strata", "--data-dir", restoredDir.toString(),
            "--config", conf.toString(), "--endpoint", s3.endpoint().toString(), "--access-key", S3ProxyFixture.ACCESS_KEY,
            "--path-style", "true");
        assertThat(again.code()).isEqualTo(StrataCli.EXIT_USAGE);
        assertThat(again.err()).contains("is not empty");

        StrataServer copy = StrataServer.start(ServerConfig.load(null, Map.of(),
            Map.of("data_dir", restoredDir.toString(), "listen", "127.0.0.1:0", "flush.interval", "off")));
        try (StrataClient a = StrataClient.connect(target, null, false);
            StrataClient b = StrataClient.connect("127.0.0.1:" + copy.port(), null, false)) {
          List<Document> sourceDocs = scanAll(a, snapshot);
          List<Document> copyDocs = scanAll(b, "");
          assertThat(sourceDocs).hasSize(3000);
          assertThat(copyDocs).containsExactlyElementsOf(sourceDocs);
          for (int i = 0; i < sourceDocs.size(); i += 97) {
            String id = sourceDocs.get(i).getId();
            assertThat(b.get("main", "packages", id, null)).isEqualTo(a.get("main", "packages", id, snapshot));
          }
          for (String q : List.of("text editor", "python library", "summary:daemon", "section:games", "kernel module driver")) {
            List<SearchHit> expected = search(a, q, snapshot);
            List<SearchHit> actual = search(b, q, "");
            assertThat(expected).as(q).isNotEmpty();
            assertThat(actual).as(q).containsExactlyElementsOf(expected);
          }
          // Without the tier, level UPLOADED is refused with a reason.
          String copyTarget = "127.0.0.1:" + copy.port();
          String copyTicket = ok("--server", copyTarget, "flush").out().strip();
          Result refused = cli("--server", copyTarget, "await", copyTicket, "--level", "uploaded");
          assertThat(refused.code()).as(refused.toString()).isEqualTo(StrataCli.EXIT_FAILED);
          assertThat(refused.err()).contains("FAILED_PRECONDITION").contains("object-storage tier is off");
          // A fork of the restored snapshot writes and flushes.
          ok("--server", copyTarget, "fork", "create", "replica-work", "--from-snapshot", snapshot);
          ok("--server", copyTarget, "--fork", "replica-work", "put", "--collection", "packages",
              "{\"id\": \"new-package\", \"section\": \"editors\", \"summary\": \"written after restore\", \"installed_size_kib\": 1}");
          Result flushed = ok("--server", copyTarget, "--fork", "replica-work", "flush", "--wait");
          assertThat(flushed.out()).contains("snapshot replica-work-");
          assertThat(ok("--server", copyTarget, "--json", "--fork", "replica-work", "get", "--collection", "packages", "new-package").out())
              .contains("written after restore");
          assertThat(ok("--server", copyTarget, "verify").out()).startsWith("ok");
        } finally {
          copy.shutdown(Duration.ofSeconds(30));
        }
      } finally {
        source.shutdown(Duration.ofSeconds(30));
      }
    }
  }

  /**
   * {@code strata restore --lazy} downloads no segment; a server started on that directory with the
   * tier on the source's prefix (the source stopped) and {@code storage.cache_bytes} far below the
   * data answers exactly as the source did, fetching segments on demand; Stats shows the cache
   * within its budget once reads are done, with fetches and evictions counted.
   */
  @Test
  void lazyRestoreServesFromACacheSmallerThanTheData() throws Exception {
    Path corpus = CorpusFiles.corpus();
    assumeTrue(corpus != null, "the Debian corpus is not beside the repository");
    Path slice = slice(corpus, tmp.resolve("slice.jsonl.gz"), 3000);
    try (S3ProxyFixture s3 = new S3ProxyFixture(tmp.resolve("blobs"))) {
      Map<String, String> storage = new HashMap<>();
      storage.put("storage.bucket", S3ProxyFixture.BUCKET);
      storage.put("storage.prefix", "lazy/strata");
      storage.put("storage.endpoint", s3.endpoint().toString());
      storage.put("storage.access_key", S3ProxyFixture.ACCESS_KEY);
      storage.put("storage.secret_key", S3ProxyFixture.SECRET_KEY);
      storage.put("storage.path_style", "true");
      storage.put("storage.lease", "1s");
      Map<String, String> settings = new HashMap<>(storage);
      settings.put("data_dir", tmp.resolve("source").toString());
      settings.put("listen", "127.0.0.1:0");
      settings.put("flush.interval", "off");
      settings.put("l0.max_bytes", "1MiB");
      StrataServer source = StrataServer.start(ServerConfig.load(null, Map.of(), settings));
      List<Document> expectedDocs;
      Map<String, List<SearchHit>> expectedHits = new HashMap<>();
      List<String> queries = List.of("text editor", "python library", "summary:daemon", "section:games");
      try {
        String target = "127.0.0.1:" + source.port();
        ok("--server", target, "load", slice.toString(), "--collection", "packages",
            "--text-fields", "summary,description", "--keyword-fields", "section,priority,maintainer",
            "--long-fields", "installed_size_kib");
        ok("--server", target, "await", ok("--server", target, "flush").out().strip(), "--level", "uploaded");
        try (StrataClient a = StrataClient.connect(target, null, false)) {
          expectedDocs = scanAll(a, "");
          for (String q : queries) {
            expectedHits.put(q, search(a, q, ""));
          }
        }
      } finally {
        source.shutdown(Duration.ofSeconds(30));
      }
      Path conf = tmp.resolve("restore.properties");
      Files.writeString(conf, "storage.secret_key=" + S3ProxyFixture.SECRET_KEY + "\n");
      Path lazyDir = tmp.resolve("lazy");
      Result restored = ok("restore", "--lazy", "--from", "s3://" + S3ProxyFixture.BUCKET + "/lazy/strata", "--data-dir",
          lazyDir.toString(), "--config", conf.toString(), "--endpoint", s3.endpoint().toString(), "--access-key",
          S3ProxyFixture.ACCESS_KEY, "--path-style", "true");
      assertThat(restored.out()).contains("none downloaded");
      Map<String, String> lazy = new HashMap<>(storage);
      lazy.put("data_dir", lazyDir.toString());
      lazy.put("listen", "127.0.0.1:0");
      lazy.put("flush.interval", "off");
      lazy.put("storage.cache_bytes", "256KiB");
      Thread.sleep(1_500); // the source's lease (1 s) runs out: the restored server takes the prefix over
      StrataServer copy = StrataServer.start(ServerConfig.load(null, Map.of(), lazy));
      try (StrataClient b = StrataClient.connect("127.0.0.1:" + copy.port(), null, false)) {
        String copyTarget = "127.0.0.1:" + copy.port();
        assertThat(scanAll(b, "")).containsExactlyElementsOf(expectedDocs);
        for (int i = 0; i < expectedDocs.size(); i += 37) {
          assertThat(b.get("main", "packages", expectedDocs.get(i).getId(), null)).isEqualTo(expectedDocs.get(i));
        }
        for (String q : queries) {
          assertThat(search(b, q, "")).as(q).containsExactlyElementsOf(expectedHits.get(q));
        }
        JsonObject cache = null;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
          cache = JsonParser.parseString(ok("--server", copyTarget, "--json", "stats").out().strip()).getAsJsonObject()
              .getAsJsonObject("segmentCache");
          if (cache.get("residentBytes") == null || cache.get("residentBytes").getAsLong() <= 256 * 1024) {
            break;
          }
          Thread.sleep(50);
        }
        assertThat(cache).isNotNull();
        assertThat(cache.get("budgetBytes").getAsLong()).isEqualTo(256 * 1024);
        assertThat(cache.get("residentBytes") == null ? 0 : cache.get("residentBytes").getAsLong()).as(cache.toString())
            .isLessThanOrEqualTo(256 * 1024);
        assertThat(cache.get("fetchesTotal").getAsLong()).as(cache.toString()).isPositive();
        assertThat(cache.get("evictionsTotal").getAsLong()).as(cache.toString()).isPositive();
        assertThat(ok("--server", copyTarget, "verify").out()).startsWith("ok");
      } finally {
        copy.shutdown(Duration.ofSeconds(30));
      }
    }
  }

  private static List<Document> scanAll(StrataClient c, String snapshot) {
    List<Document> out = new ArrayList<>();
    Iterator<Document> it = c.scan(ScanRequest.newBuilder().setFork("main").setCollection("packages").setSnapshotId(snapshot)
        .build(), Duration.ofMinutes(2));
    it.forEachRemaining(out::add);
    return out;
  }

  private static List<SearchHit> search(StrataClient c, String q, String snapshot) {
    return c.search(SearchRequest.newBuilder().setFork("main").setCollection("packages").setQuery(q).setLimit(25)
        .setSnapshotId(snapshot).build()).getHitsList();
  }

  private static Path slice(Path corpus, Path out, int n) throws Exception {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(corpus)), StandardCharsets.UTF_8));
        BufferedWriter w = new BufferedWriter(new OutputStreamWriter(new GZIPOutputStream(Files.newOutputStream(out)), StandardCharsets.UTF_8))) {
      String line;
      for (int i = 0; i < n && (line = r.readLine()) != null; i++) {
        w.write(line);
        w.write('\n');
      }
    }
    return out;
  }
}
