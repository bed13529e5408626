package dev.strata.engine.segment;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.BytesRef;

/**
 * A counted reference to one segment, from {@link SegmentStore#acquire}: while it is held, the
 * segment's files (RocksDB key range, Lucene index) are not deleted, even after {@link
 * SegmentStore#markObsolete}. Release it exactly once ({@link #release()} or {@link #close()};
 * further calls are no-ops).
 *
 * <p>Thread-safe: the Lucene reader it exposes is shared by every handle of the segment and, like
 * any Lucene {@code IndexReader}, may be searched from many threads. Methods other than {@link
 * #segmentId()} and {@link #release()} throw {@link IllegalStateException} after release.
 */
public final class Segment implements AutoCloseable {
  private final SegmentHandles handles;
  private final SharedSegment shared;
  private final AtomicBoolean released = new AtomicBoolean();

  Segment(SegmentHandles handles, SharedSegment shared) {
    this.handles = handles;
    this.shared = shared;
  }

  /** The segment id. */
  public long segmentId() {
    return shared.segmentId;
  }

  /**
   * The segment's Lucene index: a {@link DirectoryReader} with zero leaves (no put documents) or
   * exactly one. Shared: do not close it.
   */
  public DirectoryReader indexReader() {
    checkHeld();
    return shared.reader();
  }

  /**
   * The single Lucene segment of the index as a {@link CodecReader} (the form {@code
   * FilterCodecReader} and {@code IndexWriter.addIndexes} take), or null if the segment has no put
   * documents. Shared: do not close it.
   */
  public CodecReader leafReader() {
    checkHeld();
    return shared.leaf();
  }

  /** Number of Lucene documents (puts) in the segment, live or shadowed. */
  public int maxDoc() {
    CodecReader l = leafReader();
    return l == null ? 0 : l.maxDoc();
  }

  /**
   * The Lucene docID of {@code id} in {@code collection}, found through the {@code _key} term, or
   * -1 if the segment has no put of it (a tombstone has no Lucene document). Ignores liveness.
   *
   * @throws IOException if the index cannot be read
   */
  public int docIdOf(String collection, String id) throws IOException {
    CodecReader l = leafReader();
    if (l == null) {
      return -1;
    }
    Terms terms = l.terms(LuceneFields.KEY);
    if (terms == null) {
      return -1;
    }
    TermsEnum te = terms.iterator();
    if (!te.seekExact(new BytesRef(SegmentFormat.keySuffix(collection, id)))) {
      return -1;
    }
    int doc = te.postings(null, PostingsEnum.NONE).nextDoc();
    return doc == DocIdSetIterator.NO_MORE_DOCS ? -1 : doc;
  }

  /**
   * Drops this handle's reference; if the segment is obsolete and this was the last reference, its
   * deletion is queued on the {@link ObsoleteSegmentDeleter} (never run on this thread unless that
   * queue is full). Idempotent. Never blocks on I/O.
   */
  public void release() {
    if (released.compareAndSet(false, true)) {
      handles.release(shared);
    }
  }

  /** Same as {@link #release()}. */
  @Override
  public void close() {
    release();
  }

  /** True once released. */
  public boolean isReleased() {
    return released.get();
  }

  private void checkHeld() {
    if (released.get()) {
      throw new IllegalStateException(
          "segment " + SegmentFormat.hex(shared.segmentId) + " handle was released");
    }
  }

  @Override
  public String toString() {
    return "Segment["
        + SegmentFormat.hex(shared.segmentId)
        + (released.get() ? ", released]" : "]");
  }
}
