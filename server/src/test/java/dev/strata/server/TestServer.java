package dev.strata.server;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A real server on a loopback port 0 over a temporary data directory, a channel to it, and the
 * blocking stubs; helpers for documents and for reading status details. Test helper; not
 * thread-safe.
 */
final class TestServer implements AutoCloseable {
  final Path dataDir;
  final StrataServer server;
  final ManagedChannel channel;

  private TestServer(Path dataDir, StrataServer server) {
    this.dataDir = dataDir;
    this.server = server;
    this.channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", server.port())
            .usePlaintext()
            .maxInboundMessageSize(64 << 20)
            .build();
  }

  /** Settings for tests: port 0, no interval flush, short timeouts, few threads. */
  static Map<String, String> testSettings(Path dataDir) {
    Map<String, String> m = new HashMap<>();
    m.put("data_dir", dataDir.toString());
    m.put("listen", "127.0.0.1:0");
    m.put("flush.interval", "off");
    m.put("write_stall_timeout", "5s");
    m.put("flush.threads", "2");
    m.put("cache.block_bytes", "8MiB");
    m.put("shutdown.grace_period", "20s");
    m.put("server.threads", "16");
    return m;
  }

  /** Starts a server on {@code dataDir} with the test settings plus {@code extra}. */
  static TestServer start(Path dataDir, Map<String, String> extra) throws IOException {
    return start(dataDir, extra, StrataServer.LOCAL);
  }

  /** Starts a server that opens its engine with {@code opener}. */
  static TestServer start(Path dataDir, Map<String, String> extra, StrataServer.EngineOpener opener)
      throws IOException {
    Map<String, String> settings = testSettings(dataDir);
    settings.putAll(extra);
    StrataServer s = new StrataServer(ServerConfig.load(null, Map.of(), settings), opener);
    s.start();
    return new TestServer(dataDir, s);
  }

  <S extends AbstractStub<S>> S withToken(S stub, String token) {
    Metadata md = new Metadata();
    md.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
  }

  CollectionServiceGrpc.CollectionServiceBlockingStub collections() {
    return CollectionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  DocumentServiceGrpc.DocumentServiceBlockingStub documents() {
    return DocumentServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  FlushServiceGrpc.FlushServiceBlockingStub flushes() {
    return FlushServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  SnapshotServiceGrpc.SnapshotServiceBlockingStub snapshots() {
    return SnapshotServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  ForkServiceGrpc.ForkServiceBlockingStub forks() {
    return ForkServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  AdminServiceGrpc.AdminServiceBlockingStub admin() {
    return AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** The schema tests use: TEXT body, KEYWORD tag, LONG n, DOUBLE price. */
  static List<FieldSchema> schema() {
    return List.of(
        FieldSchema.newBuilder().setName("body").setKind(FieldKind.FIELD_KIND_TEXT).build(),
        FieldSchema.newBuilder().setName("tag").setKind(FieldKind.FIELD_KIND_KEYWORD).build(),
        FieldSchema.newBuilder().setName("n").setKind(FieldKind.FIELD_KIND_LONG).build(),
        FieldSchema.newBuilder().setName("price").setKind(FieldKind.FIELD_KIND_DOUBLE).build());
  }

  void createCollection(String fork, String name) {
    collections()
        .createOrGetCollection(
            CreateOrGetCollectionRequest.newBuilder().setFork(fork).setName(name).addAllFields(schema()).build());
  }

  static Document doc(String id, String body, String tag, long n) {
    return Document.newBuilder()
        .setId(id)
        .putFields("body", Value.newBuilder().setStringValue(body).build())
        .putFields("tag", Value.newBuilder().setStringValue(tag).build())
        .putFields("n", Value.newBuilder().setInt64Value(n).build())
        .build();
  }

  static Mutation put(Document d) {
    return Mutation.newBuilder().setPut(d).build();
  }

  WriteResponse write(String fork, String collection, Document... docs) {
    WriteRequest.Builder b = WriteRequest.newBuilder().setFork(fork).setCollection(collection);
    for (Document d : docs) {
      b.addMutations(put(d));
    }
    return documents().write(b.build());
  }

  // ---------------------------------------------------------------- status details

  /** Runs {@code call} and returns the StatusRuntimeException it must throw. */
  static StatusRuntimeException failure(Supplier<?> call) {
    try {
      call.get();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call succeeded; a failure was expected");
  }

  static Status.Code code(StatusRuntimeException e) {
    return e.getStatus().getCode();
  }

  static ErrorInfo errorInfo(StatusRuntimeException e) {
    return detail(e, ErrorInfo.class);
  }

  static BadRequest badRequest(StatusRuntimeException e) {
    return detail(e, BadRequest.class);
  }

  static RetryInfo retryInfo(StatusRuntimeException e) {
    return detail(e, RetryInfo.class);
  }

  /** The detail of type {@code type}, or null. */
  static <T extends com.google.protobuf.Message> T detail(StatusRuntimeException e, Class<T> type) {
    com.google.rpc.Status s = StatusProto.fromThrowable(e);
    if (s == null) {
      return null;
    }
    for (com.google.protobuf.Any any : s.getDetailsList()) {
      if (any.is(type)) {
        try {
          return any.unpack(type);
        } catch (InvalidProtocolBufferException ex) {
          throw new AssertionError(ex);
        }
      }
    }
    return null;
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow();
    channel.awaitTermination(5, TimeUnit.SECONDS);
    server.shutdown(java.time.Duration.ofSeconds(20));
  }
}
