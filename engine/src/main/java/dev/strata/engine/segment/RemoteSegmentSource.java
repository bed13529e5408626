package dev.strata.engine.segment;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a segment that is not on local disk can be fetched from: the seam between the segment
 * cache ({@link SegmentCache}) and the object-storage tier, which implements it with its segment
 * bundles. The engine never names a bucket; the tier never touches RocksDB.
 *
 * <p>Implementations must be thread-safe: the cache calls {@link #fetch} from its download threads,
 * for different segments at once (never twice at once for one segment).
 */
public interface RemoteSegmentSource {
  /**
   * What a {@link #fetch} wrote.
   *
   * @param hasSst whether the segment has rows (an SST was written to {@code sstTarget})
   * @param bytes bytes of the segment's files (SST plus Lucene files), as they now take on disk
   * @param downloadedBytes bytes read from the remote store (the whole object, index included)
   */
  record Fetched(boolean hasSst, long bytes, long downloadedBytes) {}

  /**
   * Downloads segment {@code segmentId}, checks every file against its stored checksum and writes
   * its Lucene files into {@code luceneTarget} (a new, empty directory) and its SST, if it has
   * rows, to {@code sstTarget}; every file fsynced. On failure it may leave partial files, which the
   * caller removes.
   *
   * @throws java.io.FileNotFoundException if the remote store has no object for the segment
   * @throws IOException if the download fails or a checksum does not match
   */
  Fetched fetch(long segmentId, Path luceneTarget, Path sstTarget) throws IOException;
}
