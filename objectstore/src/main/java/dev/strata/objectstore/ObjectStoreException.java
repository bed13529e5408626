package dev.strata.objectstore;

import java.io.IOException;

/**
 * A failed object-store request, with whether trying again may help: throttling (429, 503
 * SlowDown), server errors (5xx) and connection failures may; access denied, a missing bucket or
 * a bad request will not until an operator acts. The uploader retries both kinds (it never skips a
 * snapshot) but logs the second at ERROR.
 */
public final class ObjectStoreException extends IOException {
  private static final long serialVersionUID = 1L;

  private final boolean retryable;

  /**
   * @param message what was asked and what the store answered
   * @param retryable whether the same request may succeed later without an operator
   * @param cause the client's exception
   */
  public ObjectStoreException(String message, boolean retryable, Throwable cause) {
    super(message, cause);
    this.retryable = retryable;
  }

  /** Whether the same request may succeed later without an operator's help. */
  public boolean retryable() {
    return retryable;
  }
}
