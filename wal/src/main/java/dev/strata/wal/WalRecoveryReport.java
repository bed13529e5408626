package dev.strata.wal;

import java.nio.file.Path;

/**
 * What {@link WalWriter#open} found and repaired. Logged at open (INFO when clean, WARN when it cut
 * or deleted anything) and available from {@link WalWriter#recoveryReport()}.
 *
 * @param mode the recovery mode that was applied
 * @param segmentsScanned segment files read
 * @param recordsRead valid records kept, over all remaining segments
 * @param firstLsn LSN of the oldest record kept, or 0 if the log is empty
 * @param lastLsn the LSN the log ends at (its newest record's, or 0 for a new log); the next
 *     append gets {@code lastLsn + 1}
 * @param bytesTruncated bytes cut from the end of {@code truncatedFile} (0 if none)
 * @param truncatedFile the segment that was truncated, or null if none
 * @param segmentsDeleted later segments deleted by {@link WalRecoveryMode#POINT_IN_TIME}
 * @param problem what was wrong (file, offset and reason), or null if the log was clean
 * @param residueSegmentsDeleted older segments deleted as the residue of a truncation that a power
 *     loss interrupted (see {@link WalWriter#open(dev.strata.vfs.Vfs, Path, WalOptions, long, long,
 *     WalReplaySink)}); not damage, so a log with only these is still {@link #clean()}
 */
public record WalRecoveryReport(
    WalRecoveryMode mode,
    int segmentsScanned,
    long recordsRead,
    long firstLsn,
    long lastLsn,
    long bytesTruncated,
    Path truncatedFile,
    int segmentsDeleted,
    String problem,
    int residueSegmentsDeleted) {

  /** True if recovery found nothing to repair. */
  public boolean clean() {
    return problem == null;
  }

  /** True if recovery cut a file. */
  public boolean fileTruncated() {
    return truncatedFile != null;
  }
}
