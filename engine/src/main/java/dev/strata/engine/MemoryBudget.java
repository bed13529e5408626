package dev.strata.engine;

/**
 * One memory budget for the whole engine (SPEC §5.10, {@code memory.budget}), split into fixed
 * shares so that no part sizes itself:
 *
 * <table>
 *   <caption>Shares of the budget</caption>
 *   <tr><th>share</th><th>of the budget</th><th>what it bounds</th><th>where it lives</th></tr>
 *   <tr><td>{@link #l0Bytes}</td><td>1/4</td><td>the L0 buffers (active and frozen) of every fork
 *       together: writers stall when they reach it ({@code fork.WriteBufferManager}, RocksDB's
 *       {@code WriteBufferManager})</td><td>Java heap</td></tr>
 *   <tr><td>{@link #luceneBytes}</td><td>1/8</td><td>Lucene's indexing RAM buffers of all segment
 *       writes running at once (each stream thread gets an equal part)</td><td>Java heap</td></tr>
 *   <tr><td>{@link #blockCacheBytes}</td><td>1/8</td><td>RocksDB's block cache</td><td>native</td></tr>
 *   <tr><td>the rest</td><td>1/2</td><td>everything else: flush working copies, reads, RPC buffers,
 *       segment readers and key filters, GC headroom (heap); metaspace, code cache, thread stacks,
 *       direct buffers, RocksDB table readers (native)</td><td>both</td></tr>
 * </table>
 *
 * <p>{@link #heapBytes()} is the Java heap that fits the budget (3/4 of it: everything but the block
 * cache and the JVM's own native memory); {@code bin/strata} gives the server JVM that {@code
 * -Xmx}. The shares are ceilings, not allocations: an idle server uses far less.
 *
 * <p>Immutable and thread-safe.
 *
 * @param totalBytes the whole budget, bytes
 * @param l0Bytes L0 of all forks together, bytes (0 = unbounded)
 * @param blockCacheBytes RocksDB block cache, bytes
 * @param luceneBytes Lucene indexing buffers of all concurrent segment writes, bytes
 */
public record MemoryBudget(long totalBytes, long l0Bytes, long blockCacheBytes, long luceneBytes) {
  /** The default budget: 1 GiB. */
  public static final long DEFAULT_TOTAL_BYTES = 1L << 30;

  /** The smallest budget accepted: 64 MiB. */
  public static final long MIN_TOTAL_BYTES = 64L << 20;

  /** Checks the shares against the total. */
  public MemoryBudget {
    if (totalBytes < MIN_TOTAL_BYTES) {
      throw new IllegalArgumentException(
          "memory.budget must be at least " + (MIN_TOTAL_BYTES >> 20) + " MiB, got " + totalBytes + " bytes");
    }
    if (l0Bytes < 0 || blockCacheBytes <= 0 || luceneBytes <= 0) {
      throw new IllegalArgumentException("memory shares must be positive (L0 may be 0: unbounded)");
    }
    if (l0Bytes + blockCacheBytes + luceneBytes > totalBytes) {
      throw new IllegalArgumentException(
          "memory shares (L0 " + l0Bytes + ", block cache " + blockCacheBytes + ", Lucene " + luceneBytes
              + " bytes) exceed memory.budget " + totalBytes + " bytes");
    }
  }

  /** The budget {@code totalBytes} split into the default shares (L0 1/4, Lucene 1/8, cache 1/8). */
  public static MemoryBudget of(long totalBytes) {
    return new MemoryBudget(totalBytes, totalBytes / 4, totalBytes / 8, totalBytes / 8);
  }

  /** The default 1 GiB budget. */
  public static MemoryBudget defaults() {
    return of(DEFAULT_TOTAL_BYTES);
  }

  /** A copy with another block cache share (an explicit {@code cache.block_bytes}). */
  public MemoryBudget withBlockCacheBytes(long bytes) {
    return new MemoryBudget(totalBytes, l0Bytes, bytes, luceneBytes);
  }

  /** A copy with another L0 share (0: no global L0 bound, only the per-fork ones). */
  public MemoryBudget withL0Bytes(long bytes) {
    return new MemoryBudget(totalBytes, bytes, blockCacheBytes, luceneBytes);
  }

  /** The Java heap that fits the budget: 3/4 of it, bytes. */
  public long heapBytes() {
    return totalBytes / 4 * 3;
  }

  /** Lucene's RAM buffer for one segment write when {@code concurrentWrites} run at once, MiB (≥ 1). */
  public double luceneRamBufferMbPerWrite(int concurrentWrites) {
    return Math.max(1.0, luceneBytes / (double) Math.max(1, concurrentWrites) / (1 << 20));
  }
}
