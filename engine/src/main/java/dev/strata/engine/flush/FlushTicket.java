package dev.strata.engine.flush;

/**
 * The handle a flush request returns at once (SPEC §1): it resolves to the first snapshot of fork
 * {@code forkId} whose covered LSN reaches {@code lsn}. Plain data, so it survives restarts and
 * travels over the API.
 *
 * @param forkId the fork's stable id (a dropped and re-created fork has a new one)
 * @param forkName the fork's name when the ticket was issued (informational)
 * @param seq the flush's seq (rotate order); informational
 * @param lsn the WAL LSN the awaited snapshot must cover
 */
public record FlushTicket(String forkId, String forkName, long seq, long lsn) {}
