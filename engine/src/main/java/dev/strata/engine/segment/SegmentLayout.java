package dev.strata.engine.segment;

import java.nio.file.Path;

/**
 * Where a data directory keeps segment files. Immutable and thread-safe.
 *
 * <pre>{@code
 * <dataDir>/rocksdb/                      the shared RocksDB (all segments' documents)
 * <dataDir>/segments/<hex>/               one directory per segment (16 lowercase hex digits)
 * <dataDir>/segments/<hex>/staging/docs.sst   the SST between write and ingest
 * <dataDir>/segments/<hex>/lucene/        the Lucene index (one Lucene segment)
 * <dataDir>/tmp/<kind>-<uuid>/            a compaction job's private working directory
 * }</pre>
 */
record SegmentLayout(Path dataDir) {
  static final String ROCKSDB_DIR = "rocksdb";
  static final String SEGMENTS_DIR = "segments";
  static final String STAGING_DIR = "staging";
  static final String STAGED_SST = "docs.sst";
  static final String LUCENE_DIR = "lucene";
  static final String TMP_DIR = "tmp";

  Path tmpDir() {
    return dataDir.resolve(TMP_DIR);
  }

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
