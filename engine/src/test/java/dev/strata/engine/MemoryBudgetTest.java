package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.WriteBufferManager;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §5.10, one memory budget: L0 of all forks together stays within the budget's L0 share while
 * many forks write at once (checked after every write against the forks' own L0 counts), and a
 * writer stalled at the share resumes as soon as a flush frees memory.
 */
class MemoryBudgetTest {
  private static final String C = "docs";
  private static final long SHARE = 2L << 20;
  private static final int FORKS = 8;
  private static final int WRITES_PER_FORK = 400;
  private static final String BODY = "lorem ipsum dolor sit amet ".repeat(30); // about 800 bytes

  @TempDir Path tmp;

  /** Per fork: L0 of 1 MiB and two permits, so 8 forks alone could hold 24 MiB, 12 times the share. */
  private static EngineOptions options(long l0Share, FlushHooks hooks) {
    return EngineFixture.testOptions()
        .l0MaxBytes(1L << 20)
        .maxPendingFlushes(2)
        .writeStallTimeoutMs(30_000)
        .memory(MemoryBudget.of(64L << 20).withL0Bytes(l0Share))
        .hooks(hooks)
        .build();
  }

  /** L0 of every open fork, from each fork's own counters (not the manager's sum). */
  private static long l0OfAllForks(StrataEngine e, boolean reserved) {
    long n = 0;
    for (Fork f : e.openForks()) {
      n += reserved ? f.stats().l0ReservedBytes() : f.stats().l0Bytes();
    }
    return n;
  }

  /**
   * {@code FORKS} forks, one writer each, {@code WRITES_PER_FORK} SYNC writes of one document;
   * returns the most L0 seen after any write: {@code [0]} records, {@code [1]} arena chunks held.
   */
  private static long[] writeFromManyForks(StrataEngine e) throws Exception {
    Fork main = e.fork(StrataEngine.MAIN);
    main.createOrGetCollection(C, SCHEMA);
    main.awaitTicket(main.flush(1_000)).get(10, TimeUnit.SECONDS);
    List<Fork> forks = new ArrayList<>();
    for (int i = 0; i < FORKS; i++) {
      forks.add(e.createFork("f" + i, null, StrataEngine.MAIN, false, 10_000));
    }
    AtomicLong maxSeen = new AtomicLong();
    AtomicLong maxReserved = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<Void>> writers = new ArrayList<>();
    for (Fork f : forks) {
      writers.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  go.await();
                  for (int i = 0; i < WRITES_PER_FORK; i++) {
                    f.write(C, put(doc("d" + i, BODY + i, "t", i)), Durability.ASYNC);
                    maxSeen.accumulateAndGet(l0OfAllForks(e, false), Math::max);
                    maxReserved.accumulateAndGet(l0OfAllForks(e, true), Math::max);
                  }
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                }
              },
              command -> new Thread(command).start()));
    }
    go.countDown();
    CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
    assertThat(failure.get()).as("every write succeeds (stalls end well within the timeout)").isNull();
    for (Fork f : forks) {
      DocumentVersion last = f.get(C, "d" + (WRITES_PER_FORK - 1));
      assertThat(last).as(f.name()).isNotNull();
      assertThat(EngineFixture.body(last.document())).isEqualTo(BODY + (WRITES_PER_FORK - 1));
    }
    return new long[] {maxSeen.get(), maxReserved.get()};
  }

  @Test
  void manyForksWritingAtOnceStayWithinTheL0Share() throws Exception {
    try (StrataEngine e = StrataEngine.open(tmp.resolve("bounded"), LocalVfs.INSTANCE, options(SHARE, FlushHooks.NONE))) {
      long[] max = writeFromManyForks(e);
      WriteBufferManager wbm = e.writeBuffers();
      // The share accounts the arena chunks the buffers hold, and a writer passes the check only
      // while they are below it, so the records themselves are below it too. A writer past the
      // check appends without holding anything: L0 may exceed the share by the writes in flight at
      // that moment, one per writer (each well under 4 KiB of records here).
      long slack = FORKS * 4096L;
      assertThat(max[0]).as("most L0 records of all forks after any write").isLessThanOrEqualTo(SHARE + slack);
      // Such a write may also install a new arena chunk in each of its buffer's two arenas (chunks
      // double up to 4 MiB of records and 4 MiB of skip-list nodes; a buffer of l0.max_bytes = 1 MiB
      // installs data chunks of at most 1 MiB and node chunks of at most 512 KiB).
      long chunkSlack = FORKS * (4096L + (1L << 20) + (512L << 10));
      assertThat(max[1]).as("most L0 memory (arena chunks) of all forks after any write").isLessThanOrEqualTo(SHARE + chunkSlack);
      assertThat(wbm.flushesRequested()).as("rotates asked for by the global bound").isPositive();
      assertThat(max[1]).as("the share was reached, so the bound was what held L0").isGreaterThan(SHARE / 2);
    }
  }

  @Test
  void withoutTheGlobalShareTheSameWritesHoldFarMoreL0() throws Exception {
    // The control: each fork alone stays within its own l0.max_bytes, their sum does not.
    try (StrataEngine e = StrataEngine.open(tmp.resolve("unbounded"), LocalVfs.INSTANCE, options(0, FlushHooks.NONE))) {
      long[] max = writeFromManyForks(e);
      assertThat(max[0]).isGreaterThan(SHARE + FORKS * 4096L);
    }
  }

  /** Blocks every stream phase until released. */
  private static final class Gate implements FlushHooks {
    final CountDownLatch open = new CountDownLatch(1);
    final AtomicLong streams = new AtomicLong();

    @Override
    public void beforeStream(String forkName, long seq, int attempt) throws Exception {
      streams.incrementAndGet();
      open.await(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void aWriterStalledAtTheShareResumesWhenAFlushFreesMemory() throws Exception {
    Gate gate = new Gate();
    long share = 256L << 10;
    EngineOptions opts =
        EngineFixture.testOptions()
            .l0MaxBytes(64L << 20) // the fork's own bound stays out of the way
            .maxPendingFlushes(2)
            .writeStallTimeoutMs(60_000)
            .memory(MemoryBudget.of(64L << 20).withL0Bytes(share))
            .hooks(gate)
            .build();
    try (StrataEngine e = StrataEngine.open(tmp.resolve("stall"), LocalVfs.INSTANCE, opts)) {
      Fork main = e.fork(StrataEngine.MAIN);
      main.createOrGetCollection(C, SCHEMA);
      AtomicLong written = new AtomicLong();
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                for (int i = 0; i < 2_000; i++) {
                  main.write(C, put(doc("d" + i, BODY + i, "t", i)), Durability.ASYNC);
                  written.incrementAndGet();
                }
              },
              command -> new Thread(command).start());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (e.writeBuffers().stalls() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(e.writeBuffers().stalls()).as("the writer reached the share").isEqualTo(1);
      long before = written.get();
      Thread.sleep(300);
      assertThat(written.get()).as("no write gets through while the flushes are held").isEqualTo(before);
      assertThat(writer).isNotDone();
      assertThat(gate.streams.get()).as("the bound asked for flushes").isPositive();
      assertThat(e.writeBuffers().usageBytes()).isGreaterThanOrEqualTo(share);
      gate.open.countDown(); // the flushes publish and free their buffers
      writer.get(60, TimeUnit.SECONDS);
      assertThat(written.get()).isEqualTo(2_000);
      assertThat(e.writeBuffers().stallMs()).isGreaterThanOrEqualTo(250);
    }
  }
}
