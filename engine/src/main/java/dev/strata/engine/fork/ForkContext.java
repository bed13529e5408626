package dev.strata.engine.fork;

import dev.strata.engine.EngineOptions;
import dev.strata.engine.flush.StreamPool;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.vfs.Vfs;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * What every fork shares, owned by the engine: file system, data directory, options, the segment
 * store, the thread pools, and the segment id allocator.
 *
 * @param streamPool the stream threads, one round-robin lane per fork (owner: the engine)
 * @param finalizerPool pool on which each fork's finalizer runs as a sequential executor; it
 *     never makes one fork's publication wait for another's (threads on demand, see the engine's
 *     executors)
 * @param scheduler interval flushes, retries, stream timeouts
 * @param segmentIds allocates segment ids and tracks the ones in flight
 * @param onPublished told (on the fork's finalizer, so it must return quickly) after every flush
 *     a fork publishes: the compaction scheduler's trigger
 */
public record ForkContext(
    Vfs vfs,
    Path dataDir,
    EngineOptions options,
    SegmentStore segments,
    StreamPool streamPool,
    Executor finalizerPool,
    ScheduledExecutorService scheduler,
    SegmentIdAllocator segmentIds,
    Consumer<Fork> onPublished) {

  /** {@code <data>/forks/<forkId>}. */
  public Path forkDir(String forkId) {
    return dataDir.resolve("forks").resolve(forkId);
  }
}
