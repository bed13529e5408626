package dev.strata.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.AwaitFlushResponse;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateForkResponse;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The channel's service-config retries (back-pressure with the server's pushback, UNAVAILABLE),
 * bearer tokens and awaitFlush, against an in-process fake server that answers as Strata's does.
 */
class StrataClientRetryTest {
  static final Metadata.Key<String> PUSHBACK =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * Fails the first {@code failures} writes with RESOURCE_EXHAUSTED: with RetryInfo and the same
   * delay in {@code grpc-retry-pushback-ms} (as StatusMapper answers back-pressure), or without
   * RetryInfo and with pushback -1 ("do not retry"); or with plain UNAVAILABLE.
   */
  static final class FakeDocuments extends DocumentServiceGrpc.DocumentServiceImplBase {
    final AtomicInteger calls = new AtomicInteger();
    volatile int failures = 2;
    volatile boolean withRetryInfo = true;
    volatile boolean unavailable = false;
    volatile long retryDelayMs = 250;

    @Override
    public void write(WriteRequest request, StreamObserver<WriteResponse> out) {
      int n = calls.incrementAndGet();
      if (n <= failures && unavailable) {
        out.onError(Status.UNAVAILABLE.withDescription("restarting").asRuntimeException());
        return;
      }
      if (n <= failures) {
        com.google.rpc.Status.Builder st =
            com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                .setMessage("fork 'main' is stalled: 2 of 2 flushes pending")
                .addDetails(
                    Any.pack(
                        ErrorInfo.newBuilder()
                            .setDomain("strata.dev")
                            .setReason("WRITE_STALLED")
                            .putMetadata("fork", "main")
                            .build()));
        if (withRetryInfo) {
          st.addDetails(
              Any.pack(
                  RetryInfo.newBuilder()
                      .setRetryDelay(
                          com.google.protobuf.Duration.newBuilder()
                              .setNanos((int) TimeUnit.MILLISECONDS.toNanos(retryDelayMs)))
                      .build()));
        }
        Metadata trailers = new Metadata();
        trailers.put(PUSHBACK, withRetryInfo ? Long.toString(retryDelayMs) : "-1");
        out.onError(StatusProto.toStatusRuntimeException(st.build(), trailers));
        return;
      }
      out.onNext(
          WriteResponse.newBuilder().setLsn(40 + n).setForkId("main.3f9a0c21").build());
      out.onCompleted();
    }
  }

  /** Answers the first {@code timeouts} AwaitFlush calls with DEADLINE_EXCEEDED. */
  static final class FakeFlushes extends FlushServiceGrpc.FlushServiceImplBase {
    final AtomicInteger calls = new AtomicInteger();
    volatile int timeouts = 2;

    @Override
    public void awaitFlush(AwaitFlushRequest request, StreamObserver<AwaitFlushResponse> out) {
      if (calls.incrementAndGet() <= timeouts) {
        out.onError(Status.DEADLINE_EXCEEDED.withDescription("not yet").asRuntimeException());
        return;
      }
      if (request.getTicket().getForkId().startsWith("gone.")) {
        out.onError(Status.NOT_FOUND.withDescription("fork dropped").asRuntimeException());
        return;
      }
      out.onNext(
          AwaitFlushResponse.newBuilder()
              .setSnapshot(
                  Snapshot.newBuilder()
                      .setId(request.getTicket().getForkId() + "-000000000007")
                      .setCoveredLsn(request.getTicket().getLsn()))
              .build());
      out.onCompleted();
    }
  }

  /** Fails every CreateFork with UNAVAILABLE: a non-idempotent call, never retried on it. */
  static final class FakeForks extends ForkServiceGrpc.ForkServiceImplBase {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public void createFork(CreateForkRequest request, StreamObserver<CreateForkResponse> out) {
      calls.incrementAndGet();
      out.onError(Status.UNAVAILABLE.withDescription("connection reset").asRuntimeException());
    }
  }

  private final FakeDocuments documents = new FakeDocuments();
  private final FakeFlushes flushes = new FakeFlushes();
  private final FakeForks forks = new FakeForks();
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  private final List<String> retries = new CopyOnWriteArrayList<>();
  private String name;
  private Server server;
  private StrataClient client;

  @BeforeEach
  void start() throws Exception {
    name = InProcessServerBuilder.generateName();
    ServerInterceptor captureAuth =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String auth = headers.get(StrataClient.AUTHORIZATION);
            authorizations.add(auth == null ? "none" : auth);
            return next.startCall(call, headers);
          }
        };
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(ServerInterceptors.intercept(documents, captureAuth))
            .addService(ServerInterceptors.intercept(flushes, captureAuth))
            .addService(ServerInterceptors.intercept(forks, captureAuth))
            .build()
            .start();
    client = client(RetryPolicy.DEFAULT, "s3cret");
  }

  private StrataClient client(RetryPolicy policy, String token) {
    return StrataClient.builder("in-process:" + name)
        .channelBuilder(InProcessChannelBuilder.forName(name))
        .token(token)
        .retryPolicy(policy)
        .retryListener((method, retry) -> retries.add(method + "#" + retry))
        .build();
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static WriteRequest oneDoc() {
    return WriteRequest.newBuilder()
        .setCollection("packages")
        .addMutations(
            Mutation.newBuilder()
                .setPut(
                    Document.newBuilder()
                        .setId("vim")
                        .putFields("summary", Value.newBuilder().setStringValue("editor").build())))
        .build();
  }

  @Test
  void backPressureIsRetriedAfterTheServersPushbackThenSucceeds() {
    long start = System.nanoTime();
    WriteResponse r = client.write(oneDoc());
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(r.getLsn()).isEqualTo(43);
    assertThat(documents.calls).hasValue(3);
    // the channel waited the server's delay (250 ms) before each of the two retries
    assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(500));
    assertThat(retries)
        .containsExactly("strata.v1.DocumentService/Write#1", "strata.v1.DocumentService/Write#2");
    assertThat(authorizations).hasSize(3).containsOnly("Bearer s3cret");
  }

  @Test
  void unavailableIsRetriedWithBackoff() {
    documents.unavailable = true;
    WriteResponse r = client.write(oneDoc());
    assertThat(r.getLsn()).isEqualTo(43);
    assertThat(documents.calls).hasValue(3);
    assertThat(retries).hasSize(2);
  }

  @Test
  void asyncWriteRetriesToo() {
    documents.retryDelayMs = 5;
    WriteResponse r = client.writeAsync(oneDoc()).join();
    assertThat(r.getLsn()).isEqualTo(43);
    assertThat(documents.calls).hasValue(3);
    assertThat(retries).hasSize(2);
  }

  @Test
  void givesUpAfterMaxAttemptsWithTheLastError() {
    documents.retryDelayMs = 1;
    documents.failures = 100;
    try (StrataClient limited = client(RetryPolicy.DEFAULT.withMaxAttempts(3), null)) {
      assertThatThrownBy(() -> limited.write(oneDoc()))
          .isInstanceOf(StatusRuntimeException.class)
          .satisfies(
              e -> {
                assertThat(StrataErrors.code(e)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(StrataErrors.reason(e)).hasValue("WRITE_STALLED");
                assertThat(StrataErrors.retryDelay(e)).hasValue(Duration.ofMillis(1));
              });
    }
    assertThat(documents.calls).hasValue(3);
    assertThat(authorizations).containsOnly("none");
  }

  @Test
  void noRetryPolicyMeansOneAttempt() {
    try (StrataClient once = client(RetryPolicy.NONE, null)) {
      assertThatThrownBy(() -> once.write(oneDoc())).isInstanceOf(StatusRuntimeException.class);
    }
    assertThat(documents.calls).hasValue(1);
  }

  @Test
  void resourceExhaustedThatTheServerSaysNotToRetryIsNotRetried() {
    documents.withRetryInfo = false;
    assertThatThrownBy(() -> client.write(oneDoc())).isInstanceOf(StatusRuntimeException.class);
    assertThat(documents.calls).hasValue(1);
    assertThat(retries).isEmpty();
  }

  @Test
  void createForkIsNotRepeatedAfterUnavailable() {
    assertThatThrownBy(() -> client.createForkFromFork("x", "main", false))
        .isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("UNAVAILABLE");
    assertThat(forks.calls).hasValue(1);
  }

  @Test
  void theServiceConfigNamesEveryServiceAndTheBackPressureOnlyMethods() {
    Map<String, Object> config = RetryPolicy.DEFAULT.serviceConfig();
    assertThat(config.toString())
        .contains("strata.v1.DocumentService", "strata.v1.AdminService", "CreateFork", "DropFork")
        .contains("maxAttempts=5.0", "initialBackoff=0.200000000s", "maxBackoff=5.000000000s");
    assertThat(RetryPolicy.NONE.serviceConfig()).isEmpty();
    assertThatThrownBy(() -> RetryPolicy.DEFAULT.withMaxAttempts(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void awaitFlushReawaitsAfterDeadlineExceeded() {
    FlushTicket ticket = Tickets.parse("main.3f9a0c21:7:18");
    Snapshot s = client.awaitFlush(ticket, Duration.ofMinutes(1)).join();
    assertThat(s.getId()).isEqualTo("main.3f9a0c21-000000000007");
    assertThat(s.getCoveredLsn()).isEqualTo(18);
    assertThat(flushes.calls).hasValue(3);
  }

  @Test
  void awaitFlushFailsAtOnceOnOtherErrors() {
    flushes.timeouts = 0;
    assertThatThrownBy(
            () -> client.awaitFlushBlocking(Tickets.parse("gone.00000000:1:5"), Duration.ofMinutes(1)))
        .isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("NOT_FOUND");
    assertThat(flushes.calls).hasValue(1);
  }

  @Test
  void ticketsRoundTrip() {
    FlushTicket t =
        FlushTicket.newBuilder().setForkId("feature-x.0badcafe").setSeq(12).setLsn(345).build();
    assertThat(Tickets.format(t)).isEqualTo("feature-x.0badcafe:12:345");
    FlushTicket back = Tickets.parse("feature-x.0badcafe:12:345");
    assertThat(back.getForkId()).isEqualTo("feature-x.0badcafe");
    assertThat(back.getSeq()).isEqualTo(12);
    assertThat(back.getLsn()).isEqualTo(345);
    assertThat(Tickets.parse("main.3f9a0c21:18").getLsn()).isEqualTo(18);
    assertThatThrownBy(() -> Tickets.parse("nonsense")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Tickets.parse("a:b:c")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void retryDelayIsReadFromTheDetails() {
    StatusRuntimeException plain = Status.RESOURCE_EXHAUSTED.asRuntimeException();
    assertThat(StrataErrors.retryDelay(plain)).isEmpty();
    assertThat(StrataErrors.retryDelay(Status.UNAVAILABLE.asRuntimeException())).isEmpty();
    StatusRuntimeException withInfo =
        StatusProto.toStatusRuntimeException(
            com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                .addDetails(
                    Any.pack(
                        RetryInfo.newBuilder()
                            .setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(2))
                            .build()))
                .build());
    assertThat(StrataErrors.retryDelay(withInfo)).hasValue(Duration.ofSeconds(2));
  }

  @Test
  void errorsPrintOnOneLine() {
    StatusRuntimeException unreachable =
        Status.UNAVAILABLE
            .withDescription("io exception; Channel Pipeline: [SslHandler#0, TailContext#0]")
            .withCause(new java.net.ConnectException("Connection refused"))
            .asRuntimeException();
    assertThat(StrataErrors.oneLine(unreachable))
        .isEqualTo("UNAVAILABLE: io exception (Connection refused)");
    assertThat(StrataErrors.isUnreachable(unreachable)).isTrue();
    StatusRuntimeException multiLine =
        Status.ALREADY_EXISTS
            .withDescription("schema differs:\n  title: TEXT vs KEYWORD\n  year: missing")
            .asRuntimeException();
    assertThat(StrataErrors.oneLine(multiLine))
        .isEqualTo("ALREADY_EXISTS: schema differs: title: TEXT vs KEYWORD; year: missing");
  }
}
