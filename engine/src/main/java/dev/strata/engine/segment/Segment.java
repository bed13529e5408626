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
 * <p>With a remote segment source ({@link SegmentCache}) there are two kinds of handle: one from
 * {@link SegmentStore#acquire} holds a pin for its life (the files stay local), one from {@link
 * SegmentStore#acquireReference} (what a published snapshot holds) is only a logical reference, and
 * a read takes a {@link #pin()} for its duration. Its reader and RocksDB rows may be used only while
 * some pin is held; {@link #leafReader()} and {@link #indexReader()} check it.
 *
 * <p>Thread-safe: the Lucene reader it exposes is shared by every handle of the segment and, like
 * any Lucene {@code IndexReader}, may be searched from many threads. Methods other than {@link
 * #segmentId()} and {@link #release()} throw {@link IllegalStateException} after release.
 */
public final class Segment implements AutoCloseable {
  private final SegmentHandles handles;
  private final SharedSegment shared;
  /** The pin held for the handle's life, or null for a logical reference. */
  private final SegmentPin lifetimePin;
  private final AtomicBoolean released = new AtomicBoolean();

  Segment(SegmentHandles handles, SharedSegment shared, SegmentPin lifetimePin) {
    this.handles = handles;
    this.shared = shared;
    this.lifetimePin = lifetimePin;
  }

  /**
   * Pins the segment's files locally for a read, fetching them first if they are remote (one
   * download for all concurrent pinners; waits at most the cache's download timeout). Close the
   * pin when the read is done. Without a remote source, returns a no-op pin at once.
   *
   * @throws SegmentFetchException if the segment is remote and cannot be fetched now
   * @throws IOException if its local index cannot be opened
   * @throws IllegalStateException if this handle was released
   */
  public SegmentPin pin() throws IOException {
    checkHeld();
    return handles.cache().pin(shared);
  }

  /** Starts fetching the segment if it is remote, without waiting (see {@link SegmentPins}). */
  void prefetch() {
    checkHeld();
    handles.cache().prefetch(shared);
  }

  /**
   * Whether the segment may hold a row (put or tombstone) for {@code id} in {@code collection}:
   * false only when it is not local and the Bloom filter over its rows, kept from before its
   * eviction, rules the key out; so a point Get skips it without a fetch.
   */
  public boolean mayHold(String collection, String id) {
    SegmentKeyFilter f = shared.rowFilter;
    if (f == null || shared.residency == SharedSegment.Residency.LOCAL) {
      return true;
    }
    return f.mightContain(new BytesRef(SegmentFormat.keySuffix(collection, id)));
  }

  /** True if the segment's files are on local disk now (a snapshot, not a promise: pin to read). */
  public boolean isLocal() {
    return shared.residency == SharedSegment.Residency.LOCAL;
  }

  /**
   * Materialization count of the segment: it changes when an evicted segment is fetched again, so a
   * Lucene view built over its old reader must be rebuilt.
   */
  public int epoch() {
    return shared.epoch;
  }

  /**
   * A new handle on the same segment that keeps it local for its life (a pin); this handle stays
   * held.
   *
   * @throws SegmentFetchException if it is remote and cannot be fetched
   */
  Segment withLifetimePin() throws IOException {
    checkHeld();
    SegmentPin p = handles.cache().pin(shared);
    return handles.duplicate(shared, p);
  }

  /**
   * This reference as a logical one: itself if it holds no pin, else a new logical handle (this one
   * is released). For the long-lived handles of a published snapshot, which must not keep their
   * segments local.
   */
  public Segment asReference() {
    if (lifetimePin == null) {
      return this;
    }
    checkHeld();
    Segment r = handles.duplicate(shared, null);
    release();
    return r;
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
    checkPinned();
    return shared.reader();
  }

  /**
   * The single Lucene segment of the index as a {@link CodecReader} (the form {@code
   * FilterCodecReader} and {@code IndexWriter.addIndexes} take), or null if the segment has no put
   * documents. Shared: do not close it.
   */
  public CodecReader leafReader() {
    checkHeld();
    checkPinned();
    return shared.leaf();
  }

  /**
   * The segment's key filter: false from its {@code mightContain} means no put document of the
   * segment has that key. Built on first use and shared by every handle; null if the segment has
   * no put documents.
   *
   * @throws IOException if the index cannot be read to build it
   */
  SegmentKeyFilter keyFilter() throws IOException {
    checkHeld();
    return shared.keyFilter();
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
      if (lifetimePin != null) {
        lifetimePin.close();
      }
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

  private void checkPinned() {
    SegmentCache cache = handles.cache();
    boolean pinsCounted = cache.evicts() || shared.residency != SharedSegment.Residency.LOCAL;
    if (lifetimePin == null && cache.fetches() && pinsCounted && shared.pins == 0) {
      throw new IllegalStateException(
          "segment " + SegmentFormat.hex(shared.segmentId) + " is read through a logical reference without a pin");
    }
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
