package dev.strata.manifest;

/**
 * Lifecycle state of a fork in the {@link ForkCatalog}. Allowed transitions:
 *
 * <pre>
 *   (new) --put--> ACTIVE --update--> DROPPING --remove--> (gone)
 *                    ^                   |
 *                    +----update---------+   drain timed out: the fork stays whole and writable
 * </pre>
 *
 * A DROPPING fork refuses new writes; at startup the engine finishes the drop of every fork found
 * DROPPING (its drain was interrupted by the restart).
 */
public enum ForkState {
  /** Serving reads and writes. */
  ACTIVE,
  /** Being dropped: no new writes; in-flight flushes draining, then files deleted. */
  DROPPING;

  /** True if an entry may move from this state to {@code next} by {@link ForkCatalog#update}. */
  public boolean canTransitionTo(ForkState next) {
    return (this == ACTIVE && next == DROPPING) || (this == DROPPING && next == ACTIVE);
  }
}
