package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.FlushPipelineTest.ScriptedHooks;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.CollectionRegistry;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import dev.strata.wal.WalOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tickets never lie (SPEC §5.9) and back-pressure holds at its edges (issue #11, defects 2, 3, 7,
 * 10): a ticket is never below the caller's acknowledged LSN, a ticket a published snapshot covers
 * resolves to it even after the fork turned read-only, {@code write_stall_timeout=0} refuses
 * instead of letting L0 grow, and exactly one racing caller creates a collection.
 */
class TicketHonestyTest {
  @TempDir Path dir;
  StrataEngine engine;

  @AfterEach
  void close() {
    if (engine != null) {
      engine.close();
    }
  }

  @Test
  void zeroStallTimeoutRefusesAtOnceAndNeverHandsOutAStaleTicket() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch gate = new CountDownLatch(1);
    hooks.gates.put("main#*", gate);
    long l0Max = 64 * 1024;
    engine =
        StrataEngine.open(
            dir,
            LocalVfs.INSTANCE,
            EngineFixture.testOptions().maxPendingFlushes(1).l0MaxBytes(l0Max).writeStallTimeoutMs(0).hooks(hooks).build());
    Fork main = engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA);
    String text = "x".repeat(2000);
    // Fill L0 until the first rotate takes the only permit (its stream is held at the gate).
    int i = 0;
    while (main.stats().pendingFlushes() == 0) {
      main.write("docs", put(doc("k" + i, text, "t", i)), Durability.ASYNC);
      i++;
    }
    long acked = main.write("docs", put(doc("acked", "sync", "t", 0)), Durability.SYNC);
    // No permit, no wait allowed: RESOURCE_EXHAUSTED, not a ticket for an older LSN.
    assertThatThrownBy(() -> main.flush(0))
        .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED));
    StrataException refused = null;
    for (int j = 0; j < 10_000 && refused == null; j++) {
      try {
        main.write("docs", put(doc("more" + j, text, "t", j)), Durability.ASYNC);
      } catch (StrataException e) {
        refused = e;
      }
      long oneWrite = 4 * 1024 + 2 * 2000;
      assertThat(main.stats().l0Bytes()).as("L0 after write %d", j).isLessThanOrEqualTo(2 * (l0Max + oneWrite));
    }
    assertThat(refused).as("writers meet back-pressure with write_stall_timeout=0").isNotNull();
    assertThat(refused.kind()).isEqualTo(StrataException.Kind.RESOURCE_EXHAUSTED);

    gate.countDown();
    FlushTicket t = Awaitility.await().atMost(20, TimeUnit.SECONDS).ignoreExceptions().until(() -> main.flush(0), x -> true);
    assertThat(t.lsn()).as("a ticket is never below the caller's acknowledged LSN").isGreaterThanOrEqualTo(acked);
    Manifest m = main.awaitTicket(t).get(20, TimeUnit.SECONDS);
    assertThat(m.getCoveredLsn()).isGreaterThanOrEqualTo(acked);
  }

  /** Fails WAL segment deletions (truncation) while armed. */
  private static final class FailingTruncationVfs extends ForwardingVfs {
    final AtomicBoolean armed = new AtomicBoolean();

    FailingTruncationVfs() {
      super(LocalVfs.INSTANCE);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
      if (armed.get() && path.getFileName().toString().endsWith(".wal")) {
        throw new IOException("injected: cannot delete WAL segment " + path.getFileName());
      }
      return super.deleteIfExists(path);
    }
  }

  @Test
  void aTicketAPublishedSnapshotCoversResolvesEvenAfterTheForkTurnedReadOnly() throws Exception {
    FailingTruncationVfs vfs = new FailingTruncationVfs();
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch gate = new CountDownLatch(1);
    hooks.gates.put("main#2", gate);
    engine =
        StrataEngine.open(
            dir,
            vfs,
            EngineFixture.testOptions()
                .hooks(hooks)
                .wal(WalOptions.builder().segmentBytes(4 * 1024).build())
                .build());
    Fork main = engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA); // flushed as seq 1 below
    main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
    for (int i = 0; i < 50; i++) {
      main.write("docs", put(doc("k" + i, "y".repeat(500), "t", i)), Durability.SYNC);
    }
    FlushTicket ticket = main.flush(1000); // seq 2, held at the gate
    CompletableFuture<Manifest> waiting = main.awaitTicket(ticket);
    vfs.armed.set(true); // its WAL truncation will fail
    gate.countDown();
    Manifest published = waiting.get(20, TimeUnit.SECONDS);
    assertThat(published.getCoveredLsn()).isGreaterThanOrEqualTo(ticket.lsn());
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> main.readOnlyReason() != null);
    assertThat(main.readOnlyReason()).contains("WAL truncation");
    // Asked again after the fork turned read-only: still the published snapshot.
    assertThat(main.awaitTicket(ticket).get(5, TimeUnit.SECONDS).getId()).isEqualTo(published.getId());
    vfs.armed.set(false);
  }

  @Test
  void theNothingNewTicketIsDurableToo() throws Exception {
    ScriptedHooks hooks = new ScriptedHooks();
    CountDownLatch gate = new CountDownLatch(1);
    hooks.gates.put("other#*", gate);
    engine =
        StrataEngine.open(
            dir,
            LocalVfs.INSTANCE,
            EngineFixture.testOptions()
                .hooks(hooks)
                .streamThreads(1)
                .flushIntervalMs(20)
                .wal(WalOptions.builder().syncIntervalMs(3_600_000).build())
                .build());
    Fork main = engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA);
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> main.stats().flushesPublished() >= 1);
    // Another fork's stream holds the only stream thread, so main's next stream (which would
    // sync the WAL) cannot start.
    Fork other = engine.createFork("other", null, "main", false, 10_000);
    other.write("docs", put(doc("o", "other", "t", 1)), Durability.ASYNC);
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> hooks.attempts.get() >= 1);
    long lsn = main.write("docs", put(doc("a", "async", "t", 1)), Durability.ASYNC);
    // The interval timer rotates it without syncing the WAL; its stream waits for a thread.
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> main.stats().pendingFlushes() == 1);
    FlushTicket t = main.flush(1000); // nothing new since that rotate
    assertThat(t.lsn()).isGreaterThanOrEqualTo(lsn);
    assertThat(main.stats().walDurableLsn())
        .as("a ticket names an LSN a power loss cannot hand out again")
        .isGreaterThanOrEqualTo(t.lsn());
    gate.countDown();
    main.awaitTicket(t).get(20, TimeUnit.SECONDS);
  }

  @Test
  void exactlyOneRacingCallerIsToldItCreatedTheCollection() throws Exception {
    engine = StrataEngine.open(dir, LocalVfs.INSTANCE, EngineFixture.testOptions().build());
    Fork main = engine.fork("main");
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      for (int round = 0; round < 25; round++) {
        String name = "c" + round;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<CollectionRegistry.Defined>> calls = new ArrayList<>();
        for (int t = 0; t < 20; t++) {
          calls.add(
              pool.submit(
                  () -> {
                    start.await();
                    return main.defineCollection(name, SCHEMA);
                  }));
        }
        start.countDown();
        int created = 0;
        long lsn = -1;
        for (Future<CollectionRegistry.Defined> f : calls) {
          CollectionRegistry.Defined d = f.get(30, TimeUnit.SECONDS);
          created += d.created() ? 1 : 0;
          assertThat(lsn == -1 || lsn == d.collection().createdLsn()).isTrue();
          lsn = d.collection().createdLsn();
        }
        assertThat(created).as("round %d: callers told they created %s", round, name).isEqualTo(1);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
