package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.Names;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.function.BooleanSupplier;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The immutable L1 segments of one data directory: their documents in one shared RocksDB instance
 * (one ingested SST per segment, keys prefixed by the segment id, see {@link SegmentFormat}) and
 * their Lucene indexes in per-segment directories ({@link SegmentLayout}). A facade over:
 *
 * <ul>
 *   <li>{@link SegmentDb}: the RocksDB instance, its options and close lock;
 *   <li>{@link SegmentWriter} and {@link SegmentMerger}: a flush's and a compaction's output;
 *   <li>{@link SegmentHandles}: reference counts, as Lucene's {@code IndexFileDeleter};
 *   <li>{@link ObsoleteSegmentDeleter}: deletes obsolete segments on its own thread;
 *   <li>{@link OrphanSweeper}: recovery's sweep; {@link JobDirectories}: compaction workspaces.
 * </ul>
 *
 * <h2>Life of a segment</h2>
 *
 * <ol>
 *   <li>{@link #write}: the stream phase writes {@code segments/<hex>/staging/docs.sst} and {@code
 *       segments/<hex>/lucene/}, both durable when it returns. Not yet readable.
 *   <li>{@link #ingest}: RocksDB ingests the SST (hard link + fsync + MANIFEST edit), durable when
 *       it returns; the staging directory is removed. Readable by {@link #get}/{@link #scan}.
 *   <li>The engine publishes a manifest naming the segment; readers {@link #acquire} handles.
 *   <li>{@link #markObsolete}: no retained manifest names it any more. Its files are deleted in
 *       the background once the last handle is released. A written but unpublished segment is
 *       dropped with {@link #discard} instead.
 * </ol>
 *
 * A crash between any two steps leaves files that no manifest names; recovery removes them with
 * {@link #deleteOrphans}.
 *
 * <p>Thread-safe: every method may be called from any thread; {@link #write} runs concurrently for
 * different segments. Lock order: the {@link SegmentDb} close lock, then the {@link SegmentHandles}
 * lock; no lock is held across file deletion or Lucene I/O except a segment's own monitor while its
 * reader opens.
 */
public final class SegmentStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentStore.class);

  private final SegmentLayout layout;
  private final Vfs vfs;
  private final SegmentDb db;
  private final SegmentWriter writer;
  private final SegmentHandles handles;
  private final OrphanSweeper orphans;
  private final JobDirectories jobs;

  private SegmentStore(SegmentLayout layout, Vfs vfs, SegmentDb db, double luceneRamBufferMb, SegmentCacheOptions cache) {
    this.layout = layout;
    this.vfs = vfs;
    this.db = db;
    this.writer = new SegmentWriter(layout, vfs, db.envOptions(), db.options(), luceneRamBufferMb);
    this.handles = new SegmentHandles(layout, vfs, db, ObsoleteSegmentDeleter.DEFAULT_CAPACITY, cache);
    this.orphans = new OrphanSweeper(layout, vfs, db, handles);
    this.jobs = new JobDirectories(layout.tmpDir(), vfs);
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
    SegmentDb db = SegmentDb.open(layout.rocksDbDir(), options.blockCacheBytes());
    return new SegmentStore(layout, vfs, db, options.luceneRamBufferMb(), options.cache());
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
   * DocumentIndexer#validate}.
   *
   * @throws IllegalArgumentException with a message naming the document, field and types
   */
  public static void validate(Document doc, CollectionSchema schema) {
    DocumentIndexer.validate(doc, schema);
  }

  /**
   * Checks that a document in its stored form decodes and can be indexed under {@code schema}, by
   * scanning its bytes ({@link EncodedDocumentValidator}). Call it when a Write arrives, before the
   * WAL, so a bad document is never partly applied and a flush never meets one.
   *
   * @throws IllegalArgumentException with a message naming the document, field and problem
   */
  public static void validate(EncodedDocument doc, CollectionSchema schema) {
    EncodedDocumentValidator.validate(doc, schema);
  }

  // Write path.

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
  public WrittenSegment write(long segmentId, List<SegmentEntry> entries, Map<String, CollectionSchema> schemas)
      throws IOException {
    db.lockForRead();
    try {
      return writer.write(segmentId, entries, schemas);
    } finally {
      db.unlockForRead();
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
    if (segment.stagedSst() != null) {
      db.ingest(id, segment.stagedSst());
    }
    try {
      if (vfs.exists(layout.stagingDir(id))) { // a merged segment was never staged here
        vfs.deleteRecursively(layout.stagingDir(id));
      }
    } catch (IOException e) {
      log.warn("segment {} ingested, but its staging directory remains: {}", hex(id), e.toString());
    }
  }

  /**
   * Removes a written-but-unpublished segment: staged SST, Lucene directory and, if it was
   * ingested, its key range — in the background, after the last handle is released (as {@link
   * #markObsolete}). Idempotent; a segment that does not exist is a no-op.
   */
  public void discard(long segmentId) throws IOException {
    markObsolete(segmentId);
  }

  // Object-storage transfer.

  /**
   * Writes segment {@code segmentId}'s rows into a new, self-contained SST at {@code target} (keys
   * keep their segment-id prefix), for upload to object storage. The segment must stay referenced
   * (or held) while this runs. Thread-safe.
   *
   * @return the rows' content checksum (as in the manifest's {@code SegmentRef.checksum}), or -1 if
   *     the segment has no rows (nothing is written then)
   * @throws IOException if the file cannot be written
   */
  public long exportSst(long segmentId, Path target) throws IOException {
    return SegmentTransfer.exportSst(this, db, SegmentFormat.requireValidSegmentId(segmentId), target);
  }

  /**
   * Where a restored segment's SST goes before {@link #ingest}: {@code segments/<hex>/staging/docs.sst}.
   */
  public Path stagedSstPath(long segmentId) {
    return layout.stagedSst(segmentId);
  }

  /** A segment's Lucene index directory: {@code segments/<hex>/lucene}. */
  public Path luceneDir(long segmentId) {
    return layout.luceneDir(segmentId);
  }

  // Compaction.

  /**
   * Creates a job's private working directory, {@code <dataDir>/tmp/<kind>-<random UUID>}, with an
   * exclusive create ({@link JobDirectories}). The job that created it is the only one that
   * deletes it ({@link Vfs#deleteRecursively}); leftovers of a crash are removed by {@link
   * #deleteJobDirectories} at open.
   *
   * @throws IOException if it cannot be created (a name collision included)
   */
  public Path createJobDirectory(String kind) throws IOException {
    return jobs.create(kind);
  }

  /**
   * Deletes every job directory: call at open only, before any job can start.
   *
   * @return how many were removed
   * @throws IOException if one cannot be deleted
   */
  public int deleteJobDirectories() throws IOException {
    return jobs.deleteAll();
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
      BooleanSupplier cancelled)
      throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    // The merger takes the read lock only around its RocksDB work (cursors, SstFileWriter): the
    // Lucene half runs without it, so a close never waits for a long index merge.
    WrittenSegment written =
        new SegmentMerger(this, vfs, db.envOptions(), db.options(), limiter, cancelled)
            .merge(segmentId, runNewestFirst, liveness, dropTombstones, jobDir);
    Path segDir = layout.segmentDir(segmentId);
    vfs.createDirectory(segDir);
    vfs.rename(jobDir.resolve(SegmentLayout.LUCENE_DIR), layout.luceneDir(segmentId));
    vfs.syncDirectory(segDir);
    vfs.syncDirectory(jobDir);
    vfs.syncDirectory(layout.segmentsDir());
    return written;
  }

  // Reads.

  /**
   * The version of {@code id} in {@code collection} stored in segment {@code segmentId}: a
   * document, a tombstone (document null), or null if the segment has no such key. One RocksDB
   * point lookup through the bloom filters. Thread-safe. The caller makes sure the segment is live
   * (holds a handle or a manifest naming it); a deleted segment reads as empty.
   *
   * @throws UncheckedIOException if RocksDB reports an error, or wrapping a {@link
   *     SegmentCorruptionException} if the stored value does not decode
   * @throws IllegalStateException if the store is closed
   */
  public DocumentVersion get(long segmentId, String collection, String id) {
    byte[] value;
    try {
      value = db.get(SegmentFormat.key(segmentId, collection, id));
    } catch (RocksDBException e) {
      throw readFailed(collection, id, segmentId, e);
    }
    return value == null ? null : decoded(segmentId, id, value);
  }

  /**
   * Looks {@code ids} up newest segment first, in one RocksDB {@code MultiGet} per segment for the
   * ids still unresolved: fills every null slot of {@code out} whose id one of the segments holds
   * (a put or a tombstone) and leaves the others null. Slots already set are not looked up. The
   * caller holds the segments (a snapshot reference). Thread-safe.
   *
   * @param newestFirst segment ids, newest first
   * @param out one slot per id, same order
   * @throws UncheckedIOException if RocksDB reports an error or a value's header is invalid
   */
  public void multiGet(List<Long> newestFirst, String collection, List<String> ids, DocumentVersion[] out) {
    int pending = 0;
    for (DocumentVersion v : out) {
      pending += v == null ? 1 : 0;
    }
    if (pending == 0 || newestFirst.isEmpty()) {
      return;
    }
    // One key array per unresolved id; only its 8-byte segment prefix changes between rounds.
    int[] slots = new int[pending];
    List<byte[]> keys = new ArrayList<>(pending);
    for (int i = 0, k = 0; i < out.length; i++) {
      if (out[i] == null) {
        slots[k++] = i;
        keys.add(SegmentFormat.key(newestFirst.get(0), collection, ids.get(i)));
      }
    }
    for (long segmentId : newestFirst) {
      for (byte[] key : keys) {
        SegmentFormat.putLong(key, 0, segmentId);
      }
      List<byte[]> values;
      try {
        values = db.multiGet(keys);
      } catch (RocksDBException e) {
        throw readFailed(collection, keys.size() + " ids", segmentId, e);
      }
      int left = 0;
      for (int k = 0; k < keys.size(); k++) {
        byte[] value = values.get(k);
        if (value != null) {
          out[slots[k]] = decoded(segmentId, ids.get(slots[k]), value);
        } else {
          slots[left] = slots[k];
          keys.set(left++, keys.get(k));
        }
      }
      if (left == 0) {
        return;
      }
      keys.subList(left, keys.size()).clear();
    }
  }

  /**
   * Reads one key per slot in one RocksDB {@code MultiGet}: {@code ids[i]} of {@code collection} in
   * segment {@code segmentIds[i]} (the segments of a search's hits). The caller holds the segments.
   *
   * @return one version per slot (a put or a tombstone), or null where the segment has no such key
   * @throws UncheckedIOException if RocksDB reports an error or a value's header is invalid
   */
  public DocumentVersion[] getEach(long[] segmentIds, String collection, List<String> ids) {
    List<byte[]> keys = new ArrayList<>(segmentIds.length);
    for (int i = 0; i < segmentIds.length; i++) {
      keys.add(SegmentFormat.key(segmentIds[i], collection, ids.get(i)));
    }
    List<byte[]> values;
    try {
      values = db.multiGet(keys);
    } catch (RocksDBException e) {
      throw readFailed(collection, ids.size() + " ids", segmentIds.length == 0 ? 0 : segmentIds[0], e);
    }
    DocumentVersion[] out = new DocumentVersion[segmentIds.length];
    for (int i = 0; i < out.length; i++) {
      byte[] value = values.get(i);
      out[i] = value == null ? null : decoded(segmentIds[i], ids.get(i), value);
    }
    return out;
  }

  /** The version a value holds; a put's body is a view of {@code value} (format 1 is converted). */
  private static DocumentVersion decoded(long segmentId, String id, byte[] value) {
    try {
      return SegmentFormat.decodeValue(segmentId, id, value);
    } catch (SegmentCorruptionException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static UncheckedIOException readFailed(String collection, String what, long segmentId, RocksDBException e) {
    return new UncheckedIOException(
        new IOException("get " + collection + "/" + what + " in segment " + hex(segmentId) + " failed: " + e.getMessage(), e));
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
  public CloseableIterator<SegmentEntry> scan(long segmentId, String collection, String startIdInclusive) {
    Names.requireValidCollection(collection);
    byte[] lower =
        startIdInclusive == null || startIdInclusive.isEmpty()
            ? SegmentFormat.collectionStart(segmentId, collection)
            : SegmentFormat.key(segmentId, collection, startIdInclusive);
    RangeCursor cursor = db.openCursor(lower, SegmentFormat.collectionEnd(segmentId, collection), true, true);
    return new EntryIterator(segmentId, collection, cursor);
  }

  /** Every key of a segment, without values or filling the block cache (liveness). */
  RangeCursor segmentKeys(long segmentId) {
    return db.openCursor(SegmentFormat.segmentPrefix(segmentId), SegmentFormat.segmentRangeEnd(segmentId), false, false);
  }

  /** Every key and value of a segment, without filling the block cache (merge, check). */
  RangeCursor segmentEntries(long segmentId) {
    return db.openCursor(SegmentFormat.segmentPrefix(segmentId), SegmentFormat.segmentRangeEnd(segmentId), false, true);
  }

  // Handles and GC.

  /**
   * A counted handle to segment {@code segmentId} ({@link SegmentHandles}); its Lucene reader is
   * opened on the first acquire and shared by all handles. While any handle is held the segment's
   * files stay, even after {@link #markObsolete}. Thread-safe.
   *
   * @throws IllegalStateException if the segment was marked obsolete or the store is closed
   * @throws IOException if its Lucene index cannot be opened (e.g. the segment does not exist)
   */
  public Segment acquire(long segmentId) throws IOException {
    return handles.acquire(segmentId);
  }

  /**
   * A logical reference to segment {@code segmentId}: it is not deleted while held, but with a
   * remote source ({@link SegmentCacheOptions}) its files may be remote, and every read through it
   * takes a {@link Segment#pin()}. Without a remote source the same as {@link #acquire}. A segment
   * a manifest names but that has no local files is opened as remote (fetched at its first pin).
   *
   * @throws IllegalStateException if the segment was marked obsolete or the store is closed
   * @throws IOException without a remote source, as {@link #acquire}
   */
  public Segment acquireReference(long segmentId) throws IOException {
    return handles.acquireReference(segmentId);
  }

  /**
   * True if a read may have to wait for a segment download (eviction is on, or a segment was
   * remote): then a read must not run on a thread that may not block (a transport event loop).
   */
  public boolean readsMayFetch() {
    return handles.cache().readsMayFetch();
  }

  /** True if segments may be remote (a remote source is configured): reads must pin. */
  public boolean fetchesRemote() {
    return handles.cache().fetches();
  }

  /**
   * Records that segment {@code segmentId} is complete in remote storage (called by the tier after
   * its upload, or when it learns it from the bucket) and takes {@code sizeBytes} on local disk:
   * only such a segment is ever evicted. Idempotent; thread-safe; no I/O.
   */
  public void markUploaded(long segmentId, long sizeBytes) {
    handles.markUploaded(segmentId, sizeBytes);
  }

  /** The local segment cache's counters ({@link SegmentCacheStats}); thread-safe. */
  public SegmentCacheStats cacheStats() {
    return handles.cache().stats(handles.remoteCount());
  }

  /**
   * Waits until no segment download or eviction is running or queued (tests and benchmarks).
   *
   * @return false if some were still running after {@code timeoutMs}
   */
  public boolean awaitCacheIdle(long timeoutMs) throws InterruptedException {
    return handles.cache().awaitIdle(timeoutMs);
  }

  /**
   * Says that no retained manifest refers to segment {@code segmentId}: the store drops its live
   * reference, no new handle can be acquired, and the files (RocksDB key range, the segment
   * directory) are deleted by the {@link ObsoleteSegmentDeleter}'s thread once the last handle is
   * released. Idempotent. Thread-safe; does no I/O on the calling thread unless the deletion queue
   * is full.
   *
   * @throws IOException never in the background case; kept for callers that treat the deletion as
   *     I/O
   */
  public void markObsolete(long segmentId) throws IOException {
    handles.markObsolete(segmentId);
  }

  /** Number of handles currently held on a segment (not counting the store's live reference). */
  public int handleCount(long segmentId) {
    return handles.handleCount(segmentId);
  }

  /**
   * What the obsolete-segment deleter has done since the store opened.
   *
   * @param pending deletions queued or running now
   * @param deleted segments deleted
   * @param failed deletions that failed (their files are left to the orphan sweep at the next open)
   * @param inline deletions that ran on the releasing thread because the queue was full
   */
  public record DeletionStats(int pending, long deleted, long failed, long inline) {}

  /** Bytes RocksDB's block cache holds now (its capacity is the memory budget's share). */
  public long blockCacheUsageBytes() {
    return db.blockCacheUsageBytes();
  }

  /** The obsolete-segment deleter's counters. */
  public DeletionStats deletionStats() {
    ObsoleteSegmentDeleter d = handles.deleter();
    return new DeletionStats(d.pending(), d.deletedCount(), d.failedCount(), d.inlineDeletions());
  }

  /**
   * Waits until every queued obsolete-segment deletion has run (tests, and operators who want the
   * disk back now).
   *
   * @return false if some were still pending after {@code timeoutMs}
   */
  public boolean awaitDeletions(long timeoutMs) throws InterruptedException {
    return handles.deleter().awaitIdle(timeoutMs);
  }

  /** Rewrites every SST so neighbouring segments share files: a test hook for the DeleteRange path. */
  void compactAllForTest() throws IOException {
    db.compactAll();
  }

  /** "policy/compression" of every live SST by file name (shows ingested files keep their filters). */
  Map<String, String> tableFilterPolicies() throws IOException {
    return db.tableFilterPolicies();
  }

  // Recovery and verify.

  /**
   * Segment ids that have a directory under {@code <dataDir>/segments}. Sorted.
   *
   * @throws IOException if the directory cannot be listed
   */
  public SortedSet<Long> segmentIdsOnDisk() throws IOException {
    return orphans.segmentIdsOnDisk();
  }

  /**
   * Segment ids that have at least one key in RocksDB (one seek per segment). Sorted.
   *
   * @throws IOException if RocksDB reports an error
   */
  public SortedSet<Long> segmentIdsInRocksDb() throws IOException {
    return db.segmentIdsWithKeys();
  }

  /**
   * Deletes every segment not in {@code keep}: for recovery, after the manifests are loaded and
   * before any flush runs ({@link OrphanSweeper} lists every crash state it covers). Segments with
   * a held handle are never touched.
   *
   * @throws IOException if a listing or a deletion fails
   */
  public OrphanCleanup deleteOrphans(Set<Long> keep) throws IOException {
    return orphans.sweep(keep);
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
   * Checks a segment end to end ({@link SegmentChecker}): recomputes the content checksum from the
   * RocksDB key range and compares it with the manifest's (the low 32 bits); opens the Lucene
   * index, verifies the CRC footer of every file of the commit, checks there is at most one Lucene
   * segment and that its document count equals the number of puts. Safe while the segment is in
   * use.
   *
   * @return a description of every problem found, or empty if the segment is sound
   * @throws IOException if RocksDB cannot be read at all
   */
  public Optional<String> check(long segmentId, long expectedContentChecksum) throws IOException {
    return SegmentChecker.check(this, layout.luceneDir(segmentId), vfs, segmentId, expectedContentChecksum);
  }

  // Lifecycle.

  /**
   * Runs the queued obsolete-segment deletions (bounded wait), then closes every open cursor and
   * shared Lucene reader, then RocksDB (which flushes its memtable, i.e. pending GC range
   * tombstones). Handles still held become unusable. Waits for in-flight RocksDB calls and segment
   * writes. Idempotent.
   */
  @Override
  public void close() throws IOException {
    handles.drainDeletions();
    db.close(handles::close);
  }

  /** Takes the read side of the RocksDB close lock (the merger's native work runs under it). */
  void lockForRead() {
    db.lockForRead();
  }

  void unlockForRead() {
    db.unlockForRead();
  }
}
