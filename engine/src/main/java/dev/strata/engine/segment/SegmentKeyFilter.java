package dev.strata.engine.segment;

import com.google.common.hash.BloomFilter;
import com.google.common.hash.Funnel;
import java.io.IOException;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.util.BytesRef;

/**
 * A Bloom filter over the {@code _key} terms ({@code collection\0id}) of one segment's Lucene
 * documents, kept on the Java heap: "is this key possibly a put in this segment?" answered without
 * touching the index. The liveness pass ({@link LivenessMap#withNewest}) asks it before each {@code
 * TermsEnum.seekExact}, so a key that is new to an older segment (the usual case: a new id) costs a
 * hash instead of a terms-dictionary lookup.
 *
 * <p>Guava's {@link BloomFilter} (murmur3-128, Kirsch–Mitzenmacher double hashing) at a false
 * positive rate of {@value #FALSE_POSITIVE_RATE}: about 9.6 bits (1.2 bytes) per key, and a false
 * positive only costs the {@code seekExact} that would have run anyway. No false negatives: every
 * key of the segment's Lucene documents is added. Tombstones have no Lucene document and are not
 * in it (liveness only shadows documents).
 *
 * <p>Immutable once built; thread-safe ({@code mightContain} only reads). Built once per segment by
 * {@link SharedSegment#keyFilter()}, when the liveness pass first needs it.
 */
final class SegmentKeyFilter {
  /** The filter's target false-positive rate. */
  static final double FALSE_POSITIVE_RATE = 0.01;

  /** The bytes of a {@code BytesRef} slice, as the filter hashes them. */
  private static final Funnel<BytesRef> BYTES_REF =
      (ref, sink) -> sink.putBytes(ref.bytes, ref.offset, ref.length);

  private final BloomFilter<BytesRef> filter;
  private final int keys;

  private SegmentKeyFilter(BloomFilter<BytesRef> filter, int keys) {
    this.filter = filter;
    this.keys = keys;
  }

  /**
   * Reads every {@code _key} term of {@code leaf} (one sequential pass over the terms dictionary)
   * into a new filter sized for {@code leaf.maxDoc()} keys.
   *
   * @throws IOException if the index cannot be read
   */
  static SegmentKeyFilter build(CodecReader leaf) throws IOException {
    int expected = Math.max(1, leaf.maxDoc());
    BloomFilter<BytesRef> f = BloomFilter.create(BYTES_REF, expected, FALSE_POSITIVE_RATE);
    int n = 0;
    Terms terms = leaf.terms(LuceneFields.KEY);
    if (terms != null) {
      TermsEnum te = terms.iterator();
      for (BytesRef t = te.next(); t != null; t = te.next()) {
        f.put(t);
        n++;
      }
    }
    return new SegmentKeyFilter(f, n);
  }

  /**
   * A filter over every RocksDB key of segment {@code segmentId} (puts <em>and</em> tombstones,
   * without the 8-byte segment prefix): two key-only passes over its range, without filling the
   * block cache (one to count, one to add). The segment cache builds it before it first evicts a
   * segment, so a point Get can tell "not here" without fetching the segment back; unlike {@link
   * #build} it may not skip tombstones, since a tombstone ends a Get.
   *
   * @throws IOException if RocksDB cannot be read
   */
  static SegmentKeyFilter ofRows(SegmentDb db, long segmentId) throws IOException {
    byte[] lower = SegmentFormat.segmentPrefix(segmentId);
    byte[] upper = SegmentFormat.segmentRangeEnd(segmentId);
    int n = 0;
    try (RangeCursor c = db.openCursor(lower, upper, false, false)) {
      while (c.next()) {
        n++;
      }
    }
    BloomFilter<BytesRef> f = BloomFilter.create(BYTES_REF, Math.max(1, n), FALSE_POSITIVE_RATE);
    int added = 0;
    try (RangeCursor c = db.openCursor(lower, upper, false, false)) {
      while (c.next()) {
        byte[] k = c.key();
        f.put(new BytesRef(k, SegmentFormat.PREFIX_BYTES, k.length - SegmentFormat.PREFIX_BYTES));
        added++;
      }
    }
    return new SegmentKeyFilter(f, added);
  }

  /**
   * False if the segment certainly has no Lucene document with this {@code _key} term; true if it
   * may have one (then look it up).
   *
   * @param keySuffix {@code collection\0id} as UTF-8 ({@link SegmentFormat#keySuffix})
   */
  boolean mightContain(BytesRef keySuffix) {
    return filter.mightContain(keySuffix);
  }

  /** Keys added (the segment's put documents). */
  int keys() {
    return keys;
  }
}
