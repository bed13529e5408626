/**
 * The write-ahead log: every write of a fork is appended here, as one record, before it is
 * acknowledged (SPEC §2 step 1, §5.1 durability, §5.6 recovery).
 *
 * <p>{@link dev.strata.wal.WalWriter} appends with group commit and recovers a damaged tail at open;
 * {@link dev.strata.wal.WalReader} replays records from an LSN on. All file I/O goes through {@link
 * dev.strata.vfs.Vfs}, so tests swap in {@link dev.strata.vfs.FaultInjectingVfs} to fail any call or
 * simulate a power loss.
 *
 * <p>Format (after LevelDB's {@code doc/log_format.md}, without blocks): a directory of segment
 * files named by the zero-padded LSN of their first record ({@code 00000000000000000001.wal}); each
 * a sequence of {@code length:uint32be crc32c:uint32be payload}, the CRC32C covering length and
 * payload. A record's LSN is its segment's first LSN plus its index in the segment. Full grammar and
 * rules: {@code docs/architecture.md}, "Write-ahead log".
 *
 * <p>Failure rule: the first write or fsync error fails the WAL for good ({@link
 * dev.strata.wal.WalFailedException}); nothing is retried on the same file.
 */
package dev.strata.wal;
