package dev.strata.engine.segment;

import java.nio.file.Path;

/**
 * The result of {@link SegmentStore#write}: a segment whose files are durable on disk but whose
 * documents are not yet in RocksDB (pass it to {@link SegmentStore#ingest}). Immutable; the engine
 * records the stats and the checksum in the manifest.
 *
 * @param segmentId the segment
 * @param docCount number of put entries (= Lucene documents)
 * @param tombstoneCount number of tombstone entries
 * @param sizeBytes bytes on disk: the staged SST plus the Lucene index files
 * @param minLsn smallest LSN of the entries (0 if there are none)
 * @param maxLsn largest LSN of the entries (0 if there are none)
 * @param contentChecksum CRC32C over every key and value in key order ({@link SegmentFormat}); what
 *     {@link SegmentStore#verify} recomputes from RocksDB
 * @param stagedSst the SST written by the stream phase, or null if the segment has no entries
 */
public record WrittenSegment(
    long segmentId,
    long docCount,
    long tombstoneCount,
    long sizeBytes,
    long minLsn,
    long maxLsn,
    long contentChecksum,
    Path stagedSst) {

  /** Total number of keys (puts and tombstones). */
  public long entryCount() {
    return docCount + tombstoneCount;
  }
}
