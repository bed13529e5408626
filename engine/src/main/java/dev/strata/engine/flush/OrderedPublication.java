package dev.strata.engine.flush;

/**
 * A publication that is not a flush (a compaction): it takes a seq like a rotate does, but no
 * permit, and runs on the fork's finalizer at that seq's turn, after every earlier flush is
 * published and before any later one — so a fork's snapshots stay one ordered chain ({@link
 * FlushCoordinator#submitOrdered}).
 *
 * <p>Both methods run on the finalizer, exactly one of them exactly once.
 */
public interface OrderedPublication {
  /**
   * Publishes at {@code seq}, on the finalizer. It may decide not to publish (e.g. its input is no
   * longer in the head) and clean up itself; returning normally either way lets later seqs go.
   * Throwing fails the pipeline like a failed flush publication (the manifest store may be in
   * doubt).
   */
  void publish(long seq) throws Exception;

  /** Called instead of {@link #publish} if the pipeline failed or closed first. */
  void abandon(Throwable why);
}
