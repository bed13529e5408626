package dev.strata.wal;

import static dev.strata.wal.WalTesting.closeDead;
import static dev.strata.wal.WalTesting.readAll;
import static dev.strata.wal.WalWriterTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.LocalVfs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Group commit under many writers: batching happens, LSN order holds, a crash loses nothing acknowledged. */
class WalConcurrencyTest {

  private static final int THREADS = 16;

  @TempDir Path dir;

  @Test
  void sixteenSyncWritersThenACrashLoseNothingAcknowledged() throws Exception {
    long seed = System.nanoTime();
    System.out.println("sixteenSyncWritersThenACrashLoseNothingAcknowledged seed=" + seed);
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    KillableVfs kvs = new KillableVfs(fvs);
    WalOptions opts = WalOptions.builder().segmentBytes(16 << 10).build(); // rolls happen too
    WalWriter w = WalWriter.open(kvs, dir, opts);
    Map<Long, byte[]> appended = new ConcurrentHashMap<>();
    Set<Long> acknowledged = ConcurrentHashMap.newKeySet();
    CountDownLatch enoughAcknowledged = new CountDownLatch(THREADS * 60);
    AtomicReference<Throwable> unexpected = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      Random rnd = new Random(seed + t);
      threads.add(
          Thread.ofPlatform()
              .name("appender-" + t)
              .start(
                  () -> {
                    try {
                      for (int i = 0; i < 400; i++) {
                        byte[] p = WalTesting.payload(rnd, rnd.nextInt(300));
                        WalAppend a = w.append(p, Durability.SYNC);
                        appended.put(a.lsn(), p);
                        assertThat(a.durable().get(30, TimeUnit.SECONDS)).isEqualTo(a.lsn());
                        acknowledged.add(a.lsn());
                        enoughAcknowledged.countDown();
                      }
                    } catch (java.util.concurrent.ExecutionException | WalFailedException e) {
                      // The crash came: this writer's record (or the WAL) failed. Expected.
                    } catch (Throwable e) {
                      unexpected.compareAndSet(null, e);
                    }
                  }));
    }
    assertThat(enoughAcknowledged.await(60, TimeUnit.SECONDS)).isTrue();
    kvs.kill(); // kill -9: from here nothing this process does reaches the disk
    for (Thread t : threads) {
      t.join(30_000);
      assertThat(t.isAlive()).isFalse();
    }
    closeDead(w);
    assertThat(unexpected.get()).isNull();
    WalStats stats = w.stats();
    fvs.crash();

    // Group commit batched: fewer fsyncs than records made durable. Not a timing assertion: with
    // 16 writers, every fsync that starts while others wait is followed by one shared batch.
    assertThat(stats.fsyncs()).isLessThan(stats.recordsSynced());
    assertThat(stats.maxRecordsPerFsync()).isGreaterThan(1);

    List<WalRecord> replayed = new ArrayList<>();
    try (WalWriter again = WalTesting.openReplaying(fvs, dir, opts, 0, replayed)) {
      List<WalRecord> recovered = readAll(fvs, dir, 0);
      WalTesting.assertSameRecords(replayed, recovered);
      WalInvariants.acknowledgedGapFreePrefix(recovered, appended, acknowledged, 0);
      assertThat(recovered.get(0).lsn()).isEqualTo(1);
      assertThat(again.lastLsn()).isEqualTo(recovered.get(recovered.size() - 1).lsn());
      assertThat(recovered.size()).isGreaterThanOrEqualTo(acknowledged.size());
    }
  }

  @Test
  void followersArrivingDuringAnFsyncShareTheNextOne() throws Exception {
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    CountDownLatch followersQueued = new CountDownLatch(THREADS - 1);
    CountDownLatch leaderInSync = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    vfs.beforeSync(
        p -> {
          if (first.getAndSet(false)) {
            leaderInSync.countDown();
            await(followersQueued); // hold the first fsync until every follower has queued
          }
        });
    WalOptions opts = WalOptions.builder().syncIntervalMs(3_600_000).build();
    try (WalWriter w = WalWriter.open(vfs, dir, opts)) {
      Thread leader =
          Thread.ofPlatform().start(() -> appendAndWait(w, "leader", null));
      assertThat(leaderInSync.await(10, TimeUnit.SECONDS)).isTrue();
      List<Thread> followers = new ArrayList<>();
      for (int t = 1; t < THREADS; t++) {
        String name = "f" + t;
        followers.add(Thread.ofPlatform().start(() -> appendAndWait(w, name, followersQueued)));
      }
      leader.join(10_000);
      for (Thread f : followers) {
        f.join(10_000);
        assertThat(f.isAlive()).isFalse();
      }
      WalStats s = w.stats();
      assertThat(s.appends()).isEqualTo(THREADS);
      assertThat(s.fsyncs()).isEqualTo(2); // the leader's, then one for all 15 followers
      assertThat(s.recordsSynced()).isEqualTo(THREADS);
      assertThat(s.maxRecordsPerFsync()).isEqualTo(THREADS - 1);
      assertThat(s.recordsPerFsyncHistogram().get(4)).isEqualTo(1); // bucket (8, 16]
      List<String> writers = vfs.threadsOf("WRITE");
      assertThat(writers).as("one write per batch").hasSize(2);
      // The leader's append did one batch of I/O and handed the next batch to the syncer thread,
      // instead of working for the followers (who hold futures and are not inside append).
      assertThat(writers.get(0)).isEqualTo(leader.getName());
      assertThat(writers.get(1)).startsWith("wal-syncer-");
    }
    List<WalRecord> all = readAll(dir);
    assertThat(all).hasSize(THREADS);
    WalInvariants.gapFree(all);
  }

  private static void appendAndWait(WalWriter w, String payload, CountDownLatch queued) {
    try {
      WalAppend a = w.append(payload.getBytes(), Durability.SYNC);
      if (queued != null) {
        queued.countDown();
      }
      assertThat(a.durable().get(10, TimeUnit.SECONDS)).isEqualTo(a.lsn());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void mixedSyncAndAsyncWritersKeepLsnOrderEqualToFileOrder() throws Exception {
    long seed = System.nanoTime();
    System.out.println("mixedSyncAndAsyncWritersKeepLsnOrderEqualToFileOrder seed=" + seed);
    Map<Long, byte[]> appended = new ConcurrentHashMap<>();
    WalOptions opts = WalOptions.builder().segmentBytes(8 << 10).syncIntervalMs(2).build();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts)) {
      List<Thread> threads = new ArrayList<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      for (int t = 0; t < 4; t++) {
        Random rnd = new Random(seed + t);
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        for (int i = 0; i < 300; i++) {
                          byte[] p = WalTesting.payload(rnd, rnd.nextInt(100));
                          Durability d = rnd.nextInt(4) == 0 ? Durability.SYNC : Durability.ASYNC;
                          WalAppend a = w.append(p, d);
                          appended.put(a.lsn(), p);
                          if (d == Durability.SYNC) {
                            a.durable().get(10, TimeUnit.SECONDS);
                            assertThat(w.durableLsn()).isGreaterThanOrEqualTo(a.lsn());
                          }
                        }
                      } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                      }
                    }));
      }
      for (Thread t : threads) {
        t.join(30_000);
      }
      assertThat(failure.get()).isNull();
      w.sync();
      assertThat(w.durableLsn()).isEqualTo(1200);
    }
    List<WalRecord> all = readAll(dir);
    assertThat(all).hasSize(1200);
    WalInvariants.gapFree(all);
    WalInvariants.byteExact(all, appended);
  }
}
