package dev.strata.engine.fork;

import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Where the asynchronous writes of {@link Fork#writeAsync} run after their validation. Both are
 * owned by the caller (the server), bounded, and may refuse work with a {@link
 * java.util.concurrent.RejectedExecutionException}, which the write reports as RESOURCE_EXHAUSTED
 * with nothing applied.
 *
 * @param append WAL appends that do not wait: an append takes microseconds unless its thread
 *     leads a group-commit write and fsync (one per fork at a time); also the apply to L0 when the
 *     WAL's syncer thread completed the fsync
 * @param stall writes that may wait: the fork's active L0 buffer is full (a write stall, at most
 *     {@code write_stall_timeout}), or the fork's WAL is slow ({@link
 *     ForkWriter#MAX_APPENDS_IN_FLIGHT} appends of it already running)
 */
public record WriteExecutors(Executor append, Executor stall) {
  /** Both executors are required. */
  public WriteExecutors {
    Objects.requireNonNull(append, "append");
    Objects.requireNonNull(stall, "stall");
  }
}
