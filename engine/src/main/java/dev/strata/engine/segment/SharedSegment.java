package dev.strata.engine.segment;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.NoLockFactory;
import org.apache.lucene.util.IOUtils;

/**
 * The store's single shared state of one segment: its reference count and its lazily opened Lucene
 * reader, shared by every {@link Segment} handle.
 *
 * <p>Reference counting (like Lucene's {@code IndexFileDeleter} and LevelDB's {@code Version}):
 * {@link #refs} counts one reference held by the store while the segment is live, plus one per
 * unreleased handle. {@link SegmentStore#markObsolete} drops the store's reference; when the count
 * reaches 0 the {@link ObsoleteSegmentDeleter} closes the reader and deletes the files. {@link
 * #refs} and {@link #obsolete} are guarded by {@link SegmentHandles}' lock; the reader fields by
 * {@code this}.
 */
final class SharedSegment {
  final long segmentId;

  /** Guarded by SegmentHandles.lock. Starts at 1: the store's "live" reference. */
  int refs = 1;

  /** Guarded by SegmentHandles.lock. Once true, no new handle may be acquired. */
  boolean obsolete;

  /** Where the segment's files are ({@link SegmentCache}). */
  enum Residency {
    /** On local disk (its reader may or may not be open yet). */
    LOCAL,
    /** Only in remote storage: a pin downloads it. */
    REMOTE,
    /** Being downloaded; {@link #transition} completes when done. */
    DOWNLOADING,
    /** Being evicted; {@link #transition} completes when done. */
    EVICTING
  }

  /** Guarded by SegmentHandles.lock; volatile for the lock-free fast path of a pin. */
  volatile Residency residency = Residency.LOCAL;

  /** Pins held ({@link SegmentPin}). Guarded by SegmentHandles.lock. */
  int pins;

  /** True once the segment is known to be complete in remote storage. Guarded by SegmentHandles.lock. */
  boolean uploaded;

  /** Bytes of its files (SST + Lucene) when local, for the cache budget; -1 unknown. Guarded. */
  long sizeBytes = -1;

  /** Completes when the running download or eviction ends. Guarded by SegmentHandles.lock. */
  java.util.concurrent.CompletableFuture<Void> transition;

  /** Pinners waiting for the running download. Guarded by SegmentHandles.lock. */
  final java.util.List<SegmentCache.Waiter> waiters = new java.util.ArrayList<>(0);

  /** Counts materializations: a reader opened before an eviction is stale after it. Volatile. */
  volatile int epoch;

  /**
   * A Bloom filter of every RocksDB key of the segment (puts and tombstones), built before it is
   * first evicted and kept after, so a point Get can skip a remote segment without fetching it.
   */
  volatile SegmentKeyFilter rowFilter;

  private volatile Directory directory;
  private volatile DirectoryReader reader;
  private volatile CodecReader leaf;

  /** Built on first use by {@link #keyFilter()}; null until then, and for a segment without puts. */
  private volatile SegmentKeyFilter keyFilter;

  SharedSegment(long segmentId) {
    this.segmentId = segmentId;
  }

  /**
   * Opens the Lucene reader once; later calls return at once. Callers hold a reference.
   *
   * @throws SegmentCorruptionException if the index has more than one Lucene segment
   * @throws IOException if the index cannot be opened (e.g. it does not exist)
   */
  synchronized void ensureOpen(Path luceneDir) throws IOException {
    if (reader != null) {
      return;
    }
    Directory dir = FSDirectory.open(luceneDir, NoLockFactory.INSTANCE);
    DirectoryReader r = null;
    try {
      r = DirectoryReader.open(dir);
      List<LeafReaderContext> leaves = r.leaves();
      if (leaves.size() > 1) {
        throw new SegmentCorruptionException(
            segmentId, "its Lucene index has " + leaves.size() + " segments, expected at most 1");
      }
      CodecReader l = leaves.isEmpty() ? null : (CodecReader) leaves.get(0).reader();
      this.leaf = l;
      this.directory = dir;
      this.reader = r;
    } catch (IOException | RuntimeException e) {
      IOUtils.closeWhileHandlingException(r, dir);
      throw e;
    }
  }

  /** The open reader; only valid after {@link #ensureOpen} while a reference is held. */
  DirectoryReader reader() {
    return reader;
  }

  /** The single Lucene segment, or null if the segment has no put documents. */
  CodecReader leaf() {
    return leaf;
  }

  /**
   * The segment's key filter ({@link SegmentKeyFilter}), built from its Lucene {@code _key} terms on
   * the first call and kept for the life of this state; null if the segment has no put documents.
   * Callers hold a reference. No lock: two threads that race here both build one and the last one
   * wins, which is only wasted work (a segment is immutable, so both filters are the same).
   *
   * @throws IOException if the index cannot be read
   */
  SegmentKeyFilter keyFilter() throws IOException {
    SegmentKeyFilter f = keyFilter;
    if (f != null) {
      return f;
    }
    CodecReader l = leaf;
    if (l == null) {
      return null;
    }
    f = SegmentKeyFilter.build(l);
    keyFilter = f;
    return f;
  }

  /** Closes the reader and its directory if open; idempotent. */
  synchronized void closeReader() throws IOException {
    DirectoryReader r = reader;
    Directory d = directory;
    reader = null;
    leaf = null;
    directory = null;
    IOUtils.close(r, d);
  }
}
