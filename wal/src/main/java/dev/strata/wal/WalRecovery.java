package dev.strata.wal;

import dev.strata.vfs.Vfs;
import dev.strata.wal.SegmentName.Segment;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks every segment of a WAL directory and repairs what its {@link WalRecoveryMode} allows,
 * before a {@link WalWriter} appends to it. Works like Kafka's {@code LogSegment.recover}: read
 * every record, verify its checksum, cut a torn tail, report how many bytes were cut. The same pass
 * hands every valid record from a given LSN on to a {@link WalReplaySink}, so replay reads the log
 * once: one {@code fstat} and one open per segment, reads of {@value
 * SegmentScanner.ReadBuffer#DEFAULT_BYTES} bytes into one reused buffer, no copy per record.
 *
 * <p>Repairs are made durable before this returns: {@link Vfs#truncate} syncs the file it cuts, and
 * the directory is synced after each deletion. Later segments are deleted newest first, so a crash
 * in the middle of a repair leaves a gap-free prefix that the next recovery handles the same way.
 * A mode that refuses to open throws before touching anything.
 */
final class WalRecovery {

  /**
   * The outcome.
   *
   * @param report what was found and done
   * @param segments the remaining segments, ascending by first LSN; the last one is where appending
   *     continues
   * @param lastLsn the LSN the log ends at: the next append gets {@code lastLsn + 1}
   */
  record Result(WalRecoveryReport report, List<Segment> segments, long lastLsn) {}

  /** What scanning one segment found. */
  private record Scan(long records, long validBytes, long fileBytes, SegmentScanner.Bad bad, boolean badAtTail) {}

  private WalRecovery() {}

  /**
   * Checks, replays and repairs.
   *
   * <p><b>Residue of an interrupted truncation.</b> {@link WalWriter#truncateBefore} deletes a
   * prefix of segments with one directory fsync, so after a power loss any subset of those
   * deletions may have survived, leaving a gap among the older segments. A gap whose next segment
   * starts at or below {@code residueBelowLsn} (the caller holds every record below it elsewhere,
   * e.g. in a durable snapshot) can only be such residue: a log loses records only at its tail, and
   * only a truncation deletes segments, always a prefix wholly below the LSN it was given. So the
   * segments before the gap are deleted (one directory fsync) and the scan goes on from the gap.
   * Their records may already have been given to {@code sink}; all of them lie below {@code
   * residueBelowLsn}. A gap above it is damage and handled by the mode as before.
   *
   * @param replayFromLsn the first LSN {@code sink} gets (records below it are checked only)
   * @param residueBelowLsn records below this LSN are held elsewhere; 0 or 1 accepts no gap
   * @param sink receives every valid record with {@code lsn >= replayFromLsn}, or null
   * @throws WalCorruptionException if the mode refuses the damage found, or if {@code sink} is
   *     given, {@code replayFromLsn > 0} and the log starts after it (older segments were deleted,
   *     so the caller would silently miss records); nothing on disk was changed then
   */
  static Result run(
      Vfs vfs, Path dir, WalRecoveryMode mode, long replayFromLsn, long residueBelowLsn, WalReplaySink sink)
      throws IOException {
    List<Segment> all = SegmentName.list(vfs, dir);
    if (sink != null && replayFromLsn > 0 && !all.isEmpty() && replayFromLsn < all.get(0).firstLsn()) {
      throw new WalCorruptionException(
          all.get(0).path(),
          0,
          "records from LSN "
              + replayFromLsn
              + " were asked for, but the log starts at LSN "
              + all.get(0).firstLsn()
              + " (older segments were deleted)");
    }
    SegmentScanner.ReadBuffer buffer = new SegmentScanner.ReadBuffer(SegmentScanner.ReadBuffer.DEFAULT_BYTES);
    List<Segment> kept = new ArrayList<>();
    long records = 0;
    long expectedFirst = -1;
    long lastLsn = 0;
    long bytesTruncated = 0;
    Path truncatedFile = null;
    int deleted = 0;
    String problem = null;
    int scanned = 0;
    int residue = 0;

    for (int i = 0; i < all.size(); i++) {
      Segment seg = all.get(i);
      boolean last = i == all.size() - 1;
      if (expectedFirst >= 0 && seg.firstLsn() > expectedFirst && seg.firstLsn() <= residueBelowLsn) {
        for (Segment old : kept) {
          vfs.deleteIfExists(old.path());
        }
        vfs.syncDirectory(dir);
        residue += kept.size();
        kept.clear();
        records = 0;
        expectedFirst = -1;
      }
      if (expectedFirst >= 0 && seg.firstLsn() != expectedFirst) {
        String gap =
            "segment starts at LSN "
                + seg.firstLsn()
                + " but the previous segment ends at LSN "
                + (expectedFirst - 1)
                + (seg.firstLsn() > expectedFirst ? " (records are missing)" : " (segments overlap)");
        if (mode != WalRecoveryMode.POINT_IN_TIME) {
          throw new WalCorruptionException(seg.path(), 0, gap);
        }
        problem = new WalCorruptionException(seg.path(), 0, gap).getMessage();
        deleted = deleteNewestFirst(vfs, dir, all.subList(i, all.size()));
        break;
      }
      Scan scan = scan(vfs, seg, buffer, replayFromLsn, sink);
      scanned++;
      kept.add(seg);
      records += scan.records();
      lastLsn = seg.firstLsn() + scan.records() - 1;
      expectedFirst = seg.firstLsn() + scan.records();
      if (scan.bad() == null) {
        continue;
      }
      WalCorruptionException corruption =
          new WalCorruptionException(seg.path(), scan.bad().offset(), scan.bad().problem());
      switch (mode) {
        case ABSOLUTE_CONSISTENCY -> throw corruption;
        case TOLERATE_CORRUPTED_TAIL -> {
          if (!last) {
            throw new WalCorruptionException(
                seg.path(),
                scan.bad().offset(),
                scan.bad().problem() + "; not in the last segment, so not a torn tail");
          }
          if (!scan.badAtTail()) {
            throw new WalCorruptionException(
                seg.path(),
                scan.bad().offset(),
                scan.bad().problem() + "; data follows it, so it is not a torn tail");
          }
        }
        case POINT_IN_TIME -> deleted = deleteNewestFirst(vfs, dir, all.subList(i + 1, all.size()));
      }
      problem = corruption.getMessage();
      vfs.truncate(seg.path(), scan.validBytes());
      bytesTruncated = scan.fileBytes() - scan.validBytes();
      truncatedFile = seg.path();
      break;
    }
    // Only the last segment can be empty (a roll never leaves one behind), so the first kept
    // segment holds the oldest record whenever there is one.
    long firstLsn = records == 0 ? 0 : kept.get(0).firstLsn();
    WalRecoveryReport report =
        new WalRecoveryReport(
            mode,
            scanned,
            records,
            firstLsn,
            lastLsn,
            bytesTruncated,
            truncatedFile,
            deleted,
            problem,
            residue);
    return new Result(report, List.copyOf(kept), lastLsn);
  }

  private static Scan scan(
      Vfs vfs, Segment seg, SegmentScanner.ReadBuffer buffer, long replayFromLsn, WalReplaySink sink)
      throws IOException {
    try (SegmentScanner s = new SegmentScanner(seg.path(), vfs.openForRead(seg.path()), buffer, false)) {
      long n = 0;
      while (true) {
        SegmentScanner.Step step = s.next();
        switch (step) {
          case SegmentScanner.Good g -> {
            long lsn = seg.firstLsn() + n;
            if (sink != null && lsn >= replayFromLsn) {
              sink.accept(lsn, s.payload());
            }
            n++;
          }
          case SegmentScanner.End e -> {
            return new Scan(n, e.offset(), e.offset(), null, false);
          }
          case SegmentScanner.Bad b -> {
            boolean atTail = b.torn() || s.restIsZero();
            long fileBytes = vfs.size(seg.path());
            return new Scan(n, b.offset(), fileBytes, b, atTail);
          }
        }
      }
    }
  }

  /** Deletes {@code victims} newest first, syncing the directory after each. */
  private static int deleteNewestFirst(Vfs vfs, Path dir, List<Segment> victims) throws IOException {
    int n = 0;
    for (int i = victims.size() - 1; i >= 0; i--) {
      vfs.deleteIfExists(victims.get(i).path());
      vfs.syncDirectory(dir);
      n++;
    }
    return n;
  }
}
