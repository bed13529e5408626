package dev.strata.wal;

import dev.strata.vfs.Vfs;
import dev.strata.wal.SegmentName.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads records from a WAL directory in LSN order, from a given LSN on, across segments. Used to
 * replay the log past the head snapshot's LSN at startup (SPEC §5.6).
 *
 * <p>The reader does not repair anything: open a {@link WalWriter} first (it recovers the tail per
 * its {@link WalRecoveryMode}), or expect {@link WalCorruptionException} for any bad record except
 * one: a record cut short by the end of the <em>last</em> segment ends the iteration quietly, since
 * that is what a writer in the middle of a write looks like. The segment list is taken when the
 * reader is opened; records in segments created later are not seen.
 *
 * <p>Not thread-safe: one thread iterates. Safe to use while a {@link WalWriter} appends to the same
 * directory. Format: see {@link RecordFormat}.
 */
public final class WalReader implements AutoCloseable {
  /** A reader serves tools and tests, not replay ({@link WalReplaySink}): a modest buffer. */
  private static final int READ_BUFFER_BYTES = 256 << 10;

  private final Vfs vfs;
  private final Path dir;
  private final List<Segment> segments;
  private final long fromLsn;
  private int segmentIndex;
  private SegmentScanner scanner;
  private final SegmentScanner.ReadBuffer buffer = new SegmentScanner.ReadBuffer(READ_BUFFER_BYTES);
  /** LSN of the next record the scanner returns; 0 before the first segment is opened. */
  private long nextLsn;
  private boolean done;

  private WalReader(Vfs vfs, Path dir, List<Segment> segments, long fromLsn, int startIndex) {
    this.vfs = vfs;
    this.dir = dir;
    this.segments = segments;
    this.fromLsn = fromLsn;
    this.segmentIndex = startIndex;
    this.done = startIndex >= segments.size();
  }

  /**
   * Opens a reader over {@code dir} that returns records with {@code lsn >= fromLsn}.
   *
   * @param fromLsn the first LSN wanted (inclusive); 0 means "from the oldest record kept"
   * @throws WalCorruptionException if {@code fromLsn} is below the oldest LSN kept (those records
   *     were deleted by {@link WalWriter#truncateBefore}, so the caller would silently miss them)
   * @throws java.nio.file.NoSuchFileException if {@code dir} does not exist
   */
  public static WalReader open(Vfs vfs, Path dir, long fromLsn) throws IOException {
    if (fromLsn < 0) {
      throw new IllegalArgumentException("fromLsn must be >= 0, got " + fromLsn);
    }
    Path d = dir.toAbsolutePath().normalize();
    List<Segment> segments = SegmentName.list(vfs, d);
    if (segments.isEmpty()) {
      return new WalReader(vfs, d, segments, fromLsn, 0);
    }
    long oldest = segments.get(0).firstLsn();
    if (fromLsn != 0 && fromLsn < oldest) {
      throw new WalCorruptionException(
          segments.get(0).path(),
          0,
          "records from LSN "
              + fromLsn
              + " were asked for, but the log starts at LSN "
              + oldest
              + " (older segments were deleted)");
    }
    // The last segment whose first LSN is <= fromLsn holds it (or the log ends before it).
    int start = 0;
    for (int i = 0; i < segments.size(); i++) {
      if (segments.get(i).firstLsn() <= fromLsn) {
        start = i;
      }
    }
    return new WalReader(vfs, d, segments, fromLsn, start);
  }

  /**
   * The next record, or null at the end of the log.
   *
   * @throws WalCorruptionException for a bad record (other than a torn last record) or a gap
   *     between segments
   */
  public WalRecord next() throws IOException {
    while (!done) {
      if (scanner == null) {
        Segment seg = segments.get(segmentIndex);
        if (nextLsn != 0 && seg.firstLsn() != nextLsn) {
          throw new WalCorruptionException(
              seg.path(),
              0,
              "segment starts at LSN "
                  + seg.firstLsn()
                  + " but the previous segment ends at LSN "
                  + (nextLsn - 1));
        }
        scanner = new SegmentScanner(seg.path(), vfs.openForRead(seg.path()), buffer, true);
        nextLsn = seg.firstLsn();
      }
      long lsn = nextLsn;
      SegmentScanner.Step step = scanner.next();
      switch (step) {
        case SegmentScanner.Good g -> {
          nextLsn++;
          if (lsn >= fromLsn) {
            ByteBuffer p = scanner.payload();
            byte[] payload = new byte[p.remaining()];
            p.get(p.position(), payload);
            return new WalRecord(lsn, payload);
          }
        }
        case SegmentScanner.End e -> advance();
        case SegmentScanner.Bad b -> {
          boolean last = segmentIndex == segments.size() - 1;
          if (last && b.torn()) {
            closeScanner();
            done = true;
            return null;
          }
          throw new WalCorruptionException(scanner.path(), b.offset(), b.problem());
        }
      }
    }
    return null;
  }

  private void advance() throws IOException {
    closeScanner();
    segmentIndex++;
    if (segmentIndex >= segments.size()) {
      done = true;
    }
  }

  private void closeScanner() throws IOException {
    SegmentScanner s = scanner;
    scanner = null;
    if (s != null) {
      s.close();
    }
  }

  /** The WAL directory. */
  public Path dir() {
    return dir;
  }

  @Override
  public void close() throws IOException {
    done = true;
    closeScanner();
  }
}
