package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.ListForksRequest;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS from PEM files (a self-signed certificate made with openssl, when it is installed). */
class TlsTest {
  @Test
  void servesOverTls(@TempDir Path dir) throws Exception {
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    boolean made;
    try {
      Process p =
          new ProcessBuilder(
                  "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                  "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                  "-keyout", key.toString(), "-out", cert.toString())
              .redirectErrorStream(true)
              .start();
      p.getInputStream().readAllBytes();
      made = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 && Files.exists(cert);
    } catch (java.io.IOException e) {
      made = false;
    }
    assumeTrue(made, "openssl is not available to make a test certificate");
    try (TestServer t =
        TestServer.start(dir.resolve("data"), Map.of("tls.cert_file", cert.toString(), "tls.key_file", key.toString()))) {
      ManagedChannel tls =
          Grpc.newChannelBuilderForAddress(
                  "localhost", t.server.port(), TlsChannelCredentials.newBuilder().trustManager(cert.toFile()).build())
              .build();
      try {
        assertThat(
                ForkServiceGrpc.newBlockingStub(tls)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .listForks(ListForksRequest.newBuilder().build())
                    .getForksList())
            .extracting(f -> f.getName())
            .contains("main");
      } finally {
        tls.shutdownNow();
      }
    }
  }
}
