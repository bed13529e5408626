package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Names;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.apache.lucene.codecs.CodecUtil;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The immutable L1 segments of one data directory: their documents in one shared RocksDB instance
 * (one ingested SST per segment, keys prefixed by the segment id, see {@link SegmentFormat}) and
 * their Lucene indexes in per-segment directories ({@link SegmentLayout}).
 *
 * <h2>Life of a segment</h2>
 *
 * <ol>
 *   <li>{@link #write}: the stream phase writes {@code segments/<hex>/staging/docs.sst} and {@code
 *       segments/<hex>/lucene/}, both durable when it returns. Not yet readable.
 *   <li>{@link #ingest}: RocksDB ingests the SST (hard link + fsync + MANIFEST edit), durable when
 *       it returns; the staging directory is removed. Readable by {@link #get}/{@link #scan}.
 *   <li>The engine publishes a manifest naming the segment; readers {@link #acquire} handles.
 *   <li>{@link #markObsolete}: no retained manifest names it any more. Its files are deleted when
 *       the last handle is released. A written but unpublished segment is dropped with {@link
 *       #discard} instead.
 * </ol>
 *
 * A crash between any two steps leaves files that no manifest names; recovery removes them with
 * {@link #deleteOrphans} (see its Javadoc for every case).
 *
 * <h2>RocksDB configuration and durability</h2>
 *
 * Block-based tables with a 10-bit bloom filter (whole-key filtering, so {@link #get} skips the SST
 * of a segment lacking the key) and one shared LRU block cache of {@link
 * SegmentStoreOptions#blockCacheBytes()}; LZ4 compression. The same {@code Options} build the
 * staged SSTs, so their filters and format match (RocksDB wiki, "Creating and Ingesting SST
 * files"). Ingested data never passes through RocksDB's WAL or memtable, so the RocksDB WAL carries
 * nothing we need. Garbage collection removes a segment's keys with {@code DeleteFilesInRanges}
 * (wiki "Delete A Range Of Keys"): it drops the segment's SST through a MANIFEST edit that is
 * durable on its own and writes no tombstone. Only when keys remain outside such whole files (files
 * shared between segments, not produced by this store's normal operation) is a {@code DeleteRange}
 * tombstone written (wiki "DeleteRange"), <b>without the WAL</b>, and the memtable flushed without
 * waiting. If a crash loses that tombstone, the keys reappear as a range no manifest names and
 * {@link #deleteOrphans} at open deletes them again: redoing a GC delete at open is cheap and needs
 * no log.
 *
 * <h2>Thread-safety</h2>
 *
 * Every method may be called from any thread. {@link #write} runs concurrently for different
 * segments. Locks: {@code closeLock} (read-held by every RocksDB call, write-held by {@link
 * #close}) is taken before {@code handlesLock} (guards the reference counts); no lock is held
 * across file deletion or Lucene I/O except a segment's own monitor while its reader opens.
 */
public final class SegmentStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentStore.class);

  private final SegmentLayout layout;
  private final Vfs vfs;
  private final LRUCache blockCache;
  private final BloomFilter bloomFilter;
  private final Options dbOptions;
  private final EnvOptions envOptions;
  private final ReadOptions pointReadOptions;
  private final WriteOptions gcWriteOptions;
  private final IngestExternalFileOptions ingestOptions;
  private final RocksDB db;
  private final SegmentWriter writer;

  /** Read-held around every native RocksDB call; write-held to close. */
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();

  /** Guarded by closeLock (written under the write lock, read under either). */
  private boolean closed;

  private final Object handlesLock = new Object();

  /** Guarded by handlesLock. Segments with a reference count: acquired at least once. */
  private final Map<Long, SharedSegment> shared = new HashMap<>();

  private final Set<RangeCursor> openCursors = ConcurrentHashMap.newKeySet();

  private SegmentStore(
      SegmentLayout layout,
      Vfs vfs,
      LRUCache blockCache,
      BloomFilter bloomFilter,
      Options dbOptions,
      EnvOptions envOptions,
      RocksDB db,
      double luceneRamBufferMb) {
    this.layout = layout;
    this.vfs = vfs;
    this.blockCache = blockCache;
    this.bloomFilter = bloomFilter;
    this.dbOptions = dbOptions;
    this.envOptions = envOptions;
    this.db = db;
    this.pointReadOptions = new ReadOptions();
    this.gcWriteOptions = new WriteOptions().setDisableWAL(true);
    this.ingestOptions = new IngestExternalFileOptions().setMoveFiles(true);
    this.writer = new SegmentWriter(layout, vfs, envOptions, dbOptions, luceneRamBufferMb);
  }

  /**
   * Opens (creating if missing) the segment store of {@code dataDir}: RocksDB at {@code
   * <dataDir>/rocksdb}, segment directories under {@code <dataDir>/segments}. Does not delete
   * anything; call {@link #deleteOrphans} once the manifests are loaded.
   *
   * @throws IOException if a directory cannot be created or RocksDB does not open (e.g. another
   *     process holds its LOCK)
   */
  public static SegmentStore open(Path dataDir, SegmentStoreOptions options) throws IOException {
    SegmentLayout layout = new SegmentLayout(dataDir);
    Vfs vfs = options.vfs();
    vfs.createDirectories(layout.segmentsDir());
    vfs.createDirectories(layout.rocksDbDir());
    RocksDB.loadLibrary();
    LRUCache cache = new LRUCache(options.blockCacheBytes());
    BloomFilter bloom = new BloomFilter(10);
    Options dbOptions =
        new Options()
            .setCreateIfMissing(true)
            .setCompressionType(CompressionType.LZ4_COMPRESSION)
            .setBottommostCompressionType(CompressionType.LZ4_COMPRESSION)
            .setKeepLogFileNum(4)
            .setMaxLogFileSize(16L << 20)
            .setTableFormatConfig(
                new BlockBasedTableConfig().setFilterPolicy(bloom).setBlockCache(cache));
    EnvOptions envOptions = new EnvOptions();
    RocksDB db;
    try {
      db = RocksDB.open(dbOptions, layout.rocksDbDir().toString());
    } catch (RocksDBException e) {
      envOptions.close();
      dbOptions.close();
      bloom.close();
      cache.close();
      throw new IOException(
          "cannot open RocksDB at " + layout.rocksDbDir() + ": " + e.getMessage(), e);
    }
    return new SegmentStore(
        layout, vfs, cache, bloom, dbOptions, envOptions, db, options.luceneRamBufferMb());
  }

  /** The data directory this store was opened on. */
  public Path dataDir() {
    return layout.dataDir();
  }

  /** The directory of a segment: {@code <dataDir>/segments/<16 hex digits>}. */
  public Path segmentDir(long segmentId) {
    return layout.segmentDir(segmentId);
  }

  /** A segment id as it appears in paths and manifests: 16 lowercase hex digits. */
  public static String hex(long segmentId) {
    return SegmentFormat.hex(segmentId);
  }

  /**
   * Checks that {@code doc} can be indexed under {@code schema}; see {@link
   * DocumentIndexer#validate}. Call it when a Write arrives, before the WAL, so a bad document is
   * never partly applied.
   *
   * @throws IllegalArgumentException with a message naming the document, field and types
   */
  public static void validate(Document doc, CollectionSchema schema) {
    DocumentIndexer.validate(doc, schema);
  }

  // ---------------------------------------------------------------- write path

  /**
   * The stream phase: writes segment {@code segmentId} from {@code entries} (any order; sorted here
   * by key if needed) as a staged SST and a single-segment Lucene index of the puts. Nothing is
   * visible to reads until {@link #ingest}. Thread-safe; meant to run for several segments at once.
   * Every document is validated against its collection's schema before any file is created; on
   * failure the partial segment directory is removed.
   *
   * @param segmentId engine-allocated, unique across forks, non-negative
   * @param entries at most one per (collection, id)
   * @param schemas the schema of every collection that has a put in {@code entries}
   * @return the segment's stats, content checksum and staged SST path
   * @throws IllegalArgumentException if a document does not fit its schema, a schema is missing, a
   *     key repeats or the id is negative
   * @throws java.nio.file.FileAlreadyExistsException if the segment directory already exists
   * @throws IOException if a file cannot be written or synced
   */
  public WrittenSegment write(
      long segmentId, List<SegmentEntry> entries, Map<String, CollectionSchema> schemas)
      throws IOException {
    lockForRead();
    try {
      return writer.write(segmentId, entries, schemas);
    } finally {
      unlockForRead();
    }
  }

  /**
   * Ingests a written segment's SST into RocksDB (moving it: hard link, fsync of the file and the
   * DB directory, then a MANIFEST edit; RocksDB wiki "Creating and Ingesting SST files"); durable
   * when it returns. Then removes the staging directory (a failure there is only logged: the
   * segment is ingested, and {@link #deleteOrphans} removes the leftover). Ingestion is
   * all-or-nothing: on failure the staged SST stays, to be ingested again or discarded.
   *
   * @throws IOException if RocksDB refuses the file
   */
  public void ingest(WrittenSegment segment) throws IOException {
    long id = SegmentFormat.requireValidSegmentId(segment.segmentId());
    lockForRead();
    try {
      if (segment.stagedSst() != null) {
        try {
          db.ingestExternalFile(List.of(segment.stagedSst().toString()), ingestOptions);
        } catch (RocksDBException e) {
          throw new IOException(
              "ingesting segment "
                  + hex(id)
                  + " from "
                  + segment.stagedSst()
                  + " failed: "
                  + e.getMessage(),
              e);
        }
      }
    } finally {
      unlockForRead();
    }
    try {
      if (vfs.exists(layout.stagingDir(id))) { // a merged segment was never staged here
        vfs.deleteRecursively(layout.stagingDir(id));
      }
    } catch (IOException e) {
      // The segment is ingested and durable; a leftover staging directory is harmless and
      // deleteOrphans removes it at the next open.
      log.warn("segment {} ingested, but its staging directory remains: {}", hex(id), e.toString());
    }
  }

  /**
   * Removes a written-but-unpublished segment: staged SST, Lucene directory and, if it was
   * ingested, its key range. If handles to it are held, the deletion waits for the last release (as
   * with {@link #markObsolete}). Idempotent; a segment that does not exist is a no-op.
   *
   * @throws IOException if the files cannot be deleted now (recovery will retry)
   */
  public void discard(long segmentId) throws IOException {
    markObsolete(segmentId);
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Creates a job's private working directory, {@code <dataDir>/tmp/<kind>-<random UUID>}, with an
   * exclusive create: no two jobs can ever share one, and no one can guess it in advance (the seed
   * bug of issue #5 was concurrent merges deleting each other's temp directories). The job that
   * created it is the only one that deletes it ({@link Vfs#deleteRecursively}); leftovers of a
   * crash are removed by {@link #deleteJobDirectories} at open.
   *
   * @throws IOException if it cannot be created (a name collision included)
   */
  public Path createJobDirectory(String kind) throws IOException {
    vfs.createDirectories(layout.tmpDir());
    Path dir = layout.tmpDir().resolve(kind + "-" + java.util.UUID.randomUUID());
    vfs.createDirectory(dir);
    return dir;
  }

  /**
   * Deletes every job directory: call at open only, before any job can start.
   *
   * @return how many were removed
   * @throws IOException if one cannot be deleted
   */
  public int deleteJobDirectories() throws IOException {
    if (!vfs.exists(layout.tmpDir())) {
      return 0;
    }
    List<Path> leftovers = vfs.list(layout.tmpDir());
    for (Path p : leftovers) {
      vfs.deleteRecursively(p);
    }
    if (!leftovers.isEmpty()) {
      vfs.syncDirectory(layout.tmpDir());
      log.info("deleted {} job directories left by a crash: {}", leftovers.size(), leftovers);
    }
    return leftovers.size();
  }

  /**
   * Writes segment {@code segmentId} as the merge of {@code runNewestFirst} (see {@link
   * SegmentMerger} for the rules: newest version wins, shadowed puts dropped, tombstones dropped
   * when {@code dropTombstones}), working in {@code jobDir}; then moves the Lucene index to the
   * segment's directory. The SST stays in {@code jobDir} until {@link #ingest}. On failure nothing
   * of the new segment is left outside {@code jobDir} except, possibly, its segment directory,
   * which {@link #discard} removes (as does the orphan sweep after a crash).
   *
   * @param runNewestFirst a contiguous run of a head's segments, held by the caller
   * @param liveness the liveness map of that head
   * @param limiter charged with every byte written, or null for no limit
   * @param cancelled polled between keys; when it turns true the merge stops with a {@link
   *     java.util.concurrent.CancellationException} (engine shutdown)
   * @throws java.nio.file.FileAlreadyExistsException if the segment directory exists
   * @throws IOException if reading the inputs or writing the output fails
   */
  public WrittenSegment merge(
      long segmentId,
      List<Segment> runNewestFirst,
      LivenessMap liveness,
      boolean dropTombstones,
      Path jobDir,
      WriteRateLimiter limiter,
      java.util.function.BooleanSupplier cancelled)
      throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    // The merger takes the read lock only around its RocksDB work (cursors, SstFileWriter): the
    // Lucene half runs without it, so a close never waits for a long index merge.
    WrittenSegment written =
        new SegmentMerger(this, vfs, envOptions, dbOptions, limiter, cancelled)
            .merge(segmentId, runNewestFirst, liveness, dropTombstones, jobDir);
    Path segDir = layout.segmentDir(segmentId);
    vfs.createDirectory(segDir);
    vfs.rename(jobDir.resolve(SegmentLayout.LUCENE_DIR), layout.luceneDir(segmentId));
    vfs.syncDirectory(segDir);
    vfs.syncDirectory(jobDir);
    vfs.syncDirectory(layout.segmentsDir());
    return written;
  }

  // ---------------------------------------------------------------- reads

  /**
   * The version of {@code id} in {@code collection} stored in segment {@code segmentId}: a
   * document, a tombstone (document null), or null if the segment has no such key. One RocksDB
   * point lookup through the bloom filters with a shared {@code ReadOptions}; the only allocations
   * are the key and the result. Thread-safe. The caller makes sure the segment is live (holds a
   * handle or a manifest naming it); a deleted segment reads as empty.
   *
   * @throws UncheckedIOException if RocksDB reports an error, or wrapping a {@link
   *     SegmentCorruptionException} if the stored value does not decode
   * @throws IllegalStateException if the store is closed
   */
  public DocumentVersion get(long segmentId, String collection, String id) {
    byte[] key = SegmentFormat.key(segmentId, collection, id);
    byte[] value;
    lockForRead();
    try {
      value = db.get(pointReadOptions, key);
    } catch (RocksDBException e) {
      throw new UncheckedIOException(
          new IOException(
              "get "
                  + collection
                  + "/"
                  + id
                  + " in segment "
                  + hex(segmentId)
                  + " failed: "
                  + e.getMessage(),
              e));
    } finally {
      unlockForRead();
    }
    if (value == null) {
      return null;
    }
    try {
      return SegmentFormat.decodeValue(segmentId, id, value);
    } catch (SegmentCorruptionException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The entries (puts and tombstones) of {@code collection} in segment {@code segmentId} with id
   * {@code >= startIdInclusive}, in id order (unsigned UTF-8 byte order, {@link SegmentFormat}),
   * from a RocksDB iterator bounded to the collection's key range. Close the iterator when done.
   * The iterator reports I/O errors and corrupt values as {@link UncheckedIOException}.
   *
   * @param startIdInclusive first id to return, or null/"" for the start of the collection
   * @throws IllegalArgumentException if the collection name is invalid
   */
  public CloseableIterator<SegmentEntry> scan(
      long segmentId, String collection, String startIdInclusive) {
    Names.requireValidCollection(collection);
    byte[] lower =
        startIdInclusive == null || startIdInclusive.isEmpty()
            ? SegmentFormat.collectionStart(segmentId, collection)
            : SegmentFormat.key(segmentId, collection, startIdInclusive);
    RangeCursor cursor =
        openCursor(lower, SegmentFormat.collectionEnd(segmentId, collection), true, true);
    return new EntryIterator(segmentId, collection, cursor);
  }

  /**
   * A cursor over every key of a segment (all collections), without values and without filling the
   * block cache. For liveness computation. The caller closes it.
   */
  RangeCursor segmentKeys(long segmentId) {
    return openCursor(
        SegmentFormat.segmentPrefix(segmentId),
        SegmentFormat.segmentRangeEnd(segmentId),
        false,
        false);
  }

  /** A cursor over every key and value of a segment, without filling the block cache. */
  RangeCursor segmentEntries(long segmentId) {
    return openCursor(
        SegmentFormat.segmentPrefix(segmentId),
        SegmentFormat.segmentRangeEnd(segmentId),
        false,
        true);
  }

  private RangeCursor openCursor(byte[] lower, byte[] upper, boolean fillCache, boolean values) {
    lockForRead();
    try {
      RangeCursor c = new RangeCursor(this, db, lower, upper, fillCache, values);
      openCursors.add(c);
      return c;
    } finally {
      unlockForRead();
    }
  }

  void unregister(RangeCursor cursor) {
    openCursors.remove(cursor);
  }

  // ---------------------------------------------------------------- handles and GC

  /**
   * A counted handle to segment {@code segmentId}; its Lucene reader is opened on the first acquire
   * and shared by all handles. While any handle is held the segment's files stay, even after {@link
   * #markObsolete}. Thread-safe.
   *
   * @throws IllegalStateException if the segment was marked obsolete or the store is closed
   * @throws IOException if its Lucene index cannot be opened (e.g. the segment does not exist)
   */
  public Segment acquire(long segmentId) throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    SharedSegment s;
    boolean created = false;
    lockForRead();
    try {
      synchronized (handlesLock) {
        s = shared.get(segmentId);
        if (s == null) {
          s = new SharedSegment(segmentId);
          shared.put(segmentId, s);
          created = true;
        } else if (s.obsolete) {
          throw new IllegalStateException("segment " + hex(segmentId) + " is obsolete");
        }
        s.refs++;
      }
    } finally {
      unlockForRead();
    }
    try {
      Path luceneDir = layout.luceneDir(segmentId);
      if (!vfs.exists(luceneDir)) {
        // checked first: FSDirectory.open would create the directory
        throw new NoSuchFileException(
            luceneDir.toString(), null, "segment " + hex(segmentId) + " has no Lucene index");
      }
      s.ensureOpen(luceneDir);
    } catch (IOException | RuntimeException e) {
      synchronized (handlesLock) {
        s.refs--;
        if (created && s.refs == 1 && !s.obsolete && shared.get(segmentId) == s) {
          shared.remove(segmentId); // forget a segment that never opened; files untouched
        }
      }
      throw e;
    }
    return new Segment(this, s);
  }

  /** Called by {@link Segment#release()}. */
  void release(SharedSegment s) {
    boolean last;
    synchronized (handlesLock) {
      s.refs--;
      last = s.refs == 0;
      assert !last || s.obsolete : "the live reference is only dropped by markObsolete";
    }
    if (last) {
      try {
        deleteObsolete(s);
      } catch (IOException | RuntimeException e) {
        log.warn(
            "could not delete obsolete segment {}; recovery's orphan sweep will: {}",
            hex(s.segmentId),
            e.toString());
      }
    }
  }

  /**
   * Says that no retained manifest refers to segment {@code segmentId}: the store drops its live
   * reference, no new handle can be acquired, and the files (RocksDB key range via {@code
   * DeleteRange} + {@code DeleteFilesInRanges}, the segment directory) are deleted when the last
   * handle is released — now, in this thread, if none is held. Idempotent. Thread-safe.
   *
   * @throws IOException if the deletion runs now and fails (recovery's orphan sweep retries it)
   */
  public void markObsolete(long segmentId) throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    SharedSegment s;
    boolean deleteNow;
    synchronized (handlesLock) {
      s = shared.get(segmentId);
      if (s == null) {
        s = new SharedSegment(segmentId);
        s.refs = 0;
        s.obsolete = true;
        shared.put(segmentId, s); // blocks acquire() while the files are being deleted
        deleteNow = true;
      } else if (s.obsolete) {
        return;
      } else {
        s.obsolete = true;
        s.refs--;
        deleteNow = s.refs == 0;
      }
    }
    if (deleteNow) {
      deleteObsolete(s);
    }
  }

  /** Closes the reader and deletes the files of a segment with no references left. */
  private void deleteObsolete(SharedSegment s) throws IOException {
    try {
      s.closeReader();
      deleteFiles(s.segmentId);
    } finally {
      synchronized (handlesLock) {
        shared.remove(s.segmentId, s);
      }
    }
  }

  /**
   * Deletes the key range first, then the directory: a crash in between leaves a directory without
   * keys, which the directory listing of {@link #deleteOrphans} finds.
   */
  private void deleteFiles(long segmentId) throws IOException {
    deleteKeyRange(segmentId);
    vfs.deleteRecursively(layout.segmentDir(segmentId));
    vfs.syncDirectory(layout.segmentsDir());
    log.debug("deleted segment {}", hex(segmentId));
  }

  /**
   * Removes a segment's key range. {@code DeleteFilesInRanges} first: it drops every SST lying
   * wholly inside the range through a MANIFEST edit (durable, no tombstone), which is every file in
   * normal operation since each segment is ingested as its own SST. Only if keys remain (an SST
   * shared with neighbouring segments, e.g. after a forced compaction) is a {@code DeleteRange}
   * tombstone written — without the WAL, then flushed without waiting, so range tombstones do not
   * pile up in the memtable and slow every read (RocksDB wiki "DeleteRange": tombstones are checked
   * on reads until compacted away). A crash before that flush loses the tombstone; the keys then
   * reappear as an orphan range and {@link #deleteOrphans} deletes them again.
   */
  private void deleteKeyRange(long segmentId) throws IOException {
    byte[] begin = SegmentFormat.segmentPrefix(segmentId);
    byte[] end = SegmentFormat.segmentRangeEnd(segmentId);
    lockForRead();
    try {
      db.deleteFilesInRanges(null, List.of(begin, end), false);
      if (hasKeyInLocked(begin, end)) {
        db.deleteRange(gcWriteOptions, begin, end);
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(false)) {
          db.flush(flush);
        }
      }
    } catch (RocksDBException e) {
      throw new IOException(
          "deleting the key range of segment " + hex(segmentId) + " failed: " + e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /** True if RocksDB has a key in {@code [begin, end)}. Caller holds the read lock. */
  private boolean hasKeyInLocked(byte[] begin, byte[] end) throws RocksDBException {
    try (Slice upper = new Slice(end);
        ReadOptions ro = new ReadOptions().setIterateUpperBound(upper).setFillCache(false);
        RocksIterator it = db.newIterator(ro)) {
      it.seek(begin);
      if (it.isValid()) {
        return true;
      }
      it.status();
      return false;
    }
  }

  /**
   * Rewrites every SST, bottommost level included, so that neighbouring segments share files: a
   * test hook for the {@code DeleteRange} fallback of {@link #deleteKeyRange}.
   */
  void compactAllForTest() throws IOException {
    lockForRead();
    try (CompactRangeOptions o =
        new CompactRangeOptions()
            .setBottommostLevelCompaction(CompactRangeOptions.BottommostLevelCompaction.kForce)) {
      db.compactRange(null, null, null, o);
    } catch (RocksDBException e) {
      throw new IOException(e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /** Number of handles currently held on a segment (not counting the store's live reference). */
  public int handleCount(long segmentId) {
    synchronized (handlesLock) {
      SharedSegment s = shared.get(segmentId);
      if (s == null) {
        return 0;
      }
      return s.obsolete ? s.refs : s.refs - 1;
    }
  }

  /**
   * The filter policy and compression of every live SST, as "policy/compression" strings keyed by
   * file name: shows that ingested files carry their bloom filters (for tests and diagnostics).
   *
   * @throws IOException if RocksDB reports an error
   */
  Map<String, String> tableFilterPolicies() throws IOException {
    lockForRead();
    try {
      Map<String, String> out = new java.util.TreeMap<>();
      for (Map.Entry<String, org.rocksdb.TableProperties> e :
          db.getPropertiesOfAllTables().entrySet()) {
        out.put(
            e.getKey(),
            e.getValue().getFilterPolicyName() + "/" + e.getValue().getCompressionName());
      }
      return out;
    } catch (RocksDBException e) {
      throw new IOException("reading table properties failed: " + e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  // ---------------------------------------------------------------- recovery and verify

  /**
   * Segment ids that have a directory under {@code <dataDir>/segments}, from its listing (names
   * that are not 16 lowercase hex digits are ignored). Sorted.
   *
   * @throws IOException if the directory cannot be listed
   */
  public SortedSet<Long> segmentIdsOnDisk() throws IOException {
    SortedSet<Long> ids = new TreeSet<>();
    List<Path> children;
    try {
      children = vfs.list(layout.segmentsDir());
    } catch (NoSuchFileException e) {
      return ids;
    }
    for (Path p : children) {
      long id = SegmentFormat.parseHex(p.getFileName().toString());
      if (id >= 0) {
        ids.add(id);
      }
    }
    return ids;
  }

  /**
   * Segment ids that have at least one key in RocksDB. Reads one key per segment: after each prefix
   * found it seeks straight to the next prefix, so the cost is one seek per segment, not one step
   * per key. Sorted.
   *
   * @throws IOException if RocksDB reports an error
   */
  public SortedSet<Long> segmentIdsInRocksDb() throws IOException {
    SortedSet<Long> ids = new TreeSet<>();
    byte[] lower = new byte[SegmentFormat.PREFIX_BYTES];
    byte[] upper = SegmentFormat.segmentPrefix(Long.MIN_VALUE); // 0x80 00..: past every id >= 0
    try (RangeCursor c = openCursor(lower, upper, false, false)) {
      boolean valid = c.next();
      while (valid) {
        byte[] key = c.key();
        if (key.length < SegmentFormat.PREFIX_BYTES) {
          valid = c.next(); // not ours; cannot happen with this store's writes
          continue;
        }
        long id = SegmentFormat.segmentIdOf(key);
        ids.add(id);
        if (id == Long.MAX_VALUE) {
          break;
        }
        valid = c.seek(SegmentFormat.segmentRangeEnd(id));
      }
    }
    return ids;
  }

  /**
   * Deletes every segment not in {@code keep}: for recovery, after the manifests are loaded and
   * before any flush runs (a segment being written or ingested but not yet published is not in any
   * manifest and would be deleted). Covers every state a crash can leave:
   *
   * <ul>
   *   <li>crash during {@link #write}: a partial directory (staging SST and/or Lucene files), no
   *       keys → the directory is deleted;
   *   <li>crash after {@link #ingest} but before publication: directory + key range → both go;
   *   <li>crash inside ingest after RocksDB's MANIFEST edit but before the staging cleanup: same,
   *       and for a kept segment, only the leftover {@code staging/} directory is removed;
   *   <li>crash during a GC deletion ({@link #markObsolete}/{@link #discard}), which deletes the
   *       key range before the directory: a directory without keys, or — if the un-logged range
   *       tombstone was lost — keys whose SST was already dropped or not; found by the directory
   *       listing and by {@link #segmentIdsInRocksDb()} (keys without a directory).
   * </ul>
   *
   * Segments with a held handle are never touched (reported in {@link
   * OrphanCleanup#skippedInUse()}); an orphan that was acquired and released is retired like {@link
   * #markObsolete} would.
   *
   * @throws IOException if a listing or a deletion fails
   */
  public OrphanCleanup deleteOrphans(Set<Long> keep) throws IOException {
    SortedSet<Long> dirs = segmentIdsOnDisk();
    SortedSet<Long> ranges = segmentIdsInRocksDb();
    SortedSet<Long> dirsRemoved = new TreeSet<>();
    SortedSet<Long> rangesRemoved = new TreeSet<>();
    SortedSet<Long> stagingRemoved = new TreeSet<>();
    SortedSet<Long> skipped = new TreeSet<>();
    SortedSet<Long> candidates = new TreeSet<>(dirs);
    candidates.addAll(ranges);
    for (long id : candidates) {
      if (keep.contains(id)) {
        if (dirs.contains(id) && vfs.exists(layout.stagingDir(id))) {
          vfs.deleteRecursively(layout.stagingDir(id));
          stagingRemoved.add(id);
        }
        continue;
      }
      SharedSegment state;
      synchronized (handlesLock) {
        state = shared.get(id);
        if (state != null) {
          int held = state.obsolete ? state.refs : state.refs - 1;
          if (held > 0) {
            skipped.add(id);
            continue;
          }
          state.obsolete = true; // no handle: retire it like markObsolete would
          state.refs = 0;
        }
      }
      try {
        if (state != null) {
          state.closeReader();
        }
        if (ranges.contains(id)) {
          deleteKeyRange(id);
          rangesRemoved.add(id);
        }
        if (dirs.contains(id)) {
          vfs.deleteRecursively(layout.segmentDir(id));
          dirsRemoved.add(id);
        }
      } finally {
        if (state != null) {
          synchronized (handlesLock) {
            shared.remove(id, state);
          }
        }
      }
    }
    if (!dirsRemoved.isEmpty()) {
      vfs.syncDirectory(layout.segmentsDir());
    }
    OrphanCleanup result = new OrphanCleanup(dirsRemoved, rangesRemoved, stagingRemoved, skipped);
    if (!result.isEmpty() || !skipped.isEmpty()) {
      log.info(
          "orphan segments removed: directories {}, key ranges {}, staging dirs {}, skipped in use"
              + " {}",
          hexAll(dirsRemoved),
          hexAll(rangesRemoved),
          hexAll(stagingRemoved),
          hexAll(skipped));
    }
    return result;
  }

  private static List<String> hexAll(Set<Long> ids) {
    List<String> out = new ArrayList<>(ids.size());
    for (long id : ids) {
      out.add(hex(id));
    }
    return out;
  }

  /**
   * True if {@link #check} finds no problem.
   *
   * @throws IOException if RocksDB cannot be read at all
   */
  public boolean verify(long segmentId, long expectedContentChecksum) throws IOException {
    return check(segmentId, expectedContentChecksum).isEmpty();
  }

  /**
   * Checks a segment end to end: recomputes the content checksum from the RocksDB key range
   * (decoding every value) and compares it with the manifest's (the low 32 bits: a manifest may
   * store the CRC32C as an int); opens the Lucene index (the {@code segments_N} checksum is
   * verified on read), verifies the CRC footer of every file of the commit with {@link
   * CodecUtil#checksumEntireFile}, checks there is at most one Lucene segment and that its document
   * count equals the number of puts. Safe while the segment is in use.
   *
   * @return a description of every problem found, or empty if the segment is sound
   * @throws IOException if RocksDB cannot be read at all
   */
  public Optional<String> check(long segmentId, long expectedContentChecksum) throws IOException {
    return SegmentChecker.check(
        this, layout.luceneDir(segmentId), vfs, segmentId, expectedContentChecksum);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Closes every open cursor and shared Lucene reader, then RocksDB (which flushes its memtable,
   * i.e. pending GC range tombstones). Handles still held become unusable. Waits for in-flight
   * RocksDB calls and segment writes. Idempotent.
   */
  @Override
  public void close() throws IOException {
    closeLock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      for (RangeCursor c : openCursors) {
        c.closeNative();
      }
      openCursors.clear();
      IOException first = null;
      synchronized (handlesLock) {
        for (SharedSegment s : shared.values()) {
          int held = s.obsolete ? s.refs : s.refs - 1;
          if (held > 0) {
            log.warn("closing segment store with {} handle(s) held on {}", held, hex(s.segmentId));
          }
          try {
            s.closeReader();
          } catch (IOException e) {
            if (first == null) {
              first = e;
            }
          }
        }
        shared.clear();
      }
      try {
        db.closeE();
      } catch (RocksDBException e) {
        if (first == null) {
          first = new IOException("closing RocksDB failed: " + e.getMessage(), e);
        }
      }
      ingestOptions.close();
      gcWriteOptions.close();
      pointReadOptions.close();
      envOptions.close();
      dbOptions.close();
      bloomFilter.close();
      blockCache.close();
      if (first != null) {
        throw first;
      }
    } finally {
      closeLock.writeLock().unlock();
    }
  }

  /** Takes the read side of the close lock; throws if the store is closed. */
  void lockForRead() {
    closeLock.readLock().lock();
    if (closed) {
      closeLock.readLock().unlock();
      throw new IllegalStateException("segment store " + layout.dataDir() + " is closed");
    }
  }

  void unlockForRead() {
    closeLock.readLock().unlock();
  }
}
