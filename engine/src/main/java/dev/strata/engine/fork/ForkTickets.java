package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.flush.TicketBoard;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.WalWriter;
import java.util.concurrent.CompletableFuture;

/**
 * One fork's flush tickets (SPEC §1 FlushTicket): a ticket {@code (fork id, seq, lsn)} resolves to
 * the first published snapshot of the fork whose covered LSN reaches {@code lsn}. Waiters are kept
 * in a {@link TicketBoard}; tickets of snapshots already published are answered from the {@link
 * SnapshotChain}.
 *
 * <p>Thread-safe. {@link #published} is called on the fork's finalizer after each publication;
 * {@link #await} from any thread (RPC threads).
 */
final class ForkTickets {
  private final ForkEntry entry;
  private final WalWriter wal;
  private final MemTables memTables;
  private final SnapshotChain chain;
  private final TicketBoard<Manifest> board;

  ForkTickets(ForkEntry entry, WalWriter wal, MemTables memTables, SnapshotChain chain) {
    this.entry = entry;
    this.wal = wal;
    this.memTables = memTables;
    this.chain = chain;
    this.board = new TicketBoard<>(memTables.lastRotatedLsn(), this::firstSnapshotCovering);
  }

  /** A ticket of this fork for a flush of {@code seq} covering {@code lsn}. */
  FlushTicket ticket(long seq, long lsn) {
    return new FlushTicket(entry.forkId(), entry.name(), seq, lsn);
  }

  /**
   * A future of the first snapshot covering the ticket's LSN. Cancelling it does not affect the
   * ticket.
   *
   * @throws StrataException NOT_FOUND if the ticket is of another (dropped) fork with this name;
   *     INVALID_ARGUMENT if its LSN is beyond this fork's WAL
   */
  CompletableFuture<Manifest> await(FlushTicket ticket) {
    if (!ticket.forkId().equals(entry.forkId())) {
      throw StrataException.notFound(
          "ticket is for fork id " + ticket.forkId() + ", which no longer exists (fork '"
              + entry.name() + "' now has id " + entry.forkId() + ")");
    }
    if (ticket.lsn() > wal.lastLsn()) {
      throw StrataException.invalid(
          "ticket LSN " + ticket.lsn() + " is beyond the fork's last LSN " + wal.lastLsn());
    }
    if (ticket.lsn() == 0) {
      PublishedSnapshot head = memTables.current().head();
      if (head != null) {
        return CompletableFuture.completedFuture(head.manifest());
      }
      return CompletableFuture.failedFuture(
          StrataException.failedPrecondition(
              "fork '" + entry.name() + "' has no snapshot yet and nothing to flush"));
    }
    return board.await(Math.max(1, ticket.lsn()));
  }

  /** Resolves the tickets {@code snapshot} covers; on the finalizer, after it became the head. */
  void published(long coveredLsn, Manifest snapshot) {
    board.published(coveredLsn, snapshot);
  }

  /** Fails every waiting and later ticket (the fork turned read-only, closed or was dropped). */
  void failAll(Throwable cause) {
    board.failAll(cause);
  }

  private Manifest firstSnapshotCovering(long lsn) {
    Manifest m = chain.firstCovering(lsn);
    if (m != null) {
      return m;
    }
    PublishedSnapshot head = memTables.current().head();
    if (head != null) {
      return head.manifest();
    }
    throw StrataException.notFound("no snapshot of fork '" + entry.name() + "' covers LSN " + lsn);
  }
}
