package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.FlushRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Prometheus endpoint over real HTTP: series exist and follow the engine. */
class MetricsEndpointTest {

  private static String scrape(TestServer t) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + t.server.metricsPort() + "/metrics"))
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  /** The value of one series, e.g. {@code strata_segments{fork="main"}}. */
  private static double value(String body, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(body);
    assertThat(m.find()).as("series %s in%n%s", series, body).isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void metricsFollowWritesFlushesAndCompaction(@TempDir Path dir) throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of("compaction.enabled", "false"))) {
      assertThat(t.server.metricsPort()).isPositive();
      t.createCollection("", "docs");
      for (int i = 0; i < 3; i++) {
        t.write("", "docs", doc("d" + i, "text " + i, "x", i));
        t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      }
      String before = scrape(t);
      assertThat(value(before, "strata_segments{fork=\"main\"}")).isEqualTo(3);
      assertThat(value(before, "strata_write_duration_seconds_count{fork=\"main\"}")).isEqualTo(3);
      assertThat(value(before, "strata_flush_duration_seconds_count{fork=\"main\"}")).isEqualTo(3);
      assertThat(value(before, "strata_flushes_total{fork=\"main\"}")).isEqualTo(3);
      assertThat(value(before, "strata_compaction_backlog_segments{fork=\"main\"}")).isZero();
      assertThat(value(before, "strata_segment_bytes{fork=\"main\",kind=\"exclusive\"}")).isPositive();
      assertThat(value(before, "strata_l0_bytes{fork=\"main\"}")).isZero();

      t.admin().compact(CompactRequest.newBuilder().setForceFullMerge(true).build());
      String after = scrape(t);
      assertThat(value(after, "strata_segments{fork=\"main\"}")).isEqualTo(1);
      assertThat(value(after, "strata_compactions_total{fork=\"main\"}")).isEqualTo(1);
      assertThat(value(after, "strata_write_amplification{fork=\"main\"}")).isGreaterThan(1);
      assertThat(value(after, "strata_segment_bytes{fork=\"main\",kind=\"reclaimable\"}")).isPositive();
    }
  }

  /**
   * docs/grafana/strata-dashboard.json queries only metrics a real server exports: every {@code
   * strata_*} name in a panel's or variable's query appears as a series on /metrics, once the
   * server has written, flushed, stalled nothing, compacted and run retention on two forks.
   */
  @Test
  void everyMetricTheGrafanaDashboardQueriesExists(@TempDir Path dir) throws Exception {
    Path dashboard = Path.of("../docs/grafana/strata-dashboard.json");
    JsonObject json = JsonParser.parseString(Files.readString(dashboard)).getAsJsonObject();
    assertThat(json.get("uid").getAsString()).isEqualTo("strata-overview");
    Set<String> queried = new TreeSet<>();
    List<String> expressions = new ArrayList<>();
    for (JsonElement panel : json.getAsJsonArray("panels")) {
      JsonObject p = panel.getAsJsonObject();
      if (p.get("type").getAsString().equals("row")) {
        continue;
      }
      assertThat(p.getAsJsonArray("targets")).as(p.get("title").getAsString()).isNotEmpty();
      for (JsonElement target : p.getAsJsonArray("targets")) {
        expressions.add(target.getAsJsonObject().get("expr").getAsString());
      }
    }
    for (JsonElement variable : json.getAsJsonObject("templating").getAsJsonArray("list")) {
      if (variable.getAsJsonObject().has("definition")) {
        expressions.add(variable.getAsJsonObject().get("definition").getAsString());
      }
    }
    Matcher names = Pattern.compile("\\bstrata_[a-z0-9_]+\\b").matcher(String.join("\n", expressions));
    while (names.find()) {
      queried.add(names.group());
    }
    // the dashboard covers what the issue asks for: latency, L0, pending flushes, stalls,
    // segments, compaction backlog, disk by fork, retention and GC
    assertThat(queried)
        .contains(
            "strata_write_duration_seconds_bucket",
            "strata_flush_duration_seconds_bucket",
            "strata_l0_bytes",
            "strata_pending_flushes",
            "strata_write_stall_seconds_total",
            "strata_segments",
            "strata_compaction_backlog_segments",
            "strata_segment_bytes",
            "strata_snapshots_expired_total",
            "strata_segments_collected_total");

    try (TestServer t =
        TestServer.start(dir, Map.of("retention.snapshots", "1", "retention.min_age", "0s", "retention.interval", "1s"))) {
      t.createCollection("", "docs");
      for (int i = 0; i < 3; i++) {
        t.write("", "docs", doc("d" + i, "text " + i, "x", i));
        t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      }
      t.forks().createFork(CreateForkRequest.newBuilder().setName("other").setFromFork("main").build());
      t.admin().compact(CompactRequest.newBuilder().setForceFullMerge(true).build());
      String body = scrape(t);
      Set<String> exported = new TreeSet<>();
      Matcher series = Pattern.compile("(?m)^(strata_[a-z0-9_]+)[{ ]").matcher(body);
      while (series.find()) {
        exported.add(series.group(1));
      }
      assertThat(exported).as("series on /metrics").containsAll(queried);
    }
  }
}
