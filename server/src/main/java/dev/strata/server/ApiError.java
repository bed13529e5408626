package dev.strata.server;

import com.google.rpc.BadRequest;
import dev.strata.api.v1.ErrorReason;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An error the server detected itself (validation, lookups, authentication), with everything
 * {@link StatusMapper} needs to build the gRPC status and its {@code google.rpc} details: code,
 * message, {@link ErrorReason}, ErrorInfo metadata and BadRequest field violations. Immutable.
 */
public final class ApiError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final transient ErrorReason reason;
  private final transient Map<String, String> metadata;
  private final transient List<BadRequest.FieldViolation> violations;

  private ApiError(
      Status.Code code,
      String message,
      ErrorReason reason,
      Map<String, String> metadata,
      List<BadRequest.FieldViolation> violations) {
    super(message, null, false, false);
    this.code = code;
    this.reason = reason;
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    this.violations = List.copyOf(violations);
  }

  /** An error with a reason and ErrorInfo metadata given as key, value, key, value, .... */
  public static ApiError of(Status.Code code, ErrorReason reason, String message, String... keyValues) {
    Map<String, String> meta = new LinkedHashMap<>();
    for (int i = 0; i + 1 < keyValues.length; i += 2) {
      meta.put(keyValues[i], keyValues[i + 1]);
    }
    return new ApiError(code, message, reason, meta, List.of());
  }

  /** INVALID_ARGUMENT (REQUEST_INVALID) with one BadRequest violation of {@code field}. */
  public static ApiError invalid(String field, String description) {
    return invalid(List.of(violation(field, description)));
  }

  /** INVALID_ARGUMENT (REQUEST_INVALID) with these violations; the message joins them. */
  public static ApiError invalid(List<BadRequest.FieldViolation> violations) {
    List<String> parts = new ArrayList<>();
    for (BadRequest.FieldViolation v : violations) {
      parts.add(v.getField().isEmpty() ? v.getDescription() : v.getField() + ": " + v.getDescription());
    }
    String message = String.join("; ", parts.size() > 10 ? parts.subList(0, 10) : parts)
        + (parts.size() > 10 ? "; and " + (parts.size() - 10) + " more" : "");
    return new ApiError(Status.Code.INVALID_ARGUMENT, message, ErrorReason.REQUEST_INVALID, Map.of(), violations);
  }

  /** A BadRequest field violation. */
  public static BadRequest.FieldViolation violation(String field, String description) {
    return BadRequest.FieldViolation.newBuilder().setField(field).setDescription(description).build();
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The ErrorInfo reason, or null for none. */
  public ErrorReason reason() {
    return reason;
  }

  /** ErrorInfo metadata. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** BadRequest field violations (INVALID_ARGUMENT only). */
  public List<BadRequest.FieldViolation> violations() {
    return violations;
  }
}
