package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.strata.server.ServerConfig;
import dev.strata.server.StrataServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client in another language: Node with {@code @grpc/grpc-js} and {@code @grpc/proto-loader}
 * loads our .proto files at run time and drives a real server on a loopback port (create a
 * collection, write, flush, await the ticket, search, read at the snapshot, status codes).
 *
 * <p>Needs {@code node} and {@code server/src/test/node/node_modules} ({@code npm ci} there;
 * .ci/run does it). Skipped when they are missing, unless {@code STRATA_REQUIRE_NODE=1} (set by
 * .ci/run), which turns the skip into a failure.
 */
class NodeClientSmokeTest {
  @TempDir Path dataDir;

  @Test
  void aNodeClientCreatesWritesFlushesSearchesAndReadsAtASnapshot() throws Exception {
    Path nodeDir = Path.of("src/test/node").toAbsolutePath();
    Path protoDir = Path.of("../proto/src/main/proto").toAbsolutePath().normalize();
    boolean ready = Files.isDirectory(nodeDir.resolve("node_modules/@grpc/grpc-js")) && nodeOnPath();
    boolean required = "1".equals(System.getenv("STRATA_REQUIRE_NODE"));
    if (required) {
      assertThat(ready).as("node and server/src/test/node/node_modules must be installed (npm ci)").isTrue();
    }
    assumeTrue(ready, "node or node_modules missing: run `npm ci` in server/src/test/node");

    ServerConfig config =
        ServerConfig.load(
            null,
            Map.of(),
            Map.of("data_dir", dataDir.toString(), "listen", "127.0.0.1:0", "flush.interval", "off"));
    try (StrataServer server = StrataServer.start(config)) {
      Process p =
          new ProcessBuilder(
                  List.of("node", "smoke.mjs", "127.0.0.1:" + server.port(), protoDir.toString()))
              .directory(nodeDir.toFile())
              .redirectErrorStream(true)
              .start();
      boolean exited = p.waitFor(120, TimeUnit.SECONDS);
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!exited) {
        p.destroyForcibly();
      }
      assertThat(exited).as("node client finished; output:\n" + out).isTrue();
      assertThat(p.exitValue()).as("node client output:\n" + out).isZero();
      assertThat(out).contains("passed, 0 failed");
    }
  }

  private static boolean nodeOnPath() {
    try {
      Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
      return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }
}
