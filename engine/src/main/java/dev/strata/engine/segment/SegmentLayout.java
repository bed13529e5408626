package dev.strata.engine.segment;

import java.nio.file.Path;

/**
 * Where a data directory keeps segment files. Immutable and thread-safe.
 *
 * <pre>
 * &lt;dataDir&gt;/rocksdb/                          the shared RocksDB instance (all segments' documents)
 * &lt;dataDir&gt;/segments/&lt;hex id&gt;/                one directory per segment (16 lowercase hex digits)
 * &lt;dataDir&gt;/segments/&lt;hex id&gt;/staging/docs.sst  the SST between write and ingest
 * &lt;dataDir&gt;/segments/&lt;hex id&gt;/lucene/         the segment's Lucene index (one Lucene segment)
 * </pre>
 */
record SegmentLayout(Path dataDir) {
  static final String ROCKSDB_DIR = "rocksdb";
  static final String SEGMENTS_DIR = "segments";
  static final String STAGING_DIR = "staging";
  static final String STAGED_SST = "docs.sst";
  static final String LUCENE_DIR = "lucene";

  Path rocksDbDir() {
    return dataDir.resolve(ROCKSDB_DIR);
  }

  Path segmentsDir() {
    return dataDir.resolve(SEGMENTS_DIR);
  }

  Path segmentDir(long segmentId) {
    return segmentsDir().resolve(SegmentFormat.hex(segmentId));
  }

  Path stagingDir(long segmentId) {
    return segmentDir(segmentId).resolve(STAGING_DIR);
  }

  Path stagedSst(long segmentId) {
    return stagingDir(segmentId).resolve(STAGED_SST);
  }

  Path luceneDir(long segmentId) {
    return segmentDir(segmentId).resolve(LUCENE_DIR);
  }
}
