package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.Names;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.NoLockFactory;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream phase of one segment: validates and sorts the entries, writes the staged SST and the
 * Lucene index, and makes both durable. Each put's SST value carries its document body as it
 * came (the bytes the Write encoded); documents are decoded only for Lucene, one at a time. Thread-safe: it keeps no per-write state, so several
 * segments are written at once from different threads (each call owns its files).
 *
 * <p>Mechanisms: {@link SstFileWriter} builds an SST from keys added in strictly increasing order
 * with the table options (bloom filter, compression) of the {@link Options} it is given, and fsyncs
 * it in {@code finish()} (RocksDB wiki, "Creating and Ingesting SST files"). Lucene's {@link
 * IndexWriter#commit()} fsyncs the index files and its directory ({@code FSDirectory.sync}, {@code
 * syncMetaData}); the two parent directory entries are synced here through the {@link Vfs}.
 */
final class SegmentWriter {
  private static final Logger log = LoggerFactory.getLogger(SegmentWriter.class);

  private final SegmentLayout layout;
  private final Vfs vfs;
  private final EnvOptions envOptions;
  private final Options sstOptions;
  private final double ramBufferMb;

  /**
   * @param sstOptions the RocksDB instance's own options, so the SST's table format, bloom filter
   *     and comparator match the DB it is ingested into; owned by the store
   */
  SegmentWriter(
      SegmentLayout layout,
      Vfs vfs,
      EnvOptions envOptions,
      Options sstOptions,
      double ramBufferMb) {
    this.layout = layout;
    this.vfs = vfs;
    this.envOptions = envOptions;
    this.sstOptions = sstOptions;
    this.ramBufferMb = ramBufferMb;
  }

  /** One entry with its encoded key; sorted by key before writing. */
  private record Keyed(byte[] key, SegmentEntry entry) {}

  /** See {@link SegmentStore#write}. */
  WrittenSegment write(
      long segmentId, List<SegmentEntry> entries, Map<String, CollectionSchema> schemas)
      throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    Map<String, CollectionSchema> used = validate(entries, schemas);
    Keyed[] sorted = sortByKey(segmentId, entries);

    Path dir = layout.segmentDir(segmentId);
    if (vfs.exists(dir)) {
      throw new FileAlreadyExistsException(
          dir.toString(), null, "segment " + SegmentFormat.hex(segmentId) + " already exists");
    }
    boolean done = false;
    try {
      vfs.createDirectories(layout.stagingDir(segmentId));
      long t0 = System.nanoTime();
      SstResult sst = sorted.length == 0 ? null : writeSst(layout.stagedSst(segmentId), sorted);
      long t1 = System.nanoTime();
      long luceneBytes = writeLucene(segmentId, sorted, used);
      long t2 = System.nanoTime();
      log.debug(
          "segment {}: {} keys, SST {} ms, Lucene {} ms",
          SegmentFormat.hex(segmentId),
          sorted.length,
          (t1 - t0) / 1_000_000,
          (t2 - t1) / 1_000_000);
      vfs.syncDirectory(layout.stagingDir(segmentId));
      vfs.syncDirectory(dir);
      vfs.syncDirectory(layout.segmentsDir());
      done = true;

      long docs = 0;
      long tombstones = 0;
      long minLsn = Long.MAX_VALUE;
      long maxLsn = Long.MIN_VALUE;
      for (Keyed k : sorted) {
        if (k.entry.version().isTombstone()) {
          tombstones++;
        } else {
          docs++;
        }
        minLsn = Math.min(minLsn, k.entry.version().lsn());
        maxLsn = Math.max(maxLsn, k.entry.version().lsn());
      }
      if (sorted.length == 0) {
        minLsn = 0;
        maxLsn = 0;
      }
      return new WrittenSegment(
          segmentId,
          docs,
          tombstones,
          (sst == null ? 0 : sst.sizeBytes) + luceneBytes,
          minLsn,
          maxLsn,
          sst == null ? new CRC32C().getValue() : sst.checksum,
          sst == null ? null : layout.stagedSst(segmentId));
    } finally {
      if (!done) {
        try {
          vfs.deleteRecursively(dir);
        } catch (IOException | RuntimeException e) {
          log.warn(
              "could not remove the partial segment {} after a failed write; recovery will: {}",
              SegmentFormat.hex(segmentId),
              e.toString());
        }
      }
    }
  }

  /**
   * Checks collection names, ids and every put against its schema before anything is written;
   * returns the schemas used.
   */
  private static Map<String, CollectionSchema> validate(
      List<SegmentEntry> entries, Map<String, CollectionSchema> schemas) {
    Map<String, CollectionSchema> used = new HashMap<>();
    Set<String> collections = new HashSet<>();
    for (SegmentEntry e : entries) {
      if (collections.add(e.collection())) {
        Names.requireValidCollection(e.collection());
      }
      Document.validateId(e.id());
      EncodedDocument doc = e.version().stored();
      if (doc == null) {
        continue;
      }
      CollectionSchema schema = used.get(e.collection());
      if (schema == null) {
        schema = schemas.get(e.collection());
        if (schema == null) {
          throw new IllegalArgumentException(
              "no schema given for collection '" + e.collection() + "'");
        }
        DocumentIndexer.validateSchema(schema);
        used.put(e.collection(), schema);
      }
      EncodedDocumentValidator.validate(doc, schema);
    }
    return used;
  }

  /** Encodes keys and sorts by them if the input is not already sorted; rejects duplicates. */
  private static Keyed[] sortByKey(long segmentId, List<SegmentEntry> entries) {
    Keyed[] out = new Keyed[entries.size()];
    boolean isSorted = true;
    for (int i = 0; i < out.length; i++) {
      SegmentEntry e = entries.get(i);
      out[i] = new Keyed(SegmentFormat.key(segmentId, e.collection(), e.id()), e);
      if (i > 0 && isSorted && SegmentFormat.compareKeys(out[i - 1].key, out[i].key) >= 0) {
        isSorted = false;
      }
    }
    if (!isSorted) {
      Arrays.sort(out, (a, b) -> SegmentFormat.compareKeys(a.key, b.key));
      for (int i = 1; i < out.length; i++) {
        if (SegmentFormat.compareKeys(out[i - 1].key, out[i].key) == 0) {
          throw new IllegalArgumentException(
              "duplicate key in segment: collection '"
                  + out[i].entry.collection()
                  + "', id '"
                  + out[i].entry.id()
                  + "'");
        }
      }
    }
    return out;
  }

  private record SstResult(long sizeBytes, long checksum) {}

  private SstResult writeSst(Path path, Keyed[] sorted) throws IOException {
    CRC32C crc = new CRC32C();
    try (SstFileWriter w = new SstFileWriter(envOptions, sstOptions)) {
      w.open(path.toString());
      for (Keyed k : sorted) {
        EncodedDocument doc = k.entry.version().stored();
        // The body as the Write encoded it: the value holds those bytes unchanged.
        byte[] value = SegmentFormat.value(k.entry.version().lsn(), doc == null ? null : doc.body());
        SegmentFormat.updateChecksum(crc, k.key, value);
        w.put(k.key, value);
      }
      w.finish(); // fsyncs the file (SstFileWriter::Finish)
      return new SstResult(w.fileSize(), crc.getValue());
    } catch (RocksDBException e) {
      throw new IOException("writing " + path + " failed: " + e.getMessage(), e);
    }
  }

  /** Writes the puts as exactly one committed Lucene segment; returns the index size in bytes. */
  private long writeLucene(long segmentId, Keyed[] sorted, Map<String, CollectionSchema> schemas)
      throws IOException {
    Path luceneDir = layout.luceneDir(segmentId);
    TieredMergePolicy mergePolicy = new TieredMergePolicy();
    mergePolicy.setNoCFSRatio(1.0); // a merged-down segment stays one compound file
    Analyzer analyzer = Analyzers.forCollections(schemas); // closed below; delegates are shared
    IndexWriterConfig config =
        new IndexWriterConfig(analyzer)
            .setOpenMode(IndexWriterConfig.OpenMode.CREATE)
            .setRAMBufferSizeMB(ramBufferMb)
            .setUseCompoundFile(true)
            .setMergePolicy(mergePolicy)
            // merges run in the writing thread: no unnamed background threads
            .setMergeScheduler(new SerialMergeScheduler())
            .setCommitOnClose(false);
    // No lock file: segment ids are unique and write() refuses an existing segment directory, so
    // no second writer can open this directory.
    try (analyzer;
        Directory dir = FSDirectory.open(luceneDir, NoLockFactory.INSTANCE)) {
      try (IndexWriter w = new IndexWriter(dir, config)) {
        for (Keyed k : sorted) {
          SegmentEntry e = k.entry;
          // Decoded here, one at a time: Lucene needs the fields.
          Document doc = e.version().document();
          if (doc != null) {
            byte[] suffix = Arrays.copyOfRange(k.key, SegmentFormat.PREFIX_BYTES, k.key.length);
            w.addDocument(
                DocumentIndexer.toLucene(e.collection(), doc, schemas.get(e.collection()), suffix));
          }
        }
        w.commit();
        if (SegmentInfos.readLatestCommit(dir).size() > 1) {
          // More than one RAM buffer's worth of documents: merge down to one Lucene segment.
          w.forceMerge(1);
          w.commit();
        }
      }
      long bytes = 0;
      for (String f : dir.listAll()) {
        bytes += dir.fileLength(f);
      }
      return bytes;
    }
  }
}
