package dev.strata.wal;

import java.util.concurrent.CompletableFuture;

/**
 * A record with its LSN, waiting for a leader to write it: its {@link RecordFormat#header} and the
 * caller's payload, not copied (the caller does not change it until the append completes).
 */
record PendingRecord(
    long lsn, byte[] header, byte[] payload, Durability durability, CompletableFuture<Long> future) {

  /** Bytes the record takes in its segment: header + payload. */
  int encodedLength() {
    return RecordFormat.HEADER_BYTES + payload.length;
  }
}
