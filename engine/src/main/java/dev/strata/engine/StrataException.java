package dev.strata.engine;

/**
 * The engine's one exception type, with a {@link Kind} that the server maps to a gRPC status in one
 * place. Messages are written for the client: they say what was wrong and, where it helps, what to
 * do.
 */
public final class StrataException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What went wrong; each kind maps to one gRPC status code. */
  public enum Kind {
    /** Bad input (INVALID_ARGUMENT). */
    INVALID_ARGUMENT,
    /** A fork, collection, snapshot or document does not exist (NOT_FOUND). */
    NOT_FOUND,
    /** The thing to create exists already (ALREADY_EXISTS). */
    ALREADY_EXISTS,
    /** The request conflicts with state: schema mismatch, read-only fork, drop of main (FAILED_PRECONDITION). */
    FAILED_PRECONDITION,
    /** Back-pressure: no flush permit within the write-stall timeout (RESOURCE_EXHAUSTED). */
    RESOURCE_EXHAUSTED,
    /** A wait ran past its deadline (DEADLINE_EXCEEDED). */
    DEADLINE_EXCEEDED,
    /** The engine or fork is closed or shutting down (UNAVAILABLE). */
    UNAVAILABLE,
    /** Stored data failed a checksum or an invariant (DATA_LOSS). */
    CORRUPTION,
    /** An I/O failure (INTERNAL). */
    IO_ERROR
  }

  private final Kind kind;
  private final long retryAfterMs;

  private StrataException(Kind kind, String message, Throwable cause, long retryAfterMs) {
    super(message, cause);
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }

  /** An exception of {@code kind}. */
  public static StrataException of(Kind kind, String message) {
    return new StrataException(kind, message, null, 0);
  }

  /** An exception of {@code kind} with a cause. */
  public static StrataException of(Kind kind, String message, Throwable cause) {
    return new StrataException(kind, message, cause, 0);
  }

  /** RESOURCE_EXHAUSTED with a hint for the client's retry (gRPC {@code RetryInfo}), in ms. */
  public static StrataException overloaded(String message, long retryAfterMs) {
    return new StrataException(Kind.RESOURCE_EXHAUSTED, message, null, retryAfterMs);
  }

  /** INVALID_ARGUMENT. */
  public static StrataException invalid(String message) {
    return of(Kind.INVALID_ARGUMENT, message);
  }

  /** NOT_FOUND. */
  public static StrataException notFound(String message) {
    return of(Kind.NOT_FOUND, message);
  }

  /** FAILED_PRECONDITION. */
  public static StrataException failedPrecondition(String message) {
    return of(Kind.FAILED_PRECONDITION, message);
  }

  /** What went wrong. */
  public Kind kind() {
    return kind;
  }

  /** For RESOURCE_EXHAUSTED: how long the client should wait before retrying, ms; else 0. */
  public long retryAfterMs() {
    return retryAfterMs;
  }
}
