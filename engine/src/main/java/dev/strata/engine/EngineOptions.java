package dev.strata.engine;

import dev.strata.engine.compaction.CompactionHooks;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SegmentCacheOptions;
import dev.strata.wal.WalOptions;
import java.time.Clock;
import java.util.Objects;

/**
 * Every engine knob, with the defaults of SPEC §2. Immutable; build with {@link #builder()}.
 *
 * @param l0MaxBytes rotate when the active L0 buffer holds this many bytes (default 64 MiB)
 * @param flushIntervalMs rotate when this long has passed with data in L0 (default 1000 ms; 0 =
 *     off)
 * @param maxPendingFlushes flush permits per fork: frozen L0 buffers in flight (default 2)
 * @param writeStallTimeoutMs how long a writer waits for a permit before RESOURCE_EXHAUSTED
 *     (default 10000 ms)
 * @param streamTimeoutMs one stream attempt's time limit (default 120000 ms)
 * @param flushMaxRetries retries of a failed stream before the fork turns read-only (default 5)
 * @param retryBackoffMs first retry delay; doubles per attempt up to 5 s (default 100 ms)
 * @param streamThreads threads writing segments, shared by all forks (default: cores, at least 2)
 * @param blockCacheBytes RocksDB block cache (default: the {@code memory} budget's share, 128 MiB of
 *     the default 1 GiB); always equal to {@code memory.blockCacheBytes()}
 * @param wal WAL options (segment size, sync interval, recovery mode)
 * @param hooks test seam around the stream phase; {@link FlushHooks#NONE} in production
 * @param compaction background compaction ({@link CompactionOptions#defaults()})
 * @param retention snapshot retention ({@link RetentionOptions#defaults()})
 * @param compactionHooks test seam at each step of a compaction; {@link CompactionHooks#NONE} in
 *     production
 * @param clock the wall clock that stamps manifests and fork entries and that retention compares
 *     snapshot ages with ({@link Clock#systemUTC()}; tests move a fixed one instead of sleeping)
 * @param memory the memory budget and its shares ({@link MemoryBudget#defaults()}: 1 GiB): L0 of
 *     all forks, the block cache, Lucene's indexing buffers
 * @param segmentCache the local segment cache over the object-storage tier ({@code
 *     storage.cache_bytes} and the remote source; {@link SegmentCacheOptions#OFF}: every segment
 *     stays local)
 */
public record EngineOptions(
    long l0MaxBytes,
    long flushIntervalMs,
    int maxPendingFlushes,
    long writeStallTimeoutMs,
    long streamTimeoutMs,
    int flushMaxRetries,
    long retryBackoffMs,
    int streamThreads,
    long blockCacheBytes,
    WalOptions wal,
    FlushHooks hooks,
    CompactionOptions compaction,
    RetentionOptions retention,
    CompactionHooks compactionHooks,
    Clock clock,
    MemoryBudget memory,
    SegmentCacheOptions segmentCache) {

  /** Checks ranges. */
  public EngineOptions {
    if (l0MaxBytes < 1024) {
      throw new IllegalArgumentException("l0.max_bytes must be at least 1024, got " + l0MaxBytes);
    }
    if (maxPendingFlushes < 1) {
      throw new IllegalArgumentException("max_pending_flushes must be at least 1");
    }
    if (flushIntervalMs < 0 || writeStallTimeoutMs < 0 || streamTimeoutMs <= 0) {
      throw new IllegalArgumentException("durations must be positive");
    }
    if (flushMaxRetries < 0 || retryBackoffMs < 0 || streamThreads < 1) {
      throw new IllegalArgumentException("retries, back-off and threads must be non-negative");
    }
    Objects.requireNonNull(memory, "memory");
    Objects.requireNonNull(segmentCache, "segmentCache");
    if (blockCacheBytes != memory.blockCacheBytes()) {
      throw new IllegalArgumentException(
          "blockCacheBytes " + blockCacheBytes + " differs from the memory budget's share " + memory.blockCacheBytes());
    }
  }

  /** A builder with every default. */
  public static Builder builder() {
    return new Builder();
  }

  /** This record's values in a builder. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.l0MaxBytes = l0MaxBytes;
    b.flushIntervalMs = flushIntervalMs;
    b.maxPendingFlushes = maxPendingFlushes;
    b.writeStallTimeoutMs = writeStallTimeoutMs;
    b.streamTimeoutMs = streamTimeoutMs;
    b.flushMaxRetries = flushMaxRetries;
    b.retryBackoffMs = retryBackoffMs;
    b.streamThreads = streamThreads;
    b.blockCacheBytes = -1; // memory carries it
    b.memory = memory;
    b.wal = wal;
    b.hooks = hooks;
    b.compaction = compaction;
    b.retention = retention;
    b.compactionHooks = compactionHooks;
    b.clock = clock;
    b.segmentCache = segmentCache;
    return b;
  }

  /** Builder of {@link EngineOptions}; not thread-safe. */
  public static final class Builder {
    private long l0MaxBytes = 64L << 20;
    private long flushIntervalMs = 1000;
    private int maxPendingFlushes = 2;
    private long writeStallTimeoutMs = 10_000;
    private long streamTimeoutMs = 120_000;
    private int flushMaxRetries = 5;
    private long retryBackoffMs = 100;
    private int streamThreads = Math.max(2, Runtime.getRuntime().availableProcessors());
    /** An explicit block cache size, or -1 for the memory budget's share. */
    private long blockCacheBytes = -1;
    private MemoryBudget memory = MemoryBudget.defaults();
    private WalOptions wal = WalOptions.builder().build();
    private FlushHooks hooks = FlushHooks.NONE;
    private CompactionOptions compaction = CompactionOptions.defaults();
    private RetentionOptions retention = RetentionOptions.defaults();
    private CompactionHooks compactionHooks = CompactionHooks.NONE;
    private Clock clock = Clock.systemUTC();
    private SegmentCacheOptions segmentCache = SegmentCacheOptions.OFF;

    /** The local segment cache over the object-storage tier (budget and remote source). */
    public Builder segmentCache(SegmentCacheOptions v) {
      segmentCache = Objects.requireNonNull(v);
      return this;
    }

    public Builder clock(Clock v) {
      clock = Objects.requireNonNull(v);
      return this;
    }

    public Builder compaction(CompactionOptions v) {
      compaction = Objects.requireNonNull(v);
      return this;
    }

    public Builder retention(RetentionOptions v) {
      retention = Objects.requireNonNull(v);
      return this;
    }

    public Builder compactionHooks(CompactionHooks v) {
      compactionHooks = Objects.requireNonNull(v);
      return this;
    }

    public Builder l0MaxBytes(long v) {
      l0MaxBytes = v;
      return this;
    }

    public Builder flushIntervalMs(long v) {
      flushIntervalMs = v;
      return this;
    }

    public Builder maxPendingFlushes(int v) {
      maxPendingFlushes = v;
      return this;
    }

    public Builder writeStallTimeoutMs(long v) {
      writeStallTimeoutMs = v;
      return this;
    }

    public Builder streamTimeoutMs(long v) {
      streamTimeoutMs = v;
      return this;
    }

    public Builder flushMaxRetries(int v) {
      flushMaxRetries = v;
      return this;
    }

    public Builder retryBackoffMs(long v) {
      retryBackoffMs = v;
      return this;
    }

    public Builder streamThreads(int v) {
      streamThreads = v;
      return this;
    }

    /** An explicit block cache size, bytes, in place of the memory budget's share. */
    public Builder blockCacheBytes(long v) {
      blockCacheBytes = v;
      return this;
    }

    /** The memory budget ({@link MemoryBudget#of}); an explicit block cache size still wins. */
    public Builder memory(MemoryBudget v) {
      memory = Objects.requireNonNull(v);
      return this;
    }

    public Builder wal(WalOptions v) {
      wal = v;
      return this;
    }

    public Builder hooks(FlushHooks v) {
      hooks = v;
      return this;
    }

    public EngineOptions build() {
      MemoryBudget m = blockCacheBytes < 0 ? memory : memory.withBlockCacheBytes(blockCacheBytes);
      return new EngineOptions(
          l0MaxBytes,
          flushIntervalMs,
          maxPendingFlushes,
          writeStallTimeoutMs,
          streamTimeoutMs,
          flushMaxRetries,
          retryBackoffMs,
          streamThreads,
          m.blockCacheBytes(),
          wal,
          hooks,
          compaction,
          retention,
          compactionHooks,
          clock,
          m,
          segmentCache);
    }
  }
}
