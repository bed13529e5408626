package dev.strata.engine.segment;

import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.index.CodecReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.FilterDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.store.NoLockFactory;
import org.apache.lucene.store.RateLimitedIndexOutput;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileWriter;

/**
 * Writes the merge of a contiguous run of segments as one new segment, in a job directory the
 * caller owns (see {@link SegmentStore#merge}).
 *
 * <h2>Documents (RocksDB)</h2>
 *
 * A k-way merge of the run's key ranges (one {@link RangeCursor} per segment, keys compared without
 * their segment prefix): for each key the version of the newest segment of the run wins. The winner
 * is written, re-prefixed with the new segment id, to an SST with {@link SstFileWriter}, unless
 * <ul>
 *   <li>it is a put whose Lucene document is dead in the head's {@link LivenessMap} — a segment
 *       newer than the run shadows it, so no manifest that will hold the merged segment can see
 *       it; or
 *   <li>it is a tombstone and the run ends at the head's oldest segment: nothing older remains for
 *       it to hide (RocksDB drops tombstones at the bottommost level for the same reason).
 * </ul>
 *
 * <h2>Text index (Lucene)</h2>
 *
 * {@code IndexWriter.addIndexes(CodecReader...)} over the run's leaves seen through the same
 * liveness ({@link LivenessFilteredReader}): shadowed documents, within the run or by newer
 * segments, are dropped, which is exactly the set of puts the SST keeps. The merger checks that the
 * two counts agree before it returns.
 *
 * <p>Every byte written is charged to an optional {@link WriteRateLimiter}. Not thread-safe; one
 * merger per job.
 */
final class SegmentMerger {
  private final SegmentStore store;
  private final Vfs vfs;
  private final EnvOptions envOptions;
  private final Options sstOptions;
  private final WriteRateLimiter limiter;
  private final BooleanSupplier cancelled;

  SegmentMerger(
      SegmentStore store,
      Vfs vfs,
      EnvOptions envOptions,
      Options sstOptions,
      WriteRateLimiter limiter,
      BooleanSupplier cancelled) {
    this.cancelled = cancelled;
    this.store = store;
    this.vfs = vfs;
    this.envOptions = envOptions;
    this.sstOptions = sstOptions;
    this.limiter = limiter;
  }

  /** One input segment's cursor and its Lucene lookup state. */
  private static final class Source {
    final int rank; // 0 = newest segment of the run
    final long segmentId;
    final RangeCursor cursor;
    final Bits liveDocs; // null = all live
    final TermsEnum keys; // null if the segment has no puts
    PostingsEnum postings;

    Source(int rank, long segmentId, RangeCursor cursor, Bits liveDocs, TermsEnum keys) {
      this.rank = rank;
      this.segmentId = segmentId;
      this.cursor = cursor;
      this.liveDocs = liveDocs;
      this.keys = keys;
    }

    /** True if the put at the cursor is live in the head (its Lucene document is). */
    boolean putIsLive(BytesRef suffix) throws IOException {
      if (liveDocs == null) {
        return true;
      }
      if (keys == null || !keys.seekExact(suffix)) {
        throw new SegmentCorruptionException(
            segmentId, "a put in RocksDB has no Lucene document (key " + suffix.utf8ToString() + ")");
      }
      postings = keys.postings(postings, PostingsEnum.NONE);
      int doc = postings.nextDoc();
      return doc != DocIdSetIterator.NO_MORE_DOCS && liveDocs.get(doc);
    }
  }

  /** Counts and checksum of the written SST. */
  private record SstStats(long puts, long tombstones, long minLsn, long maxLsn, long checksum, long bytes) {}

  /**
   * Writes {@code jobDir/docs.sst} and {@code jobDir/lucene/}, both durable when this returns.
   *
   * @param runNewestFirst the run's segments, held by the caller
   * @param liveness the head manifest's liveness (covers the run)
   */
  WrittenSegment merge(
      long segmentId,
      List<Segment> runNewestFirst,
      LivenessMap liveness,
      boolean dropTombstones,
      Path jobDir)
      throws IOException {
    Path sstPath = jobDir.resolve(SegmentLayout.STAGED_SST);
    SstStats sst;
    store.lockForRead(); // the SstFileWriter uses the store's native options
    try {
      sst = writeSst(segmentId, runNewestFirst, liveness, dropTombstones, sstPath);
    } finally {
      store.unlockForRead();
    }
    if (cancelled.getAsBoolean()) {
      throw new CancellationException(
          "merge into segment " + SegmentFormat.hex(segmentId) + " cancelled");
    }
    long luceneDocs = writeLucene(runNewestFirst, liveness, jobDir.resolve(SegmentLayout.LUCENE_DIR));
    if (luceneDocs != sst.puts) {
      throw new SegmentCorruptionException(
          segmentId,
          "merge kept " + sst.puts + " puts in RocksDB but " + luceneDocs + " Lucene documents");
    }
    vfs.syncDirectory(jobDir);
    long luceneBytes = 0;
    for (Path p : vfs.list(jobDir.resolve(SegmentLayout.LUCENE_DIR))) {
      luceneBytes += vfs.size(p);
    }
    boolean empty = sst.puts + sst.tombstones == 0;
    return new WrittenSegment(
        segmentId,
        sst.puts,
        sst.tombstones,
        sst.bytes + luceneBytes,
        empty ? 0 : sst.minLsn,
        empty ? 0 : sst.maxLsn,
        sst.checksum,
        empty ? null : sstPath);
  }

  private SstStats writeSst(
      long segmentId,
      List<Segment> run,
      LivenessMap liveness,
      boolean dropTombstones,
      Path sstPath)
      throws IOException {
    List<Source> sources = new ArrayList<>();
    PriorityQueue<Source> heap =
        new PriorityQueue<>(
            (a, b) -> {
              int c = compareSuffix(a.cursor.key(), b.cursor.key());
              return c != 0 ? c : Integer.compare(a.rank, b.rank);
            });
    CRC32C crc = new CRC32C();
    long puts = 0;
    long tombstones = 0;
    long minLsn = Long.MAX_VALUE;
    long maxLsn = Long.MIN_VALUE;
    SstFileWriter writer = null;
    byte[] prefix = SegmentFormat.segmentPrefix(segmentId);
    try {
      for (int i = 0; i < run.size(); i++) {
        Segment s = run.get(i);
        CodecReader leaf = s.leafReader();
        TermsEnum keys = null;
        if (leaf != null) {
          Terms t = leaf.terms(LuceneFields.KEY);
          keys = t == null ? null : t.iterator();
        }
        Source src =
            new Source(i, s.segmentId(), store.segmentEntries(s.segmentId()), liveness.liveDocs(s.segmentId()), keys);
        sources.add(src);
        if (src.cursor.next()) {
          heap.add(src);
        }
      }
      BytesRef suffix = new BytesRef();
      long pendingBytes = 0;
      long steps = 0;
      while (!heap.isEmpty()) {
        if ((++steps & 1023) == 0 && cancelled.getAsBoolean()) {
          throw new CancellationException("merge into segment " + SegmentFormat.hex(segmentId) + " cancelled");
        }
        Source winner = heap.poll();
        byte[] key = winner.cursor.key();
        byte[] value = winner.cursor.value();
        // Older versions of the same key lose: advance their cursors past it.
        while (!heap.isEmpty() && compareSuffix(heap.peek().cursor.key(), key) == 0) {
          Source loser = heap.poll();
          if (loser.cursor.next()) {
            heap.add(loser);
          }
        }
        boolean tombstone = value[0] == SegmentFormat.KIND_TOMBSTONE;
        boolean keep;
        if (tombstone) {
          keep = !dropTombstones;
        } else {
          suffix.bytes = key;
          suffix.offset = SegmentFormat.PREFIX_BYTES;
          suffix.length = key.length - SegmentFormat.PREFIX_BYTES;
          keep = winner.putIsLive(suffix);
        }
        if (keep) {
          byte[] newKey = Arrays.copyOf(prefix, key.length);
          System.arraycopy(key, SegmentFormat.PREFIX_BYTES, newKey, SegmentFormat.PREFIX_BYTES,
              key.length - SegmentFormat.PREFIX_BYTES);
          if (writer == null) {
            writer = new SstFileWriter(envOptions, sstOptions);
            writer.open(sstPath.toString());
          }
          writer.put(newKey, value);
          SegmentFormat.updateChecksum(crc, newKey, value);
          long lsn = SegmentFormat.getLong(value, 1);
          minLsn = Math.min(minLsn, lsn);
          maxLsn = Math.max(maxLsn, lsn);
          if (tombstone) {
            tombstones++;
          } else {
            puts++;
          }
          pendingBytes += newKey.length + value.length;
          if (limiter != null && pendingBytes >= limiter.getMinPauseCheckBytes()) {
            limiter.pause(pendingBytes);
            pendingBytes = 0;
          }
        }
        if (winner.cursor.next()) {
          heap.add(winner);
        }
      }
      long bytes = 0;
      if (writer != null) {
        writer.finish(); // fsyncs the file (SstFileWriter::Finish)
        bytes = writer.fileSize();
      }
      return new SstStats(puts, tombstones, minLsn, maxLsn, crc.getValue(), bytes);
    } catch (RocksDBException e) {
      throw new IOException("writing merged SST " + sstPath + " failed: " + e.getMessage(), e);
    } finally {
      if (writer != null) {
        writer.close();
      }
      for (Source s : sources) {
        s.cursor.close();
      }
    }
  }

  /** Merges the run's live Lucene documents into one committed segment; returns its maxDoc. */
  private long writeLucene(List<Segment> run, LivenessMap liveness, Path luceneDir) throws IOException {
    List<CodecReader> readers = new ArrayList<>();
    for (Segment s : run) {
      CodecReader leaf = s.leafReader();
      if (leaf == null) {
        continue;
      }
      Bits live = liveness.liveDocs(s.segmentId());
      readers.add(
          new LivenessFilteredReader(leaf, live, liveness.liveDocCount(s.segmentId(), leaf.maxDoc())));
    }
    TieredMergePolicy mergePolicy = new TieredMergePolicy();
    mergePolicy.setNoCFSRatio(1.0);
    IndexWriterConfig config =
        new IndexWriterConfig(new StandardAnalyzer()) // addIndexes analyzes nothing
            .setOpenMode(IndexWriterConfig.OpenMode.CREATE)
            .setUseCompoundFile(true)
            .setMergePolicy(mergePolicy)
            .setMergeScheduler(new SerialMergeScheduler())
            .setCommitOnClose(false);
    // No lock file: the job directory is created exclusively and owned by this job alone.
    try (Directory fs = FSDirectory.open(luceneDir, NoLockFactory.INSTANCE);
        Directory dir = limiter == null ? fs : new RateLimitedDirectory(fs, limiter)) {
      try (IndexWriter w = new IndexWriter(dir, config)) {
        if (!readers.isEmpty()) {
          w.addIndexes(readers.toArray(new CodecReader[0]));
        }
        w.commit();
        if (SegmentInfos.readLatestCommit(dir).size() > 1) {
          w.forceMerge(1);
          w.commit();
        }
        return w.getDocStats().maxDoc;
      }
    }
  }

  /** Compares two keys of different segments by their suffix (collection, NUL, id). */
  static int compareSuffix(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(
        a, SegmentFormat.PREFIX_BYTES, a.length, b, SegmentFormat.PREFIX_BYTES, b.length);
  }

  /** Charges every byte Lucene writes to the shared limiter. */
  private static final class RateLimitedDirectory extends FilterDirectory {
    private final WriteRateLimiter limiter;

    RateLimitedDirectory(Directory in, WriteRateLimiter limiter) {
      super(in);
      this.limiter = limiter;
    }

    @Override
    public IndexOutput createOutput(String name, IOContext context) throws IOException {
      return new RateLimitedIndexOutput(limiter, in.createOutput(name, context));
    }

    @Override
    public IndexOutput createTempOutput(String prefix, String suffix, IOContext context)
        throws IOException {
      return new RateLimitedIndexOutput(limiter, in.createTempOutput(prefix, suffix, context));
    }
  }
}
