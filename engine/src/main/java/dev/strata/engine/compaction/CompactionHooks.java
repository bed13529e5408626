package dev.strata.engine.compaction;

/**
 * Test seam at each step of a compaction job (like {@link dev.strata.engine.flush.FlushHooks} for
 * flushes): a test throws to fail the job at that step, blocks to hold it there, or halts the
 * engine to simulate a crash. {@link #NONE} in production.
 */
@FunctionalInterface
public interface CompactionHooks {
  /** The steps of one job, in order. */
  enum Step {
    /** The job directory exists; nothing is written yet. */
    STARTED,
    /** The merged SST and Lucene index are written and durable; the index is in place. */
    MERGED,
    /** RocksDB has ingested the SST: the segment is complete but in no manifest. */
    INGESTED,
    /** The job is about to queue its publication on the fork's finalizer. */
    BEFORE_PUBLISH,
    /** The compaction's manifest is published and installed as the head. */
    PUBLISHED
  }

  /**
   * Called by the job thread at each step ({@link Step#PUBLISHED} on the fork's finalizer).
   *
   * @throws Exception to fail the job here (at PUBLISHED the error is only logged: it is done)
   */
  void at(String fork, Step step) throws Exception;

  /** Does nothing. */
  CompactionHooks NONE = (fork, step) -> {};
}
