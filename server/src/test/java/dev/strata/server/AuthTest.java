package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.WriteRequest;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens and roles on a server configured with tokens. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthTest {
  static final String ADMIN = "adm-0123456789";
  static final String WRITER = "wr-0123456789";
  static final String READER = "rd-0123456789";

  TestServer t;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t =
        TestServer.start(
            dir,
            Map.of(
                "auth.token.ops", "admin:" + ADMIN,
                "auth.token.loader", "writer:" + WRITER,
                "auth.token.dashboard", "reader:" + READER));
  }

  @AfterAll
  void stop() throws Exception {
    t.close();
  }

  private static void assertAuth(StatusRuntimeException e, Status.Code code, String reason) {
    assertThat(code(e)).as(e.toString()).isEqualTo(code);
    assertThat(errorInfo(e).getReason()).isEqualTo(reason);
  }

  @Test
  void missingMalformedAndWrongTokensAreUnauthenticated() {
    assertAuth(
        failure(() -> t.forks().listForks(ListForksRequest.newBuilder().build())),
        Status.Code.UNAUTHENTICATED,
        "AUTH_TOKEN_MISSING");
    Metadata basic = new Metadata();
    basic.put(AuthInterceptor.AUTHORIZATION, "Basic dXNlcjpwYXNz");
    assertAuth(
        failure(() -> t.forks().withInterceptors(MetadataUtils.newAttachHeadersInterceptor(basic)).listForks(ListForksRequest.newBuilder().build())),
        Status.Code.UNAUTHENTICATED,
        "AUTH_TOKEN_MISSING");
    assertAuth(
        failure(() -> t.withToken(t.forks(), "not-a-token").listForks(ListForksRequest.newBuilder().build())),
        Status.Code.UNAUTHENTICATED,
        "AUTH_TOKEN_INVALID");
    // A prefix of a real token is not a token.
    assertAuth(
        failure(() -> t.withToken(t.forks(), ADMIN.substring(0, 5)).listForks(ListForksRequest.newBuilder().build())),
        Status.Code.UNAUTHENTICATED,
        "AUTH_TOKEN_INVALID");
  }

  @Test
  void rolesAreOrdered() {
    assertThat(t.withToken(t.forks(), READER).listForks(ListForksRequest.newBuilder().build()).getForksCount()).isPositive();
    StatusRuntimeException denied =
        failure(
            () ->
                t.withToken(t.documents(), READER)
                    .write(WriteRequest.newBuilder().setCollection("c").addMutations(TestServer.put(doc("a", "a", "a", 1))).build()));
    assertAuth(denied, Status.Code.PERMISSION_DENIED, "ROLE_INSUFFICIENT");
    assertThat(errorInfo(denied).getMetadataMap()).containsEntry("required_role", "writer").containsEntry("role", "reader");

    t.withToken(t.collections(), WRITER)
        .createOrGetCollection(CreateOrGetCollectionRequest.newBuilder().setName("auth").addAllFields(TestServer.schema()).build());
    t.withToken(t.documents(), WRITER)
        .write(WriteRequest.newBuilder().setCollection("auth").addMutations(TestServer.put(doc("a", "a", "a", 1))).build());
    String snapshot =
        t.withToken(t.flushes(), WRITER).flush(FlushRequest.newBuilder().setWait(true).build()).getSnapshot().getId();
    assertAuth(
        failure(() -> t.withToken(t.snapshots(), WRITER).tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(snapshot).setTag("t").build())),
        Status.Code.PERMISSION_DENIED,
        "ROLE_INSUFFICIENT");
    assertAuth(
        failure(() -> t.withToken(t.forks(), WRITER).createFork(CreateForkRequest.newBuilder().setName("f").setFromFork("main").build())),
        Status.Code.PERMISSION_DENIED,
        "ROLE_INSUFFICIENT");
    assertAuth(
        failure(() -> t.withToken(t.admin(), WRITER).verify(VerifyRequest.newBuilder().build())),
        Status.Code.PERMISSION_DENIED,
        "ROLE_INSUFFICIENT");

    t.withToken(t.snapshots(), ADMIN).tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(snapshot).setTag("t").build());
    t.withToken(t.forks(), ADMIN).createFork(CreateForkRequest.newBuilder().setName("f").setFromFork("main").build());
    assertThat(t.withToken(t.admin(), ADMIN).verify(VerifyRequest.newBuilder().build()).getProblemsList()).isEmpty();
  }

  @Test
  void healthNeedsNoToken() {
    assertThat(
            HealthGrpc.newBlockingStub(t.channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().build())
                .getStatus())
        .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  /** The role table in code is the one docs/api.md documents, for every RPC of the six services. */
  @Test
  void roleTableMatchesTheApiReference() throws Exception {
    Map<String, Role> documented = new HashMap<>();
    Pattern row = Pattern.compile("^\\| `(\\w+)\\.(\\w+)` \\| [^|]+ \\| (admin|writer|reader) \\|", Pattern.MULTILINE);
    Matcher m = row.matcher(Files.readString(Path.of("..", "docs", "api.md")));
    while (m.find()) {
      documented.put("strata.v1." + m.group(1) + "/" + m.group(2), Role.parse(m.group(3)));
    }
    Map<String, Role> inCode = new HashMap<>();
    for (ServiceDescriptor sd :
        List.of(
            CollectionServiceGrpc.getServiceDescriptor(),
            DocumentServiceGrpc.getServiceDescriptor(),
            FlushServiceGrpc.getServiceDescriptor(),
            SnapshotServiceGrpc.getServiceDescriptor(),
            ForkServiceGrpc.getServiceDescriptor(),
            AdminServiceGrpc.getServiceDescriptor())) {
      for (MethodDescriptor<?, ?> md : sd.getMethods()) {
        inCode.put(md.getFullMethodName(), AuthInterceptor.requiredRole(md.getFullMethodName()));
      }
    }
    assertThat(inCode).hasSize(25);
    assertThat(documented).isEqualTo(inCode);
    assertThat(AuthInterceptor.requiredRole("grpc.health.v1.Health/Check")).isNull();
    assertThat(AuthInterceptor.requiredRole("strata.v1.Unknown/Thing")).isEqualTo(Role.ADMIN);
  }
}
