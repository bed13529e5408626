package dev.strata.engine.flush;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class TicketBoardTest {

  @Test
  void ticketsResolveWithTheFirstSnapshotCoveringTheirLsn() {
    TicketBoard<String> board = new TicketBoard<>(0, lsn -> "old-" + lsn);
    CompletableFuture<String> t5 = board.await(5);
    CompletableFuture<String> t9 = board.await(9);
    board.published(4, "s1");
    assertThat(t5).isNotDone();
    board.published(7, "s2");
    assertThat(t5).isCompletedWithValue("s2");
    assertThat(t9).isNotDone();
    board.published(9, "s3");
    assertThat(t9).isCompletedWithValue("s3");
    assertThat(board.await(3)).as("already covered: looked up").isCompletedWithValue("old-3");
    assertThat(board.waitingCount()).isZero();
  }

  @Test
  void failAllFailsWaitersAndLaterTicketsButNotPublishedOnes() {
    TicketBoard<String> board = new TicketBoard<>(0, lsn -> "snapshot covering " + lsn);
    board.published(4, "s4");
    CompletableFuture<String> t = board.await(5);
    board.failAll(new IllegalStateException("dropped"));
    assertThat(t).isCompletedExceptionally();
    assertThat(board.await(6)).isCompletedExceptionally();
    // A ticket a published snapshot covers resolves to it, failed fork or not (SPEC §5.9).
    assertThat(board.await(4)).isCompletedWithValue("snapshot covering 4");
    assertThat(board.await(1)).isCompletedWithValue("snapshot covering 1");
  }
}
