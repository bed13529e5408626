package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.Value;
import dev.strata.client.StrataClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §5.1 and §5.6 end to end: a real server in its own JVM is killed with SIGKILL in the middle
 * of a load over gRPC, restarted on the same data directory, and must have every acknowledged
 * write; a flush ticket issued before the kill resolves after the restart.
 *
 * <p>Documents come from the Debian corpus ({@code ../shared/data/debian-packages.jsonl.gz}) when
 * it is there, else are generated.
 */
class KillNineRecoveryTest {
  @TempDir Path tmp;

  @Test
  void everyAcknowledgedWriteSurvivesKillNineAndAnEarlierTicketResolvesAfterRestart() throws Exception {
    Path data = tmp.resolve("data");
    int port = freePort();
    Process server = startServer(data, port);
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    FlushTicket ticket;
    try (StrataClient client = StrataClient.connect("127.0.0.1:" + port, null, false)) {
      awaitServing(client, server);
      client.createOrGetCollection(
          "main",
          "packages",
          List.of(
              FieldSchema.newBuilder().setName("summary").setKind(FieldKind.FIELD_KIND_TEXT).build(),
              FieldSchema.newBuilder().setName("section").setKind(FieldKind.FIELD_KIND_KEYWORD).build()));
      List<Document> docs = corpus(6000);
      ExecutorService writers = Executors.newFixedThreadPool(4);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicBoolean killed = new AtomicBoolean();
      AtomicReference<FlushTicket> early = new AtomicReference<>();
      List<Future<?>> futures = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        int writer = w;
        futures.add(
            writers.submit(
                () -> {
                  for (int i = writer * 25; i < docs.size() && !stop.get(); i += 100) {
                    List<Mutation> batch = new ArrayList<>();
                    List<String> ids = new ArrayList<>();
                    for (int j = i; j < Math.min(i + 25, docs.size()); j++) {
                      batch.add(Mutation.newBuilder().setPut(docs.get(j)).build());
                      ids.add(docs.get(j).getId());
                    }
                    try {
                      client.write("main", "packages", batch); // SYNC by default
                      acknowledged.addAll(ids);
                    } catch (StatusRuntimeException e) {
                      requireKilled(e, killed, "write");
                      return null; // the server died under us: this batch was not acknowledged
                    }
                    if (writer == 0 && early.get() == null && acknowledged.size() > 500) {
                      try {
                        early.set(client.flush("main", false).getTicket());
                      } catch (StatusRuntimeException e) {
                        requireKilled(e, killed, "flush");
                        return null;
                      }
                    }
                  }
                  return null;
                }));
      }
      while (acknowledged.size() < 2000 && futures.stream().anyMatch(f -> !f.isDone())) {
        Thread.sleep(5);
      }
      killed.set(true);
      server.destroyForcibly(); // SIGKILL, mid-load
      assertThat(server.waitFor(30, TimeUnit.SECONDS)).isTrue();
      stop.set(true);
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
      writers.shutdown();
      ticket = early.get();
    }
    assertThat(ticket).as("a ticket was issued before the kill").isNotNull();
    assertThat(acknowledged).hasSizeGreaterThan(500);

    Process restarted = startServer(data, port);
    try (StrataClient client = StrataClient.connect("127.0.0.1:" + port, null, false)) {
      awaitServing(client, restarted);
      Snapshot s = client.awaitFlush(ticket, Duration.ofSeconds(60)).get(90, TimeUnit.SECONDS);
      assertThat(s.getCoveredLsn()).isGreaterThanOrEqualTo(ticket.getLsn());
      List<String> missing = new ArrayList<>();
      for (String id : acknowledged) {
        try {
          client.get("main", "packages", id, null);
        } catch (RuntimeException e) {
          missing.add(id + ": " + e.getMessage());
        }
      }
      assertThat(missing).as("acknowledged writes lost by kill -9").isEmpty();
    } finally {
      restarted.destroy();
      restarted.waitFor(60, TimeUnit.SECONDS);
    }
  }

  /**
   * Returns if {@code e} is what a call gets when the server is killed under it (UNAVAILABLE, after
   * the kill); anything else — a failure before the kill, or another status — is a failure of the
   * server that the kill must not hide.
   */
  private static void requireKilled(StatusRuntimeException e, AtomicBoolean killed, String what) {
    if (killed.get() && e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
      return;
    }
    throw new AssertionError(what + " failed " + (killed.get() ? "after" : "before") + " the kill: " + e.getStatus(), e);
  }

  private static Process startServer(Path data, int port) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd =
        List.of(
            java,
            "--add-modules",
            "jdk.incubator.vector",
            "-Xmx1g",
            "-cp",
            System.getProperty("java.class.path"),
            "dev.strata.cli.StrataCli",
            "serve",
            "--data-dir",
            data.toString(),
            "--listen",
            "127.0.0.1:" + port,
            "--flush-interval",
            "1s");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(data.resolveSibling("server-" + port + "-" + System.nanoTime() + ".log").toFile()).start();
    return p;
  }

  private static void awaitServing(StrataClient client, Process server) throws InterruptedException {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(client.channel());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      assertThat(server.isAlive()).as("server process is running").isTrue();
      try {
        HealthCheckResponse r =
            health
                .withDeadlineAfter(2, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService("").build());
        if (r.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
          return;
        }
      } catch (RuntimeException e) {
        // not up yet
      }
      Thread.sleep(100);
    }
    throw new AssertionError("server did not become SERVING within 90 s");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Up to {@code n} documents from the corpus, or generated ones if it is absent. */
  static List<Document> corpus(int n) throws IOException {
    Path file = CorpusFiles.corpus();
    List<Document> out = new ArrayList<>();
    if (file != null) {
      try (BufferedReader r =
          new BufferedReader(
              new InputStreamReader(new GZIPInputStream(Files.newInputStream(file)), StandardCharsets.UTF_8))) {
        String line;
        while (out.size() < n && (line = r.readLine()) != null) {
          String id = CorpusFiles.field(line, "id");
          if (id == null || id.isEmpty()) {
            continue;
          }
          out.add(
              Document.newBuilder()
                  .setId(id)
                  .putFields("summary", Value.newBuilder().setStringValue(String.valueOf(CorpusFiles.field(line, "summary"))).build())
                  .putFields("section", Value.newBuilder().setStringValue(String.valueOf(CorpusFiles.field(line, "section"))).build())
                  .build());
        }
      }
    }
    for (int i = out.size(); i < n; i++) {
      out.add(
          Document.newBuilder()
              .setId("gen-" + i)
              .putFields("summary", Value.newBuilder().setStringValue("generated package " + i).build())
              .putFields("section", Value.newBuilder().setStringValue("misc").build())
              .build());
    }
    return out;
  }
}
