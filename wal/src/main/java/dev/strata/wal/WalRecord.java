package dev.strata.wal;

/**
 * One record read back by {@link WalReader}.
 *
 * @param lsn the record's log sequence number (its ordinal in the WAL, from 1)
 * @param payload the bytes given to {@link WalWriter#append}; the array belongs to the caller
 */
public record WalRecord(long lsn, byte[] payload) {}
