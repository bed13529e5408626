package dev.strata.wal;

import java.util.concurrent.CompletableFuture;

/** A record with its LSN, waiting for a leader to write it. */
record PendingRecord(long lsn, byte[] encoded, Durability durability, CompletableFuture<Long> future) {}
