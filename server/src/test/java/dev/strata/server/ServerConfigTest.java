package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.EngineOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigTest {
  @TempDir Path dir;

  @Test
  void defaultsAreTheDocumentedOnes() {
    ServerConfig c = ServerConfig.defaults();
    assertThat(c.dataDir()).isEqualTo(Path.of("./strata-data"));
    assertThat(c.listenHost()).isEqualTo("127.0.0.1");
    assertThat(c.listenPort()).isEqualTo(7700);
    assertThat(c.tokens()).isEmpty();
    assertThat(c.tlsEnabled()).isFalse();
    assertThat(c.limits()).isEqualTo(new ServerConfig.Limits(16 << 20, 10_000, 1 << 20, 512, 1000, 32 << 10));
    assertThat(c.shutdownGraceMs()).isEqualTo(30_000);
    EngineOptions e = c.engineOptions();
    assertThat(e.l0MaxBytes()).isEqualTo(64L << 20);
    assertThat(e.flushIntervalMs()).isEqualTo(1000);
    assertThat(e.maxPendingFlushes()).isEqualTo(2);
    assertThat(e.writeStallTimeoutMs()).isEqualTo(10_000);
    assertThat(e.streamTimeoutMs()).isEqualTo(120_000);
    assertThat(e.flushMaxRetries()).isEqualTo(5);
    assertThat(e.wal().syncIntervalMs()).isEqualTo(200);
    assertThat(e.wal().segmentBytes()).isEqualTo(64L << 20);
    // The defaults equal the engine's own.
    EngineOptions engineDefaults = EngineOptions.builder().build();
    assertThat(e.l0MaxBytes()).isEqualTo(engineDefaults.l0MaxBytes());
    assertThat(e.blockCacheBytes()).isEqualTo(engineDefaults.blockCacheBytes());
    assertThat(e.retryBackoffMs()).isEqualTo(engineDefaults.retryBackoffMs());
    assertThat(e.wal()).isEqualTo(engineDefaults.wal());
  }

  @Test
  void fileThenEnvironmentThenOverrides() throws Exception {
    Path file = dir.resolve("strata.properties");
    Files.writeString(
        file,
        """
        # a comment
        data_dir = /var/lib/strata
        l0.max_bytes = 32MiB
        flush.interval = 250ms
        max_pending_flushes = 3
        auth.token.ci = writer:from-file
        """);
    ServerConfig c =
        ServerConfig.load(
            file,
            Map.of("STRATA_L0_MAX_BYTES", "8m", "STRATA_LISTEN", "[::1]:9000", "HOME", "/root", "STRATA_UNRELATED", "x",
                "STRATA_AUTH_TOKEN_OPS", "admin:from-env"),
            Map.of("max_pending_flushes", "4", "flush.interval", "off"));
    assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/strata"));
    assertThat(c.engineOptions().l0MaxBytes()).isEqualTo(8L << 20);
    assertThat(c.listenHost()).isEqualTo("::1");
    assertThat(c.listenPort()).isEqualTo(9000);
    assertThat(c.engineOptions().maxPendingFlushes()).isEqualTo(4);
    assertThat(c.engineOptions().flushIntervalMs()).isZero();
    assertThat(c.tokens()).extracting(t -> t.label() + "=" + t.role() + ":" + t.secret())
        .containsExactlyInAnyOrder("ci=WRITER:from-file", "ops=ADMIN:from-env");
    assertThat(c.toString()).doesNotContain("from-file").doesNotContain("from-env");
  }

  @Test
  void unitsParse() {
    ServerConfig c =
        ServerConfig.load(
            null,
            Map.of(),
            Map.of("l0.max_bytes", "2GiB", "write_stall_timeout", "2m", "shutdown.grace_period", "1h",
                "wal.sync_interval", "50", "limits.max_document_bytes", "512K"));
    assertThat(c.engineOptions().l0MaxBytes()).isEqualTo(2L << 30);
    assertThat(c.engineOptions().writeStallTimeoutMs()).isEqualTo(120_000);
    assertThat(c.shutdownGraceMs()).isEqualTo(3_600_000);
    assertThat(c.engineOptions().wal().syncIntervalMs()).isEqualTo(50);
    assertThat(c.limits().maxDocumentBytes()).isEqualTo(512 << 10);
  }

  @Test
  void unknownKeysAndBadValuesAreNamed() throws Exception {
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("l0.max_byte", "1", "bogus", "2")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown configuration keys bogus, l0.max_byte");
    Path file = dir.resolve("bad.properties");
    Files.writeString(file, "flush.intervall=1s\n");
    assertThatThrownBy(() -> ServerConfig.load(file, Map.of(), Map.of()))
        .hasMessageContaining("bad.properties")
        .hasMessageContaining("flush.intervall");
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("l0.max_bytes", "lots")))
        .hasMessageContaining("l0.max_bytes must be a size");
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("limits.max_id_bytes", "600")))
        .hasMessageContaining("limits.max_id_bytes");
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("auth.token.x", "root:pw")))
        .hasMessageContaining("unknown role 'root'");
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("tls.cert_file", "/c.pem")))
        .hasMessageContaining("tls.cert_file and tls.key_file must be set together");
    assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), Map.of("listen", "7700")))
        .hasMessageContaining("listen must be host:port");
  }

  @Test
  void everyKeyHasAnEnvironmentName() {
    for (ServerConfig.Key k : ServerConfig.KEYS) {
      assertThat(k.envName()).startsWith("STRATA_").matches("[A-Z0-9_]+");
      ServerConfig.load(null, Map.of(), Map.of(k.name(), k.defaultValue()));
    }
  }

  /** docs/operations.md documents every key with its default. */
  @Test
  void operationsGuideListsEveryKey() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "operations.md"));
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("^\\| `([a-z0-9_.<>]+)` \\| ([^|]+) \\|", java.util.regex.Pattern.MULTILINE).matcher(doc);
    Map<String, String> documented = new java.util.HashMap<>();
    while (m.find()) {
      String def = m.group(2).strip();
      documented.put(m.group(1), def.startsWith("`") ? def.substring(1, def.length() - 1) : "");
    }
    for (ServerConfig.Key k : ServerConfig.KEYS) {
      assertThat(documented).as("docs/operations.md row of " + k.name()).containsEntry(k.name(), k.defaultValue());
    }
    assertThat(documented).containsKey("auth.token.<label>");
  }
}
