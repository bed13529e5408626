package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.vfs.LocalVfs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deadlines and cancellation still stop work now that no call holds a thread while it waits
 * (issue #13): a call waiting on a ticket's future ends at its deadline and leaves the ticket
 * valid; a SYNC write whose call ends (deadline or cancel) while it is queued before its WAL
 * append is never applied.
 */
class CallDeadlineTest {
  @TempDir Path dir;

  private static void createCollection(TestServer t, String fork) {
    t.collections()
        .createOrGetCollection(
            CreateOrGetCollectionRequest.newBuilder().setFork(fork).setName("c").addAllFields(TestServer.schema()).build());
  }

  /**
   * Flush(wait), AwaitFlush and Search(WAIT_FOR_FLUSHED) on a fork whose flush is held end with
   * DEADLINE_EXCEEDED at their deadline, not when the flush ends; afterwards the same ticket
   * still resolves to the snapshot that covers it.
   */
  @Test
  void waitsOnATicketEndAtTheDeadlineAndTheTicketStaysValid() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    FlushHooks hold =
        (fork, seq, attempt) -> {
          if (fork.equals("held") && !release.await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not released");
          }
        };
    StrataServer.EngineOpener opener =
        (d, options) -> StrataEngine.open(d, LocalVfs.INSTANCE, options.toBuilder().hooks(hold).build());
    try (TestServer t = TestServer.start(dir, Map.of("write_stall_timeout", "60s"), opener)) {
      createCollection(t, "main");
      t.forks().createFork(CreateForkRequest.newBuilder().setName("held").setFromFork("main").setFlushFirst(true).build());
      createCollection(t, "held");
      t.write("held", "c", doc("a", "apple", "t", 1));
      FlushResponse ticket = t.flushes().flush(FlushRequest.newBuilder().setFork("held").build());
      try {
        long t0 = System.nanoTime();
        StatusRuntimeException flushWait =
            TestServer.failure(
                () -> FlushServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .flush(FlushRequest.newBuilder().setFork("held").setWait(true).build()));
        StatusRuntimeException await =
            TestServer.failure(
                () -> FlushServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket.getTicket()).build()));
        StatusRuntimeException search =
            TestServer.failure(
                () -> DocumentServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .search(SearchRequest.newBuilder().setFork("held").setCollection("c").setQuery("apple")
                        .setWaitFor(WaitFor.WAIT_FOR_FLUSHED).build()));
        assertThat(code(flushWait)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(code(await)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(code(search)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        assertThat(release.getCount()).as("the flush was still held: the calls ended at their deadlines").isEqualTo(1);
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(60);
      } finally {
        release.countDown();
      }
      // The ticket outlives the calls that gave up on it.
      assertThat(
              FlushServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                  .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket.getTicket()).build())
                  .getSnapshot().getCoveredLsn())
          .isGreaterThanOrEqualTo(ticket.getTicket().getLsn());
    }
  }

  /**
   * With every append thread busy, a SYNC write whose deadline passes in the queue, and one whose
   * client cancels it there, end with DEADLINE_EXCEEDED and CANCELLED; once the threads are free
   * neither document exists, and a write sent then is applied.
   */
  @Test
  void writesWhoseCallEndedBeforeTheirAppendAreNotApplied() throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of("server.write_threads", "4"))) {
      createCollection(t, "main");
      ThreadPoolExecutor appends = t.server.callExecutors().appends;
      CountDownLatch release = new CountDownLatch(1);
      ListenableFuture<WriteResponse> cancelled;
      try {
        for (int i = 0; i < appends.getMaximumPoolSize(); i++) {
          appends.execute(
              () -> {
                try {
                  release.await(120, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
        }
        StatusRuntimeException late =
            TestServer.failure(
                () -> DocumentServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .write(write("late")));
        assertThat(code(late)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
        cancelled = DocumentServiceGrpc.newFutureStub(t.channel).withDeadlineAfter(60, TimeUnit.SECONDS).write(write("gone"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (appends.getQueue().size() < 2 && System.nanoTime() < deadline) {
          Thread.sleep(5); // both writes queued behind the busy threads
        }
        assertThat(appends.getQueue()).hasSizeGreaterThanOrEqualTo(2);
        assertThat(cancelled.cancel(true)).isTrue();
        Thread.sleep(200); // the cancel reaches the server while the write is still queued
      } finally {
        release.countDown();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while ((appends.getActiveCount() > 0 || !appends.getQueue().isEmpty()) && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(cancelled.isCancelled()).isTrue();
      for (String id : new String[] {"late", "gone"}) {
        StatusRuntimeException absent =
            TestServer.failure(
                () -> DocumentServiceGrpc.newBlockingStub(t.channel).get(GetRequest.newBuilder().setCollection("c").setId(id).build()));
        assertThat(code(absent)).as(id).isEqualTo(Status.Code.NOT_FOUND);
      }
      assertThat(DocumentServiceGrpc.newBlockingStub(t.channel).write(write("kept")).getLsn()).isPositive();
      assertThat(
              DocumentServiceGrpc.newBlockingStub(t.channel).get(GetRequest.newBuilder().setCollection("c").setId("kept").build())
                  .getDocument().getId())
          .isEqualTo("kept");
    }
  }

  private static WriteRequest write(String id) {
    return WriteRequest.newBuilder()
        .setCollection("c")
        .setDurability(Durability.DURABILITY_SYNC)
        .addMutations(TestServer.put(doc(id, "body of " + id, "t", 1)))
        .build();
  }
}
