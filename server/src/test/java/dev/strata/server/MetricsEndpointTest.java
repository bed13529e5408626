package dev.strata.server;

import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.FlushRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
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
}
