package dev.strata.wal;

/**
 * What {@link WalWriter#open} does with a damaged log, modelled on RocksDB's {@code
 * WALRecoveryMode}. A record is <em>bad</em> when its header is cut short, its length is impossible,
 * its payload is cut short by the end of the file, or its CRC32C does not match; a missing or extra
 * segment (a gap or overlap in the LSN sequence) is bad as well.
 *
 * <p>The recovery outcome is reported in a {@link WalRecoveryReport}. A mode that refuses to open
 * throws {@link WalCorruptionException} naming the file and byte offset, and changes nothing on disk.
 */
public enum WalRecoveryMode {
  /**
   * The default. A bad record at the tail of the last segment is what a crash during a write leaves
   * behind: it is cut off (the file is truncated at the record's first byte). "At the tail" means
   * the file ends inside the record, or the record is the last thing in the file, or only zero bytes
   * follow it (the zero-filled tail some file systems leave after a crash). Any other bad record,
   * in the last segment before its tail or in any earlier segment, fails the open.
   */
  TOLERATE_CORRUPTED_TAIL,
  /**
   * Any bad record fails the open, including a torn record at the tail. For logs that must have been
   * closed cleanly.
   */
  ABSOLUTE_CONSISTENCY,
  /**
   * Recovery stops at the first bad record anywhere: that segment is truncated at the record's first
   * byte, and every later segment is deleted. What remains is a consistent prefix of the log: the
   * state as of some point in time. Records after the damage are lost, by design.
   */
  POINT_IN_TIME
}
