package dev.strata.engine.segment;

import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.Vfs;
import java.util.Objects;

/**
 * Settings of a {@link SegmentStore}. Immutable.
 *
 * @param blockCacheBytes size of RocksDB's shared LRU block cache in bytes (default 128 MiB)
 * @param luceneRamBufferMb Lucene {@code IndexWriter} RAM buffer per segment write, in MiB (default
 *     256). A write that fits flushes one Lucene segment directly; a larger one is merged down with
 *     {@code forceMerge(1)}. The buffer is a ceiling, not an allocation.
 * @param vfs the file-system seam for the directories the store manages itself (create, list,
 *     delete, directory fsync); RocksDB and Lucene write their own files through their own I/O
 *     layers
 */
public record SegmentStoreOptions(long blockCacheBytes, double luceneRamBufferMb, Vfs vfs, SegmentCacheOptions cache) {
  /** Default block cache: 128 MiB. */
  public static final long DEFAULT_BLOCK_CACHE_BYTES = 128L << 20;

  /** Default Lucene RAM buffer: 256 MiB. */
  public static final double DEFAULT_LUCENE_RAM_BUFFER_MB = 256;

  /**
   * @throws IllegalArgumentException if a size is not positive
   */
  public SegmentStoreOptions {
    if (blockCacheBytes <= 0) {
      throw new IllegalArgumentException("blockCacheBytes must be > 0, got " + blockCacheBytes);
    }
    if (!(luceneRamBufferMb > 0)) {
      throw new IllegalArgumentException("luceneRamBufferMb must be > 0, got " + luceneRamBufferMb);
    }
    Objects.requireNonNull(vfs, "vfs");
    Objects.requireNonNull(cache, "cache");
  }

  /** The defaults, on the local file system. */
  public static SegmentStoreOptions defaults() {
    return new SegmentStoreOptions(
        DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_LUCENE_RAM_BUFFER_MB, LocalVfs.INSTANCE, SegmentCacheOptions.OFF);
  }

  /** A copy with another block cache size. */
  public SegmentStoreOptions withBlockCacheBytes(long bytes) {
    return new SegmentStoreOptions(bytes, luceneRamBufferMb, vfs, cache);
  }

  /** A copy with another Lucene RAM buffer. */
  public SegmentStoreOptions withLuceneRamBufferMb(double mb) {
    return new SegmentStoreOptions(blockCacheBytes, mb, vfs, cache);
  }

  /** A copy with another file-system seam (e.g. a fault-injecting one in tests). */
  public SegmentStoreOptions withVfs(Vfs other) {
    return new SegmentStoreOptions(blockCacheBytes, luceneRamBufferMb, other, cache);
  }

  /** A copy with another segment cache (budget and remote source). */
  public SegmentStoreOptions withCache(SegmentCacheOptions other) {
    return new SegmentStoreOptions(blockCacheBytes, luceneRamBufferMb, vfs, other);
  }
}
