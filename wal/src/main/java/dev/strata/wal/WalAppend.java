package dev.strata.wal;

import java.util.concurrent.CompletableFuture;

/**
 * What {@link WalWriter#append} returns.
 *
 * <p>{@code durable} completes with {@code lsn} when the record is reported according to its {@link
 * Durability}: after the fsync that covers it (SYNC), or once it is written to the file (ASYNC). It
 * completes exceptionally with a {@link WalFailedException} (whose cause is the first I/O error) if
 * the batch holding the record failed, or if the WAL failed or was closed before the record was
 * written. Dependent actions attached with the non-async {@code CompletableFuture} methods run on
 * the thread that completes the future: the appender that led the batch (after it let go of
 * leadership), or the {@code wal-syncer} thread while it leads, where they delay the next batch and
 * must not block ({@link WalWriter#sync()} and {@link WalWriter#close()} throw {@link
 * IllegalStateException} there). Use the {@code *Async} variants for real work.
 *
 * @param lsn the record's log sequence number: its ordinal in this WAL, from 1
 * @param durable completes with {@code lsn}, see above
 */
public record WalAppend(long lsn, CompletableFuture<Long> durable) {}
