package dev.strata.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reading the status and {@code google.rpc} details of a failed call. Stateless, thread-safe. */
public final class StrataErrors {
  /** The {@code ErrorInfo.domain} of Strata errors. */
  public static final String DOMAIN = "strata.dev";

  private StrataErrors() {}

  /** The gRPC status code of {@code error} ({@code UNKNOWN} if it is not a gRPC error). */
  public static Status.Code code(Throwable error) {
    return Status.fromThrowable(error).getCode();
  }

  /** The {@code google.rpc.ErrorInfo} detail of {@code error}, if any. */
  public static Optional<ErrorInfo> errorInfo(Throwable error) {
    return detail(error, ErrorInfo.class);
  }

  /** The {@code ErrorInfo.reason} (a {@code strata.v1.ErrorReason} name), or empty. */
  public static Optional<String> reason(Throwable error) {
    return errorInfo(error).map(ErrorInfo::getReason).filter(r -> !r.isEmpty());
  }

  /**
   * The server's {@code google.rpc.RetryInfo.retry_delay} when {@code error} is back-pressure
   * ({@code RESOURCE_EXHAUSTED} with a RetryInfo detail: nothing was applied, the same request may
   * be sent again after the delay), else empty. {@link StrataClient} retries such calls by itself
   * (see {@link RetryPolicy}); this tells a caller what the last attempt was told.
   */
  public static Optional<java.time.Duration> retryDelay(Throwable error) {
    if (error == null || code(error) != Status.Code.RESOURCE_EXHAUSTED) {
      return Optional.empty();
    }
    return detail(error, RetryInfo.class)
        .map(
            r ->
                java.time.Duration.ofSeconds(
                    Math.max(0, r.getRetryDelay().getSeconds()), Math.max(0, r.getRetryDelay().getNanos())));
  }

  /** The field violations of a {@code google.rpc.BadRequest} detail, as {@code field: why}. */
  public static List<String> fieldViolations(Throwable error) {
    List<String> out = new ArrayList<>();
    detail(error, BadRequest.class)
        .ifPresent(
            br ->
                br.getFieldViolationsList()
                    .forEach(v -> out.add(v.getField() + ": " + v.getDescription())));
    return out;
  }

  /** The first detail of the given type, if any. */
  public static <T extends com.google.protobuf.Message> Optional<T> detail(
      Throwable error, Class<T> type) {
    com.google.rpc.Status status = error == null ? null : StatusProto.fromThrowable(error);
    if (status == null) {
      return Optional.empty();
    }
    for (Any any : status.getDetailsList()) {
      if (any.is(type)) {
        try {
          return Optional.of(any.unpack(type));
        } catch (InvalidProtocolBufferException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /**
   * Whether {@code error} means the server could not be reached at all (connection refused, no
   * route, unknown host, TLS handshake failure): {@code UNAVAILABLE} without a Strata {@code
   * ErrorInfo} (a server that is shutting down says so with {@code SERVER_SHUTTING_DOWN}).
   */
  public static boolean isUnreachable(Throwable error) {
    return code(error) == Status.Code.UNAVAILABLE && errorInfo(error).isEmpty();
  }

  /**
   * One line: {@code CODE: message} (newlines of the message folded), followed by the field
   * violations of a BadRequest detail when the message does not already name them.
   */
  public static String oneLine(Throwable error) {
    Status status = Status.fromThrowable(error);
    StringBuilder sb = new StringBuilder(status.getCode().name());
    String description = status.getDescription();
    if (description == null || description.isBlank()) {
      Throwable cause = status.getCause() != null ? status.getCause() : error.getCause();
      description = cause != null ? rootMessage(cause) : null;
    } else if (status.getCause() != null && status.getCode() == Status.Code.UNAVAILABLE) {
      description = description + " (" + rootMessage(status.getCause()) + ")";
    }
    if (description != null && !description.isBlank()) {
      sb.append(": ").append(fold(description));
    }
    for (String v : fieldViolations(error)) {
      if (description == null || !description.contains(v)) {
        sb.append("; ").append(fold(v));
      }
    }
    return sb.toString();
  }

  private static String rootMessage(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage();
    return m == null || m.isBlank() ? root.getClass().getSimpleName() : m;
  }

  private static String fold(String s) {
    // grpc-netty appends its handler pipeline to connection errors: noise for a user
    String t = s.replaceAll(";? ?Channel Pipeline: \\[[^\\]]*\\]", "");
    return t.strip().replaceAll(":\\s*[\\r\\n]+\\s*", ": ").replaceAll("\\s*[\\r\\n]+\\s*", "; ");
  }
}
