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

  private volatile Directory directory;
  private volatile DirectoryReader reader;
  private volatile CodecReader leaf;

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
