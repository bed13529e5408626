package dev.strata.manifest;

/**
 * A {@link ForkCatalog} change was refused because it does not fit the current catalog. Nothing was
 * written; the catalog stays usable. Not an I/O failure.
 */
public final class CatalogConflictException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Which rule was broken; the server maps these to gRPC codes. */
  public enum Reason {
    /** {@code put} of a name that an entry (ACTIVE or DROPPING) already has: ALREADY_EXISTS. */
    NAME_TAKEN,
    /** {@code put} of an id already present: a bug or an id collision. */
    ID_TAKEN,
    /** {@code update}/{@code remove} of an id not in the catalog: NOT_FOUND. */
    NOT_FOUND,
    /**
     * A state change {@link ForkState#canTransitionTo} forbids, or {@code remove} of a fork that is
     * not DROPPING: FAILED_PRECONDITION.
     */
    ILLEGAL_TRANSITION,
    /** {@code update} that changes something other than the state. */
    IMMUTABLE_FIELD
  }

  private final Reason reason;

  public CatalogConflictException(Reason reason, String message) {
    super(reason + ": " + message);
    this.reason = reason;
  }

  /** Which rule was broken. */
  public Reason reason() {
    return reason;
  }
}
