package dev.strata.server;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.strata.api.v1.ErrorReason;
import dev.strata.engine.StrataException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that turns a failure into a gRPC status (SPEC §5.8, docs/api.md §3).
 *
 * <table>
 *   <caption>Mapping</caption>
 *   <tr><th>failure</th><th>status</th><th>details</th></tr>
 *   <tr><td>{@link ApiError}</td><td>its code</td><td>ErrorInfo(reason, metadata), BadRequest</td></tr>
 *   <tr><td>StrataException INVALID_ARGUMENT, IllegalArgumentException</td><td>INVALID_ARGUMENT</td>
 *       <td>ErrorInfo REQUEST_INVALID, BadRequest (field if the caller knows it)</td></tr>
 *   <tr><td>NOT_FOUND</td><td>NOT_FOUND</td><td>FORK_NOT_FOUND, FORK_DROPPED, COLLECTION_NOT_FOUND,
 *       SNAPSHOT_NOT_FOUND, TAG_NOT_FOUND (from the engine's message)</td></tr>
 *   <tr><td>ALREADY_EXISTS</td><td>ALREADY_EXISTS</td><td>FORK_ALREADY_EXISTS</td></tr>
 *   <tr><td>FAILED_PRECONDITION, schema conflict</td><td>FAILED_PRECONDITION</td>
 *       <td>COLLECTION_SCHEMA_CONFLICT</td></tr>
 *   <tr><td>FAILED_PRECONDITION</td><td>FAILED_PRECONDITION</td><td>FORK_READ_ONLY,
 *       FORK_DROPPING, MAIN_FORK_PROTECTED; MERGE_TARGET_MOVED, MERGE_NO_COMMON_ANCESTOR,
 *       MERGE_IN_PROGRESS, CHANGE_POSITION_EXPIRED ({@link MergeStatuses})</td></tr>
 *   <tr><td>RESOURCE_EXHAUSTED, a merge too large</td><td>RESOURCE_EXHAUSTED</td><td>MERGE_TOO_LARGE,
 *       pushback -1 (not retryable)</td></tr>
 *   <tr><td>RESOURCE_EXHAUSTED</td><td>RESOURCE_EXHAUSTED</td><td>WRITE_STALLED + RetryInfo, and the
 *       same delay in the {@code grpc-retry-pushback-ms} trailer (-1 when not retryable)</td></tr>
 *   <tr><td>DEADLINE_EXCEEDED</td><td>DEADLINE_EXCEEDED</td><td>DRAIN_TIMEOUT for a drop</td></tr>
 *   <tr><td>UNAVAILABLE (engine closed)</td><td>UNAVAILABLE</td><td>SERVER_SHUTTING_DOWN</td></tr>
 *   <tr><td>CORRUPTION</td><td>DATA_LOSS</td><td>logged with stack trace</td></tr>
 *   <tr><td>IO_ERROR from a fork's closed manifest store</td><td>NOT_FOUND</td><td>FORK_DROPPED (dropped
 *       while the call ran)</td></tr>
 *   <tr><td>IO_ERROR</td><td>INTERNAL</td><td>logged with stack trace</td></tr>
 *   <tr><td>CancellationException</td><td>CANCELLED</td><td></td></tr>
 *   <tr><td>StatusRuntimeException / StatusException</td><td>as is</td><td></td></tr>
 *   <tr><td>anything else</td><td>INTERNAL "internal error (ref N)"</td><td>logged with stack trace once</td></tr>
 * </table>
 *
 * <p>Stateless and thread-safe.
 */
public final class StatusMapper {
  private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

  /** ErrorInfo domain of every Strata error. */
  public static final String DOMAIN = "strata.dev";

  /** Longest status message, chars (a longer one keeps a prefix and its length). */
  static final int MAX_MESSAGE_CHARS = 1000;
  /** Longest ErrorInfo metadata value and BadRequest field or description, chars. */
  static final int MAX_METADATA_CHARS = 500;
  /** All BadRequest field paths and descriptions of one status together, chars. */
  static final int MAX_VIOLATION_CHARS = 2000;

  private static final AtomicLong REFS = new AtomicLong();
  private static final Pattern QUOTED = Pattern.compile("\\b(fork|collection|snapshot|tag) '([^']*)'");
  private static final Pattern PENDING = Pattern.compile("with (\\d+) flushes pending");

  private StatusMapper() {}

  /** The status for {@code t}. */
  public static StatusRuntimeException toStatus(Throwable t) {
    return toStatus(t, "");
  }

  /**
   * The status for {@code t}.
   *
   * @param invalidField the request field to name in BadRequest when an engine INVALID_ARGUMENT
   *     or IllegalArgumentException does not say which field it is about ("" if unknown)
   */
  public static StatusRuntimeException toStatus(Throwable t, String invalidField) {
    Throwable e = unwrap(t);
    if (e instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (e instanceof StatusException se) {
      return new StatusRuntimeException(se.getStatus(), se.getTrailers());
    }
    if (e instanceof ApiError a) {
      return build(a.code(), a.getMessage(), a.reason(), a.metadata(), a.violations(), 0);
    }
    if (e instanceof StrataException s) {
      return fromEngine(s, invalidField);
    }
    if (e instanceof IllegalArgumentException) {
      return invalid(e.getMessage(), invalidField);
    }
    if (e instanceof CancellationException) {
      return Status.CANCELLED.withDescription("cancelled").asRuntimeException();
    }
    long ref = REFS.incrementAndGet();
    log.error("internal error ref={}", ref, e);
    return build(Status.Code.INTERNAL, "internal error (server log ref " + ref + ")", null, Map.of(), List.of(), 0);
  }

  private static Throwable unwrap(Throwable t) {
    Throwable e = t;
    while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }

  private static StatusRuntimeException invalid(String message, String field) {
    // Lucene's parse errors go on with a multi-line list of expected tokens: keep the first line.
    if (message != null && message.indexOf('\n') > 0) {
      message = message.substring(0, message.indexOf('\n')).strip();
    }
    return build(
        Status.Code.INVALID_ARGUMENT,
        message,
        ErrorReason.REQUEST_INVALID,
        Map.of(),
        List.of(ApiError.violation(field == null ? "" : field, String.valueOf(message))),
        0);
  }

  private static StatusRuntimeException fromEngine(StrataException s, String invalidField) {
    String msg = s.getMessage() == null ? s.kind().toString() : s.getMessage();
    Map<String, String> meta = metadataFrom(msg);
    switch (s.kind()) {
      case INVALID_ARGUMENT:
        return invalid(msg, invalidField);
      case NOT_FOUND: {
        ErrorReason r;
        if (msg.contains("was dropped") || msg.contains("no longer exists") || msg.contains("no open fork owns it")) {
          r = ErrorReason.FORK_DROPPED;
        } else if (msg.startsWith("collection ")) {
          r = ErrorReason.COLLECTION_NOT_FOUND;
        } else if (msg.startsWith("snapshot ") || msg.startsWith("no snapshot")) {
          r = ErrorReason.SNAPSHOT_NOT_FOUND;
        } else if (msg.startsWith("tag ")) {
          r = ErrorReason.TAG_NOT_FOUND;
        } else if (msg.startsWith("fork ")) {
          r = ErrorReason.FORK_NOT_FOUND;
        } else {
          r = null;
        }
        return build(Status.Code.NOT_FOUND, msg, r, meta, List.of(), 0);
      }
      case ALREADY_EXISTS:
        return build(
            Status.Code.ALREADY_EXISTS, msg, msg.startsWith("fork ") ? ErrorReason.FORK_ALREADY_EXISTS : null, meta, List.of(), 0);
      case FAILED_PRECONDITION: {
        if (msg.contains("different schema")) {
          return build(Status.Code.FAILED_PRECONDITION, msg, ErrorReason.COLLECTION_SCHEMA_CONFLICT, meta, List.of(), 0);
        }
        ErrorReason merge = MergeStatuses.failedPrecondition(msg, meta);
        if (merge != null) {
          return build(Status.Code.FAILED_PRECONDITION, msg, merge, meta, List.of(), 0);
        }
        ErrorReason r =
            msg.contains("read-only")
                ? ErrorReason.FORK_READ_ONLY
                : msg.contains("being dropped")
                    ? ErrorReason.FORK_DROPPING
                    : msg.contains("cannot be dropped") ? ErrorReason.MAIN_FORK_PROTECTED : null;
        if (r == ErrorReason.FORK_READ_ONLY) {
          meta.put("state_reason", msg);
        }
        return build(Status.Code.FAILED_PRECONDITION, msg, r, meta, List.of(), 0);
      }
      case RESOURCE_EXHAUSTED:
        if (MergeStatuses.tooLarge(msg, meta)) {
          return build(Status.Code.RESOURCE_EXHAUSTED, msg, ErrorReason.MERGE_TOO_LARGE, meta, List.of(), 0);
        }
        return build(
            Status.Code.RESOURCE_EXHAUSTED, msg, ErrorReason.WRITE_STALLED, meta, List.of(), Math.max(1, s.retryAfterMs()));
      case DEADLINE_EXCEEDED: {
        ErrorReason r = null;
        if (msg.startsWith("drop of fork")) {
          r = ErrorReason.DRAIN_TIMEOUT;
          Matcher m = PENDING.matcher(msg);
          if (m.find()) {
            meta.put("pending_flushes", m.group(1));
          }
        }
        return build(Status.Code.DEADLINE_EXCEEDED, msg, r, meta, List.of(), 0);
      }
      case UNAVAILABLE:
        return build(Status.Code.UNAVAILABLE, msg, ErrorReason.SERVER_SHUTTING_DOWN, meta, List.of(), 0);
      case IO_ERROR:
        if (closedStoreOf(s) != null) {
          // Not an I/O failure: the fork's manifest store was closed under the call because the
          // fork was dropped meanwhile (a store that failed has its first error as the cause).
          String forkId = closedStoreOf(s);
          meta.put("fork_id", forkId);
          return build(
              Status.Code.NOT_FOUND,
              "fork id " + forkId + " was dropped while the call ran",
              ErrorReason.FORK_DROPPED,
              meta,
              List.of(),
              0);
        }
        log.error("engine I/O error: {}", msg, s);
        return build(Status.Code.INTERNAL, msg, null, meta, List.of(), 0);
      case CORRUPTION:
        log.error("data corruption: {}", msg, s);
        return build(Status.Code.DATA_LOSS, msg, null, meta, List.of(), 0);
      default:
        log.error("engine I/O error: {}", msg, s);
        return build(Status.Code.INTERNAL, msg, null, meta, List.of(), 0);
    }
  }

  private static final Pattern CLOSED_STORE = Pattern.compile("manifest store of fork (\\S+) is closed");

  /**
   * The fork id of the manifest store whose closing (not failure: that one has a cause) caused
   * {@code t}, or null.
   */
  static String closedStoreOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof dev.strata.manifest.StoreClosedException sc && sc.getCause() == null && sc.getMessage() != null) {
        Matcher m = CLOSED_STORE.matcher(sc.getMessage());
        if (m.find()) {
          return m.group(1);
        }
      }
    }
    return null;
  }

  /** ErrorInfo metadata from the names the engine quotes in its messages ("fork 'x'"). */
  private static Map<String, String> metadataFrom(String msg) {
    Map<String, String> meta = new LinkedHashMap<>();
    Matcher m = QUOTED.matcher(msg);
    while (m.find()) {
      String key = m.group(1).equals("snapshot") ? "snapshot_id" : m.group(1);
      meta.putIfAbsent(key, m.group(2));
    }
    return meta;
  }

  /**
   * Builds the status with its details in the {@code grpc-status-details-bin} trailer.
   *
   * <p>What a status echoes is bounded, whatever the request held: the message keeps at most
   * {@value #MAX_MESSAGE_CHARS} characters, each ErrorInfo value {@value #MAX_METADATA_CHARS}, and
   * the BadRequest violations together {@value #MAX_VIOLATION_CHARS} (then one more violation says
   * how many were left out). So the trailers stay well inside the 8 KiB of metadata a gRPC client
   * accepts by default, and the call log line stays short.
   */
  static StatusRuntimeException build(
      Status.Code code,
      String message,
      ErrorReason reason,
      Map<String, String> metadata,
      List<BadRequest.FieldViolation> violations,
      long retryAfterMs) {
    com.google.rpc.Status.Builder s =
        com.google.rpc.Status.newBuilder()
            .setCode(code.value())
            .setMessage(capped(message == null ? "" : message, MAX_MESSAGE_CHARS));
    if (reason != null) {
      ErrorInfo.Builder info = ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(reason.name());
      metadata.forEach((k, v) -> info.putMetadata(k, capped(v, MAX_METADATA_CHARS)));
      s.addDetails(Any.pack(info.build()));
    }
    if (!violations.isEmpty()) {
      s.addDetails(Any.pack(boundedBadRequest(violations)));
    }
    if (retryAfterMs > 0) {
      s.addDetails(
          Any.pack(
              RetryInfo.newBuilder()
                  .setRetryDelay(
                      Duration.newBuilder()
                          .setSeconds(retryAfterMs / 1000)
                          .setNanos((int) (retryAfterMs % 1000) * 1_000_000))
                  .build()));
    }
    Metadata trailers = new Metadata();
    if (code == Status.Code.RESOURCE_EXHAUSTED) {
      // gRFC A6: gRPC clients with a retry policy wait exactly this long before retrying (the
      // delay of RetryInfo), and never retry on a negative value (no RetryInfo: not back-pressure).
      trailers.put(RETRY_PUSHBACK_MS, retryAfterMs > 0 ? Long.toString(retryAfterMs) : "-1");
    }
    return StatusProto.toStatusRuntimeException(s.build(), trailers);
  }

  /** The BadRequest of {@code violations}, within {@value #MAX_VIOLATION_CHARS} characters. */
  private static BadRequest boundedBadRequest(List<BadRequest.FieldViolation> violations) {
    BadRequest.Builder b = BadRequest.newBuilder();
    int chars = 0;
    for (int i = 0; i < violations.size(); i++) {
      BadRequest.FieldViolation v = violations.get(i);
      String field = capped(v.getField(), MAX_METADATA_CHARS);
      String description = capped(v.getDescription(), MAX_METADATA_CHARS);
      chars += field.length() + description.length();
      if (chars > MAX_VIOLATION_CHARS && i > 0) {
        b.addFieldViolations(
            ApiError.violation("", "and " + (violations.size() - i) + " more problem(s) not listed"));
        break;
      }
      b.addFieldViolations(ApiError.violation(field, description));
    }
    return b.build();
  }

  /**
   * {@code s}, or when longer than {@code maxChars} a prefix of it followed by how long it was: what
   * a client or the log gets back of a request value is bounded (issue #11: a 1 MB query echoed
   * whole made a 1 MB log line and trailers no client accepted).
   */
  static String capped(String s, int maxChars) {
    if (s.length() <= maxChars) {
      return s;
    }
    String suffix = "... (" + s.length() + " chars in all)";
    int end = Math.max(0, maxChars - suffix.length());
    if (end > 0 && Character.isHighSurrogate(s.charAt(end - 1))) {
      end--; // do not cut a surrogate pair in two
    }
    return s.substring(0, end) + suffix;
  }
  /** The trailer of gRPC's retry pushback (gRFC A6), beside {@code google.rpc.RetryInfo}. */
  public static final Metadata.Key<String> RETRY_PUSHBACK_MS =
      Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

  /** True for codes that report a problem of the request or the caller, not of the server. */
  public static boolean isClientError(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED,
          DEADLINE_EXCEEDED, UNAUTHENTICATED, PERMISSION_DENIED, CANCELLED, ABORTED, OUT_OF_RANGE -> true;
      default -> false;
    };
  }
}
