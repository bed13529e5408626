package dev.strata.server;

import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.errorInfo;
import static dev.strata.server.TestServer.retryInfo;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.util.concurrent.ListenableFuture;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.GetForkRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.ForwardingWritableFile;
import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.WritableFile;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No handler blocks a transport thread, and no call waiting for a flush or an fsync holds a thread
 * at all: with a fork whose flushes or WAL fsyncs are stuck, and with every bounded pool saturated,
 * Get, Write on another fork and health still answer (issue #13; issue #11 defect 6, where 32
 * Flush(wait) calls on one stuck fork stopped every fork's Get and Write).
 */
class NonBlockingServingTest {
  @TempDir Path dir;

  private static final int WAITERS = 64;

  /** Every RPC below must answer within this: nothing here waits on the stuck fork. */
  private static final long QUICK_S = 10;

  private static HealthCheckResponse.ServingStatus health(TestServer t) {
    return HealthGrpc.newBlockingStub(t.channel)
        .withDeadlineAfter(QUICK_S, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance())
        .getStatus();
  }

  private static DocumentServiceGrpc.DocumentServiceBlockingStub quick(TestServer t) {
    return DocumentServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(QUICK_S, TimeUnit.SECONDS);
  }

  /** Get, BatchGet, Write on main, health and a fork lookup all answer while {@code stuck} is stuck. */
  private static void othersStillAnswer(TestServer t, String id) {
    assertThat(health(t)).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    assertThat(quick(t).get(GetRequest.newBuilder().setCollection("c").setId(id).build()).getDocument().getId())
        .isEqualTo(id);
    assertThat(quick(t).batchGet(BatchGetRequest.newBuilder().setCollection("c").addIds(id).addIds("none").build())
            .getResultsList())
        .hasSize(2);
    assertThat(
            quick(t).write(WriteRequest.newBuilder().setCollection("c").addMutations(TestServer.put(doc(id + "-next", "b", "t", 2))).build())
                .getLsn())
        .isPositive();
    assertThat(t.forks().withDeadlineAfter(QUICK_S, TimeUnit.SECONDS).getFork(GetForkRequest.newBuilder().setName("main").build())
            .getFork().getName())
        .isEqualTo("main");
  }

  private static void createCollection(TestServer t, String fork) {
    t.collections()
        .createOrGetCollection(
            CreateOrGetCollectionRequest.newBuilder().setFork(fork).setName("c").addAllFields(TestServer.schema()).build());
  }

  /**
   * Issue #11 defect 6: 64 Flush(wait), 64 AwaitFlush and 32 Search(WAIT_FOR_FLUSHED) calls wait on a
   * fork whose flushes are stuck, with only 4 threads for blocking calls. None of them holds a
   * thread: every fork still reads and writes, and even another blocking call (a collection
   * created on main) gets a thread. Once the flushes go through, every waiter gets its snapshot.
   */
  @Test
  void callsWaitingForAStuckForksFlushesHoldNoThread() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    FlushHooks hold =
        (fork, seq, attempt) -> {
          if (fork.equals("stuck") && !release.await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not released");
          }
        };
    StrataServer.EngineOpener opener =
        (d, options) -> StrataEngine.open(d, LocalVfs.INSTANCE, options.toBuilder().hooks(hold).build());
    try (TestServer t =
        TestServer.start(dir, Map.of("server.threads", "4", "max_pending_flushes", "256", "write_stall_timeout", "60s"), opener)) {
      createCollection(t, "main");
      t.write("main", "c", doc("a", "apple", "t", 1));
      t.forks().createFork(CreateForkRequest.newBuilder().setName("stuck").setFromFork("main").setFlushFirst(true).build());
      createCollection(t, "stuck");
      FlushServiceGrpc.FlushServiceFutureStub flushes =
          FlushServiceGrpc.newFutureStub(t.channel).withDeadlineAfter(120, TimeUnit.SECONDS);
      DocumentServiceGrpc.DocumentServiceFutureStub docs =
          DocumentServiceGrpc.newFutureStub(t.channel).withDeadlineAfter(120, TimeUnit.SECONDS);
      List<ListenableFuture<FlushResponse>> flushWaits = new ArrayList<>();
      List<ListenableFuture<?>> awaits = new ArrayList<>();
      List<ListenableFuture<SearchResponse>> searches = new ArrayList<>();
      try {
        for (int i = 0; i < WAITERS; i++) {
          t.write("stuck", "c", doc("s" + i, "stuck " + i, "t", i));
          flushWaits.add(flushes.flush(FlushRequest.newBuilder().setFork("stuck").setWait(true).build()));
        }
        FlushResponse first = t.flushes().flush(FlushRequest.newBuilder().setFork("stuck").build()); // a ticket to await
        for (int i = 0; i < WAITERS; i++) {
          awaits.add(flushes.awaitFlush(AwaitFlushRequest.newBuilder().setTicket(first.getTicket()).build()));
        }
        for (int i = 0; i < WAITERS / 2; i++) {
          searches.add(
              docs.search(
                  SearchRequest.newBuilder().setFork("stuck").setCollection("c").setQuery("stuck").setWaitFor(WaitFor.WAIT_FOR_FLUSHED).build()));
        }
        othersStillAnswer(t, "a");
        // A blocking call of another fork still gets one of the 4 threads: the waiters hold none.
        t.collections()
            .withDeadlineAfter(QUICK_S, TimeUnit.SECONDS)
            .createOrGetCollection(
                CreateOrGetCollectionRequest.newBuilder().setFork("main").setName("other").addAllFields(TestServer.schema()).build());
        assertThat(flushWaits).noneMatch(f -> f.isDone());
        assertThat(awaits).noneMatch(f -> f.isDone());
        assertThat(searches).noneMatch(f -> f.isDone());
        awaitIdle(t.server.callExecutors().blocking);
        assertThat(t.server.callExecutors().blocking.getActiveCount()).as("no blocking thread waits").isZero();
      } finally {
        release.countDown();
      }
      for (ListenableFuture<FlushResponse> f : flushWaits) {
        assertThat(f.get(60, TimeUnit.SECONDS).getSnapshot().getCoveredLsn()).isPositive();
      }
      for (ListenableFuture<?> f : awaits) {
        f.get(60, TimeUnit.SECONDS);
      }
      for (ListenableFuture<SearchResponse> f : searches) {
        assertThat(f.get(60, TimeUnit.SECONDS).getHitsCount()).isEqualTo(10);
      }
    }
  }

  /**
   * SYNC writes answer from the group commit: 64 writes to a fork whose WAL fsync hangs hold no
   * transport or pool thread but the one leading the fsync; the other fork reads and writes, and
   * once the fsync returns every write is acknowledged with its own LSN.
   */
  @Test
  void writesWaitingForAStuckFsyncHoldNoThread() throws Exception {
    StuckWalVfs vfs = new StuckWalVfs();
    StrataServer.EngineOpener opener = (d, options) -> StrataEngine.open(d, vfs, options);
    try (TestServer t = TestServer.start(dir, Map.of("server.threads", "4", "server.write_threads", "4"), opener)) {
      createCollection(t, "main");
      t.write("main", "c", doc("a", "apple", "t", 1));
      t.forks().createFork(CreateForkRequest.newBuilder().setName("slow").setFromFork("main").setFlushFirst(true).build());
      createCollection(t, "slow");
      DocumentServiceGrpc.DocumentServiceFutureStub docs =
          DocumentServiceGrpc.newFutureStub(t.channel).withDeadlineAfter(120, TimeUnit.SECONDS);
      List<ListenableFuture<WriteResponse>> writes = new ArrayList<>();
      vfs.stick();
      try {
        for (int i = 0; i < WAITERS; i++) {
          writes.add(
              docs.write(
                  WriteRequest.newBuilder().setFork("slow").setCollection("c").setDurability(Durability.DURABILITY_SYNC)
                      .addMutations(TestServer.put(doc("w" + i, "w", "t", i))).build()));
        }
        assertThat(vfs.stuckSyncs.await(QUICK_S, TimeUnit.SECONDS)).as("an fsync of the slow fork's WAL hangs").isTrue();
        othersStillAnswer(t, "a");
        assertThat(writes).noneMatch(f -> f.isDone());
        // The leader of the stuck fsync holds one write thread; nobody else waits.
        assertThat(t.server.callExecutors().appends.getActiveCount()).isLessThanOrEqualTo(1);
      } finally {
        vfs.release();
      }
      Set<Long> lsns = new HashSet<>();
      for (ListenableFuture<WriteResponse> f : writes) {
        lsns.add(f.get(60, TimeUnit.SECONDS).getLsn());
      }
      assertThat(lsns).hasSize(WAITERS);
    }
  }

  /**
   * Every bounded pool saturated (its threads busy): Get, small BatchGets, health and fork
   * lookups still answer on the transport threads; a Search waits its turn and answers once a
   * read thread is free; with the read queue full as well, a Search is refused at once with
   * RESOURCE_EXHAUSTED (SERVER_BUSY, RetryInfo); a Search whose deadline passes while queued is
   * DEADLINE_EXCEEDED and never runs.
   */
  @Test
  void saturatedPoolsLeaveTheTransportThreadsAnswering() throws Exception {
    try (TestServer t =
        TestServer.start(dir, Map.of("server.threads", "2", "server.read_threads", "2", "server.write_threads", "2"))) {
      createCollection(t, "main");
      t.write("main", "c", doc("a", "apple", "t", 1));
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      CallExecutors exec = t.server.callExecutors();
      CountDownLatch release = new CountDownLatch(1);
      List<ThreadPoolExecutor> pools = List.of(exec.reads, exec.appends, exec.stalls, exec.blocking);
      try {
        for (ThreadPoolExecutor p : pools) {
          for (int i = 0; i < p.getMaximumPoolSize(); i++) {
            p.execute(() -> awaitQuietly(release));
          }
        }
        assertThat(health(t)).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        assertThat(quick(t).get(GetRequest.newBuilder().setCollection("c").setId("a").build()).getDocument().getId()).isEqualTo("a");
        assertThat(quick(t).batchGet(BatchGetRequest.newBuilder().setCollection("c").addIds("a").build()).getResults(0).getFound())
            .isTrue();
        assertThat(t.forks().withDeadlineAfter(QUICK_S, TimeUnit.SECONDS).getFork(GetForkRequest.newBuilder().setName("main").build())
                .getFork().getName())
            .isEqualTo("main");

        // Queued behind the busy read threads, past its deadline: DEADLINE_EXCEEDED, never run.
        long expiredBefore = exec.expiredWhileQueued();
        StatusRuntimeException late =
            TestServer.failure(
                () -> DocumentServiceGrpc.newBlockingStub(t.channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                    .search(SearchRequest.newBuilder().setCollection("c").setQuery("apple").build()));
        assertThat(code(late)).isEqualTo(Status.Code.DEADLINE_EXCEEDED);

        // A search that waits its turn.
        ListenableFuture<SearchResponse> waiting =
            DocumentServiceGrpc.newFutureStub(t.channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .search(SearchRequest.newBuilder().setCollection("c").setQuery("apple").build());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(QUICK_S);
        while (exec.reads.getQueue().size() < 2 && System.nanoTime() < deadline) {
          Thread.sleep(5); // the expired search and this one, queued
        }
        // Fill the read queue: the next search is refused at once.
        while (exec.reads.getQueue().remainingCapacity() > 0) {
          exec.reads.execute(() -> awaitQuietly(release));
        }
        StatusRuntimeException busy =
            TestServer.failure(() -> quick(t).search(SearchRequest.newBuilder().setCollection("c").setQuery("apple").build()));
        assertThat(code(busy)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(errorInfo(busy).getReason()).isEqualTo("SERVER_BUSY");
        assertThat(errorInfo(busy).getMetadataMap()).containsEntry("pool", "read");
        assertThat(retryInfo(busy)).isNotNull();
        assertThat(waiting.isDone()).isFalse();
        release.countDown();
        assertThat(waiting.get(60, TimeUnit.SECONDS).getHitsCount()).isEqualTo(1);
        // The search whose deadline passed in the queue was skipped, not run.
        awaitIdle(exec.reads);
        assertThat(exec.expiredWhileQueued() - expiredBefore).isEqualTo(1);
      } finally {
        release.countDown();
      }
      assertThat(health(t)).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }
  }

  private static void awaitIdle(ThreadPoolExecutor p) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while ((p.getActiveCount() > 0 || !p.getQueue().isEmpty()) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(120, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** WAL fsyncs of fork "slow" hang while stuck (a disk that stopped answering). */
  private static final class StuckWalVfs extends ForwardingVfs {
    private volatile boolean stuck;
    private final CountDownLatch released = new CountDownLatch(1);
    final CountDownLatch stuckSyncs = new CountDownLatch(1);

    StuckWalVfs() {
      super(LocalVfs.INSTANCE);
    }

    void stick() {
      stuck = true;
    }

    void release() {
      stuck = false;
      released.countDown();
    }

    private WritableFile gated(WritableFile inner, Path path) {
      boolean slowWal = path.toString().contains("/forks/slow-") && path.toString().contains("/wal/");
      if (!slowWal) {
        return inner;
      }
      return new ForwardingWritableFile(inner) {
        @Override
        public void sync() throws IOException {
          if (stuck) {
            stuckSyncs.countDown();
            try {
              released.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          super.sync();
        }
      };
    }

    @Override
    public WritableFile create(Path path) throws IOException {
      return gated(delegate().create(path), path);
    }

    @Override
    public WritableFile openForAppend(Path path) throws IOException {
      return gated(delegate().openForAppend(path), path);
    }
  }
}
