package dev.strata.wal;

/**
 * When {@link WalWriter#append} reports a record: after the fsync that covers it, or as soon as it
 * is written to the file. SPEC §2 step 1.
 */
public enum Durability {
  /**
   * The record's future completes after an fsync ({@code WritableFile.sync()}) that covers it
   * returned: the record survives a power loss. Concurrent SYNC appends share one fsync (group
   * commit).
   */
  SYNC,
  /**
   * The record's future completes once the record has been written to its segment file (handed to
   * the operating system: it survives a crash of this process, not a power loss). The background
   * syncer fsyncs it within about {@link WalOptions#syncIntervalMs()}; {@link
   * WalWriter#durableLsn()} tells when it is durable.
   */
  ASYNC
}
