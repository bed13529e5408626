package dev.strata.manifest;

/**
 * {@link ManifestStore#publish} refused a manifest because it does not follow the fork's current
 * head (or another publish is in progress). Nothing was written. This is not an I/O failure: the
 * store stays open and the head is unchanged; the caller rebases on {@link ManifestStore#head()}
 * and tries again, or reports a bug (a fork has exactly one publisher, its finalizer).
 */
public final class ManifestConflictException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Which publication rule was broken. */
  public enum Reason {
    /** Another publish on this fork has reserved the next slot and is writing it. */
    PUBLISH_IN_PROGRESS,
    /** {@code seq} is not greater than the head's seq (someone else published it first). */
    STALE_SEQ,
    /** {@code parent_id}/{@code parent_seq} do not name the current head (or the fork's base). */
    WRONG_PARENT,
    /** {@code covered_lsn} is lower than the head's. */
    LSN_REGRESSION,
    /** {@code fork_id} is not the store's fork. */
    WRONG_FORK,
    /** {@code base_snapshot_id} differs from the head's (it is constant along a fork's chain). */
    BASE_CHANGED
  }

  private final Reason reason;

  public ManifestConflictException(Reason reason, String message) {
    super(reason + ": " + message);
    this.reason = reason;
  }

  /** Which rule was broken. */
  public Reason reason() {
    return reason;
  }
}
