package dev.strata.engine.segment;

import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.FilterCodecReader;
import org.apache.lucene.util.Bits;

/**
 * A segment's Lucene reader seen through a {@link LivenessMap}: {@link #getLiveDocs()} and {@link
 * #numDocs()} report only the documents not shadowed by a newer segment, so every query, collector
 * and count skips the others (Lucene's {@code LeafReader.getLiveDocs()} contract). Built per
 * search, never closed itself: the wrapped reader is shared and owned by its {@link Segment}.
 *
 * <p>Cache helpers are null: the live docs differ per manifest while the core stays the same, so
 * Lucene's query cache must not key on the core (it skips readers without a helper).
 */
final class LivenessFilteredReader extends FilterCodecReader {
  private final Bits liveDocs;
  private final int numDocs;

  /**
   * @param liveDocs the live docs, or null if all are live
   * @param numDocs number of set bits of {@code liveDocs} (or maxDoc)
   */
  LivenessFilteredReader(CodecReader in, Bits liveDocs, int numDocs) {
    super(in);
    this.liveDocs = liveDocs;
    this.numDocs = numDocs;
  }

  @Override
  public Bits getLiveDocs() {
    return liveDocs;
  }

  @Override
  public int numDocs() {
    return numDocs;
  }

  @Override
  public CacheHelper getCoreCacheHelper() {
    return null;
  }

  @Override
  public CacheHelper getReaderCacheHelper() {
    return null;
  }
}
