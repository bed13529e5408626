package dev.strata.server;

import static dev.strata.server.TestServer.badRequest;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.StrataException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The one error mapping, kind by kind (RESOURCE_EXHAUSTED is also provoked for real in BackPressureTest). */
class StatusMapperTest {

  @Test
  void backPressureCarriesRetryInfo() {
    StatusRuntimeException e =
        StatusMapper.toStatus(StrataException.overloaded("write stall on fork 'main': all 2 flush permits busy", 1500));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(retryInfo(e).getRetryDelay().getSeconds()).isEqualTo(1);
    assertThat(retryInfo(e).getRetryDelay().getNanos()).isEqualTo(500_000_000);
    assertThat(errorInfo(e).getReason()).isEqualTo("WRITE_STALLED");
    assertThat(errorInfo(e).getDomain()).isEqualTo("strata.dev");
    assertThat(errorInfo(e).getMetadataMap()).containsEntry("fork", "main");
    assertThat(e.getTrailers().get(StatusMapper.RETRY_PUSHBACK_MS)).isEqualTo("1500");
  }

  @Test
  void otherResourceExhaustedTellsGrpcNotToRetry() {
    StatusRuntimeException e =
        StatusMapper.toStatus(ApiError.of(Status.Code.RESOURCE_EXHAUSTED, null, "too many watchers"));
    assertThat(retryInfo(e)).isNull();
    assertThat(e.getTrailers().get(StatusMapper.RETRY_PUSHBACK_MS)).isEqualTo("-1");
    StatusRuntimeException other = StatusMapper.toStatus(StrataException.invalid("nope"));
    assertThat(other.getTrailers().get(StatusMapper.RETRY_PUSHBACK_MS)).isNull();
  }

  @Test
  void invalidArgumentsCarryBadRequest() {
    StatusRuntimeException e = StatusMapper.toStatus(StrataException.invalid("bad query string: oops"), "query");
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(badRequest(e).getFieldViolations(0).getField()).isEqualTo("query");
    assertThat(errorInfo(e).getReason()).isEqualTo("REQUEST_INVALID");
    StatusRuntimeException iae = StatusMapper.toStatus(new IllegalArgumentException("nope"));
    assertThat(iae.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(badRequest(iae)).isNotNull();
  }

  @Test
  void engineKindsMapToTheirCodesAndReasons() {
    check(StrataException.notFound("fork 'x' does not exist"), Status.Code.NOT_FOUND, "FORK_NOT_FOUND");
    check(StrataException.notFound("collection 'c' does not exist on fork 'main'"), Status.Code.NOT_FOUND, "COLLECTION_NOT_FOUND");
    check(StrataException.notFound("fork 'x' was dropped"), Status.Code.NOT_FOUND, "FORK_DROPPED");
    check(StrataException.notFound("tag 't' does not exist"), Status.Code.NOT_FOUND, "TAG_NOT_FOUND");
    check(StrataException.notFound("snapshot 's' does not exist"), Status.Code.NOT_FOUND, "SNAPSHOT_NOT_FOUND");
    check(
        StrataException.of(StrataException.Kind.ALREADY_EXISTS, "fork 'x' already exists"),
        Status.Code.ALREADY_EXISTS,
        "FORK_ALREADY_EXISTS");
    check(
        StrataException.failedPrecondition("collection 'c' on fork 'main' exists with a different schema: x"),
        Status.Code.FAILED_PRECONDITION,
        "COLLECTION_SCHEMA_CONFLICT");
    check(StrataException.failedPrecondition("fork 'x' is read-only: disk"), Status.Code.FAILED_PRECONDITION, "FORK_READ_ONLY");
    check(StrataException.failedPrecondition("fork 'x' is being dropped"), Status.Code.FAILED_PRECONDITION, "FORK_DROPPING");
    check(StrataException.failedPrecondition("fork 'main' cannot be dropped"), Status.Code.FAILED_PRECONDITION, "MAIN_FORK_PROTECTED");
    StatusRuntimeException drain =
        check(
            StrataException.of(
                StrataException.Kind.DEADLINE_EXCEEDED,
                "drop of fork 'f' timed out after 5 ms with 2 flushes pending; the fork stays whole and writable"),
            Status.Code.DEADLINE_EXCEEDED,
            "DRAIN_TIMEOUT");
    assertThat(errorInfo(drain).getMetadataMap()).containsEntry("pending_flushes", "2").containsEntry("fork", "f");
    check(StrataException.of(StrataException.Kind.UNAVAILABLE, "the engine is closed"), Status.Code.UNAVAILABLE, "SERVER_SHUTTING_DOWN");
    assertThat(StatusMapper.toStatus(StrataException.of(StrataException.Kind.CORRUPTION, "bad crc")).getStatus().getCode())
        .isEqualTo(Status.Code.DATA_LOSS);
    assertThat(StatusMapper.toStatus(StrataException.of(StrataException.Kind.IO_ERROR, "disk")).getStatus().getCode())
        .isEqualTo(Status.Code.INTERNAL);
  }

  @Test
  void unexpectedErrorsAreInternalWithoutDetails() {
    StatusRuntimeException e = StatusMapper.toStatus(new CompletionException(new NullPointerException("secret detail")));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(e.getStatus().getDescription()).startsWith("internal error (server log ref").doesNotContain("secret");
    StatusRuntimeException passthrough = Status.ABORTED.withDescription("x").asRuntimeException();
    assertThat(StatusMapper.toStatus(passthrough)).isSameAs(passthrough);
  }

  private static StatusRuntimeException check(StrataException ex, Status.Code code, String reason) {
    StatusRuntimeException e = StatusMapper.toStatus(ex);
    assertThat(e.getStatus().getCode()).as(ex.getMessage()).isEqualTo(code);
    assertThat(e.getStatus().getDescription()).isEqualTo(ex.getMessage());
    assertThat(errorInfo(e).getReason()).as(ex.getMessage()).isEqualTo(reason);
    return e;
  }
}
