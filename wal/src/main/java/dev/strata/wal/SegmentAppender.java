package dev.strata.wal;

import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Writes batches of encoded records to the active segment, rolls to a new segment at {@code
 * segmentBytes}, and fsyncs. Owned by whichever thread is the {@link WalWriter}'s leader: never used
 * by two threads at once (the hand-over of leadership under the writer's lock orders one leader's
 * calls before the next one's). Not thread-safe.
 *
 * <p>A batch's records are gathered in one direct buffer and written with one {@code write} call per
 * segment they land in (more only when the batch exceeds the buffer), so a batch costs one system
 * call, not one per record. Each record's header and payload are copied straight from the caller's
 * arrays into that buffer (the only copy on the way to the file: the JDK would make the same one
 * into a temporary direct buffer for a heap buffer). Records larger than the buffer stream through
 * it in pieces.
 *
 * <p>After any exception the appender is broken: the caller fails the WAL and only calls {@link
 * #close()}.
 *
 * <p>Creating a segment changes the WAL directory, which {@link WalWriter#truncateBefore} changes
 * too, from another thread: so the creation and its directory fsync go through a {@link
 * DirectoryChanger}, which makes directory changes take turns and refuses them once the WAL has
 * failed.
 */
final class SegmentAppender {

  /** One change to the WAL directory: creating or deleting an entry. */
  @FunctionalInterface
  interface DirectoryChange {
    void run() throws IOException;
  }

  /**
   * Runs a {@link DirectoryChange} and then the directory fsync that makes it durable, in turn with
   * every other change to the directory ({@code WalWriter.changeDirectoryDurably}).
   */
  @FunctionalInterface
  interface DirectoryChanger {
    /**
     * @throws WalFailedException if the WAL failed before the change could start (nothing done)
     * @throws IOException if the change or the directory fsync failed (the WAL is failed then)
     */
    void changeDurably(DirectoryChange change) throws IOException;
  }

  private static final int BUFFER_BYTES = 1 << 20;

  private final Vfs vfs;
  private final Path dir;
  private final long segmentBytes;
  private final WalMetrics metrics;
  private final DirectoryChanger directory;
  /** Told the first LSN of every segment this creates, after the directory sync made it durable. */
  private final LongConsumer onSegmentCreated;

  private ByteBuffer buffer;
  /** The active segment; null until the first segment of an empty log is created. */
  private WritableFile file;
  /** Bytes of the active segment, written or still in {@link #buffer}. */
  private long segmentUsedBytes;

  private long writtenLsn;
  private long syncedLsn;
  /** Written (not merely buffered) since the last fsync. */
  private long unsyncedRecords;
  private long unsyncedBytes;
  /** Put into the buffer since the last {@link #drain()}. */
  private long bufferedRecords;
  private long bufferedBytes;
  private long lastBufferedLsn;

  /**
   * @param file the active segment opened for append, or null for an empty log
   * @param lastLsn the LSN the log ends at; everything up to it is durable
   */
  SegmentAppender(
      Vfs vfs,
      Path dir,
      long segmentBytes,
      WalMetrics metrics,
      DirectoryChanger directory,
      LongConsumer onSegmentCreated,
      WritableFile file,
      long lastLsn) {
    this.vfs = vfs;
    this.dir = dir;
    this.segmentBytes = segmentBytes;
    this.metrics = metrics;
    this.directory = directory;
    this.onSegmentCreated = onSegmentCreated;
    this.file = file;
    this.segmentUsedBytes = file == null ? 0 : file.size();
    this.writtenLsn = lastLsn;
    this.syncedLsn = lastLsn;
  }

  /** Highest LSN written to a file (every lower one is written too). */
  long writtenLsn() {
    return writtenLsn;
  }

  /** Highest LSN covered by a successful fsync (every lower one is durable too). */
  long syncedLsn() {
    return syncedLsn;
  }

  boolean hasUnsynced() {
    return unsyncedBytes > 0 || bufferedBytes > 0;
  }

  /** Writes {@code batch} (ascending, gap-free LSNs continuing {@link #writtenLsn()}), rolling as needed. */
  void write(List<PendingRecord> batch) throws IOException {
    for (PendingRecord r : batch) {
      int len = r.encodedLength();
      if (file == null) {
        openSegment(r.lsn());
      } else if (segmentUsedBytes > 0 && segmentUsedBytes + len > segmentBytes) {
        roll(r.lsn());
      }
      put(r.header());
      put(r.payload());
      segmentUsedBytes += len;
      bufferedRecords++;
      bufferedBytes += len;
      lastBufferedLsn = r.lsn();
    }
    drain();
  }

  /** Fsyncs the active segment if anything was written since the last fsync. */
  void sync() throws IOException {
    if (unsyncedBytes == 0) {
      return;
    }
    file.sync();
    metrics.recordFsync(unsyncedRecords, unsyncedBytes);
    syncedLsn = writtenLsn;
    unsyncedRecords = 0;
    unsyncedBytes = 0;
  }

  /** Closes the active segment without syncing it (sync first if that is wanted). */
  void close() throws IOException {
    WritableFile f = file;
    file = null;
    if (f != null) {
      f.close();
    }
  }

  /** The old segment is made durable and closed before the new one exists: see WalRecovery. */
  private void roll(long firstLsn) throws IOException {
    drain();
    sync();
    WritableFile old = file;
    file = null;
    old.close();
    openSegment(firstLsn);
  }

  private void openSegment(long firstLsn) throws IOException {
    // The new name must be durable before records in it are acknowledged.
    directory.changeDurably(
        () -> {
          file = vfs.create(SegmentName.path(dir, firstLsn));
          segmentUsedBytes = 0;
        });
    onSegmentCreated.accept(firstLsn);
  }

  private void put(byte[] src) throws IOException {
    if (buffer == null) {
      buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
    }
    int off = 0;
    while (off < src.length) {
      if (!buffer.hasRemaining()) {
        writeBuffer();
      }
      int n = Math.min(buffer.remaining(), src.length - off);
      buffer.put(src, off, n);
      off += n;
    }
  }

  private void writeBuffer() throws IOException {
    buffer.flip();
    file.write(buffer);
    buffer.clear();
  }

  /** Writes what is buffered; from here on the buffered records count as written. */
  private void drain() throws IOException {
    if (buffer != null && buffer.position() > 0) {
      writeBuffer();
    }
    if (bufferedRecords > 0) {
      unsyncedRecords += bufferedRecords;
      unsyncedBytes += bufferedBytes;
      writtenLsn = lastBufferedLsn;
    }
    bufferedRecords = 0;
    bufferedBytes = 0;
  }
}
