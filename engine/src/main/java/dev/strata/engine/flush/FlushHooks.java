package dev.strata.engine.flush;

/**
 * A test seam around a flush's stream phase: tests delay or fail streams to check ordering,
 * back-pressure, retries and isolation between forks. Production uses {@link #NONE}.
 *
 * <p>Called on stream threads, concurrently; implementations must be thread-safe.
 */
public interface FlushHooks {
  /** Hooks that do nothing. */
  FlushHooks NONE = (fork, seq, attempt) -> {};

  /**
   * Runs at the start of a stream attempt.
   *
   * @param forkName the fork being flushed
   * @param seq the flush's seq (rotate order)
   * @param attempt 0 for the first attempt, then 1, 2, … for retries
   * @throws Exception to fail this attempt (it is retried with back-off)
   */
  void beforeStream(String forkName, long seq, int attempt) throws Exception;

  /**
   * Runs on the finalizer just before a flush's manifest is published (after its segment is
   * written and ingested). Tests use it to simulate a crash between the two.
   *
   * @throws Exception to fail the publish (the fork then turns read-only)
   */
  default void beforePublish(String forkName, long seq) throws Exception {}
}
