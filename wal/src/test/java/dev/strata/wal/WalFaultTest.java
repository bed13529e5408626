package dev.strata.wal;

import static dev.strata.wal.WalTesting.closeDead;
import static dev.strata.wal.WalTesting.readAll;
import static dev.strata.wal.WalTesting.segments;
import static dev.strata.wal.WalWriterTest.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.FaultInjectingVfs.Fault;
import dev.strata.vfs.FaultInjectingVfs.InjectedIOException;
import dev.strata.vfs.FaultInjectingVfs.Op;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The failure rule (fsyncgate): after a write or fsync error the WAL is failed for good, the failing
 * batch fails, every later call fails at once with the first error as cause, and the writer never
 * touches the disk again — above all, never calls sync again.
 */
class WalFaultTest {

  @TempDir Path dir;

  static Stream<Arguments> faults() {
    return Stream.of(
        Arguments.of(Op.WRITE, Fault.IO_ERROR),
        Arguments.of(Op.WRITE, Fault.SHORT_WRITE),
        Arguments.of(Op.WRITE, Fault.ENOSPC),
        Arguments.of(Op.SYNC, Fault.IO_ERROR),
        Arguments.of(Op.SYNC, Fault.ENOSPC));
  }

  private static Throwable failureOf(CompletableFuture<Long> f) throws InterruptedException {
    try {
      f.get(10, TimeUnit.SECONDS);
      throw new AssertionError("future completed normally");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("future did not complete", e);
    }
  }

  /** Appends on a new platform thread (which becomes the leader if none is), into {@code out}. */
  private static Thread appendOnThread(
      WalWriter w, byte[] payload, Durability durability, CompletableFuture<WalAppend> out) {
    return Thread.ofPlatform()
        .start(
            () -> {
              try {
                out.complete(w.append(payload, durability));
              } catch (Exception e) {
                out.completeExceptionally(e);
              }
            });
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("faults")
  void aFailedWriteOrFsyncFailsTheWalForGood(Op op, Fault fault) throws Exception {
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    RecordingVfs vfs = new RecordingVfs(fvs);
    // A 1 ms syncer gets many chances to (wrongly) fsync after the failure.
    WalOptions opts = WalOptions.builder().syncIntervalMs(1).build();
    WalWriter w = WalWriter.open(vfs, dir, opts);
    for (int i = 1; i <= 3; i++) {
      w.append(("ok" + i).getBytes(), Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    }
    Path segment = segments(dir).get(0);
    fvs.failNext(op, fault);
    WalAppend bad = w.append(new byte[100], Durability.SYNC);
    Throwable failure = failureOf(bad.durable());
    assertThat(failure).isInstanceOf(WalFailedException.class);
    Throwable first = failure.getCause();
    assertThat(first).isInstanceOf(InjectedIOException.class).hasMessageContaining(op.toString());
    if (fault == Fault.ENOSPC) {
      assertThat(first).hasMessageContaining("No space left on device");
    }
    int mark = vfs.size();
    long syncsOfSegment = vfs.syncs(segment);

    assertThatThrownBy(() -> w.append(new byte[1], Durability.ASYNC))
        .isInstanceOf(WalFailedException.class)
        .hasCause(first)
        .hasMessageContaining("failed earlier")
        .hasMessageContaining("durable up to LSN 3");
    assertThatThrownBy(() -> w.append(new byte[1], Durability.SYNC))
        .isInstanceOf(WalFailedException.class)
        .hasCause(first);
    assertThatThrownBy(w::sync).isInstanceOf(WalFailedException.class).hasCause(first);
    assertThatThrownBy(() -> w.truncateBefore(2)).isInstanceOf(WalFailedException.class);
    assertThat(w.durableLsn()).isEqualTo(3);
    assertThat(w.lastLsn()).isEqualTo(4);
    Thread.sleep(50);
    assertThatThrownBy(w::close).isInstanceOf(WalFailedException.class).hasCause(first);

    assertThat(vfs.callsSince(mark)).as("disk calls after the failure").isEmpty();
    assertThat(vfs.syncs(segment)).isEqualTo(syncsOfSegment);

    // A restart without power loss: the acknowledged records are there; a torn half-record (short
    // write) is cut as a torn tail. The failed record may or may not be there (its bytes may have
    // reached the page cache), but nothing else is.
    try (WalWriter again = WalWriter.open(fvs, dir, WalOptions.defaults())) {
      WalRecoveryReport r = again.recoveryReport();
      if (fault == Fault.SHORT_WRITE) {
        assertThat(r.bytesTruncated()).isEqualTo(54); // half of 108 encoded bytes
      }
      assertThat(r.lastLsn()).isBetween(3L, 4L);
    }
    List<WalRecord> recovered = readAll(dir);
    assertThat(recovered).extracting(rec -> new String(rec.payload())).startsWith("ok1", "ok2", "ok3");
    // A power loss instead: only what was fsynced survives.
    fvs.crash();
    assertThat(readAll(dir).size()).isBetween(3, 4);
  }

  @Test
  void everyRecordOfTheFailingBatchAndEveryQueuedOneFails() throws Exception {
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    RecordingVfs vfs = new RecordingVfs(fvs);
    CountDownLatch inFirstSync = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean firstSync = new AtomicBoolean(true);
    vfs.beforeSync(
        p -> {
          if (firstSync.getAndSet(false)) {
            inFirstSync.countDown();
            await(release);
          }
        });
    WalWriter w =
        WalWriter.open(vfs, dir, WalOptions.builder().syncIntervalMs(3_600_000).build());
    CompletableFuture<WalAppend> leader = new CompletableFuture<>();
    Thread t = appendOnThread(w, "leader".getBytes(), Durability.SYNC, leader);
    assertThat(inFirstSync.await(10, TimeUnit.SECONDS)).isTrue();
    // The leader is inside its fsync: these three are followers, queued for the next batch.
    List<WalAppend> followers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      followers.add(w.append(("f" + i).getBytes(), i == 1 ? Durability.ASYNC : Durability.SYNC));
    }
    fvs.failNext(Op.WRITE, Fault.IO_ERROR); // the next write is the followers' batch
    release.countDown();
    t.join(10_000);
    assertThat(leader.get().durable().get(10, TimeUnit.SECONDS)).isEqualTo(1L);
    Throwable cause = null;
    for (WalAppend f : followers) {
      Throwable e = failureOf(f.durable());
      assertThat(e).isInstanceOf(WalFailedException.class);
      if (cause == null) {
        cause = e.getCause();
      }
      assertThat(e.getCause()).isSameAs(cause).isInstanceOf(InjectedIOException.class);
    }
    assertThatThrownBy(() -> w.append(new byte[1], Durability.SYNC)).hasCause(cause);
    closeDead(w);
    assertThat(readAll(dir)).extracting(r -> new String(r.payload())).containsExactly("leader");
  }

  @Test
  void aFailedSegmentCreationOrDirectorySyncFailsTheWal() throws Exception {
    for (Op op : new Op[] {Op.CREATE, Op.SYNC_DIR}) {
      Path d = dir.resolve(op.toString());
      FaultInjectingVfs fvs = new FaultInjectingVfs();
      RecordingVfs vfs = new RecordingVfs(fvs);
      WalWriter w = WalWriter.open(vfs, d, WalOptions.builder().segmentBytes(50).build());
      w.append(new byte[30], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
      fvs.failNext(op, Fault.ENOSPC);
      WalAppend rolled = w.append(new byte[30], Durability.SYNC); // needs a new segment
      assertThat(failureOf(rolled.durable())).isInstanceOf(WalFailedException.class);
      int mark = vfs.size();
      assertThatThrownBy(() -> w.append(new byte[1], Durability.SYNC))
          .isInstanceOf(WalFailedException.class);
      closeDead(w);
      assertThat(vfs.callsSince(mark)).isEmpty();
      fvs.crash();
      assertThat(readAll(d)).hasSize(1);
    }
  }

  /**
   * The directory is the one file two threads change: a leader's roll creates a segment and fsyncs
   * the directory, {@code truncateBefore} deletes one and fsyncs it. Here truncation's directory
   * fsync fails while a leader is in the middle of a roll (blocked in the old segment's fsync, its
   * batch taken before the failure). The fsyncgate rule applies to the directory as to any file: the
   * leader must not create its segment and fsync the directory again (a success then proves nothing
   * about the entry), so the record that needed that segment fails instead of being acknowledged.
   */
  @Test
  void aRollNeverFsyncsTheDirectoryAfterTruncationFailedToFsyncIt() throws Exception {
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    RecordingVfs vfs = new RecordingVfs(fvs);
    // 60-byte payloads (68 encoded) in 100-byte segments: one record per segment.
    WalOptions opts = WalOptions.builder().segmentBytes(100).syncIntervalMs(3_600_000).build();
    WalWriter w = WalWriter.open(vfs, dir, opts);
    w.append(new byte[60], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    w.append(new byte[60], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    w.append(new byte[60], Durability.ASYNC).durable().get(10, TimeUnit.SECONDS); // unsynced
    Path third = SegmentName.path(w.dir(), 3);
    CountDownLatch inRollSync = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    vfs.beforeSync(
        p -> {
          if (p.equals(third)) {
            inRollSync.countDown();
            await(release);
          }
        });
    CompletableFuture<WalAppend> rolling = new CompletableFuture<>();
    Thread leader = appendOnThread(w, new byte[60], Durability.SYNC, rolling); // LSN 4: a roll
    await(inRollSync); // the leader is fsyncing segment 3, about to create segment 4

    fvs.failNext(Op.SYNC_DIR, Fault.IO_ERROR);
    Throwable truncation = catchThrowable(() -> w.truncateBefore(3));
    assertThat(truncation).isInstanceOf(WalFailedException.class);
    Throwable first = truncation.getCause();
    assertThat(first).isInstanceOf(InjectedIOException.class).hasMessageContaining("SYNC_DIR");
    List<String> calls = vfs.calls();
    int failedAt = calls.indexOf("SYNC_DIR " + w.dir() + " failed");
    assertThat(failedAt).isNotNegative();

    release.countDown();
    leader.join(10_000);
    assertThat(leader.isAlive()).isFalse();
    Throwable rolled = failureOf(rolling.get().durable());
    assertThat(rolled).isInstanceOf(WalFailedException.class).hasCause(first);
    assertThat(w.durableLsn()).isLessThan(4);
    closeDead(w);
    // Only the fsync of segment 3, already under way when truncation failed, may follow: no
    // segment creation, deletion or directory fsync.
    assertThat(vfs.callsSince(failedAt + 1)).allMatch(c -> c.equals("SYNC " + third));
  }

  /**
   * Pebble's errorfs sweep: fail I/O call number N, for N = 0, 1, 2, … until the scenario no longer
   * reaches call N. Each run then kills the process, crashes the disk and reopens: nothing
   * acknowledged is lost, nothing foreign appears, and after the failure the writer made no call.
   */
  @Test
  void failingAnySingleIoCallLosesNothingAcknowledged() throws Exception {
    Fault[] kinds = {Fault.IO_ERROR, Fault.SHORT_WRITE, Fault.ENOSPC};
    long n = 0;
    while (true) {
      Path d = dir.resolve("run-" + n);
      FaultInjectingVfs fvs = new FaultInjectingVfs();
      fvs.failOperation(n, kinds[(int) (n % kinds.length)]);
      KillableVfs kvs = new KillableVfs(fvs);
      RecordingVfs vfs = new RecordingVfs(kvs);
      Scenario s = new Scenario(n);
      s.run(vfs, d);
      boolean reached = fvs.operationCount() > n;

      List<String> calls = vfs.calls();
      int failedAt = -1;
      for (int i = 0; i < calls.size(); i++) {
        if (calls.get(i).endsWith(" failed")) {
          failedAt = i;
          break;
        }
      }
      if (failedAt >= 0) {
        assertThat(calls.subList(failedAt + 1, calls.size()))
            .as("run %d: calls after the failed %s", n, calls.get(failedAt))
            .isEmpty();
      }
      kvs.kill();
      fvs.clearFaults();
      fvs.crash();
      List<WalRecord> replayed = new ArrayList<>();
      try (WalWriter w = WalTesting.openReplaying(fvs, d, Scenario.OPTIONS, 0, replayed)) {
        List<WalRecord> recovered = readAll(fvs, d, 0);
        WalTesting.assertSameRecords(replayed, recovered);
        WalInvariants.acknowledgedGapFreePrefix(
            recovered, s.appended, s.acknowledged, s.truncatedBefore);
        if (!recovered.isEmpty()) {
          assertThat(w.lastLsn()).isEqualTo(recovered.get(recovered.size() - 1).lsn());
        }
      }
      if (!reached) {
        break;
      }
      n++;
    }
    // The scenario makes enough calls for the sweep to mean something.
    assertThat(n).isGreaterThan(40);
  }

  /** Two writer lifetimes with rolls, a sync, a truncation and a clean close; stops at a failure. */
  private static final class Scenario {
    static final WalOptions OPTIONS =
        WalOptions.builder().segmentBytes(120).syncIntervalMs(3_600_000).build();

    final Random rnd;
    final Map<Long, byte[]> appended = new HashMap<>();
    final Set<Long> acknowledged = new HashSet<>();
    final List<WalAppend> syncAppends = new ArrayList<>();
    long truncatedBefore;

    Scenario(long seed) {
      rnd = new Random(seed);
    }

    void run(RecordingVfs vfs, Path d) {
      if (lifetime(vfs, d, 10, true)) {
        lifetime(vfs, d, 5, false);
      }
      for (WalAppend a : syncAppends) {
        if (a.durable().isDone() && !a.durable().isCompletedExceptionally()) {
          acknowledged.add(a.lsn());
        }
      }
    }

    /** Returns true if the lifetime ended without a failure. */
    private boolean lifetime(RecordingVfs vfs, Path d, int appends, boolean truncate) {
      WalWriter w;
      try {
        w = WalWriter.open(vfs, d, OPTIONS);
      } catch (Exception e) {
        return false;
      }
      boolean ok = true;
      try {
        for (int i = 0; i < appends; i++) {
          byte[] p = WalTesting.payload(rnd, rnd.nextInt(60));
          Durability durability = rnd.nextBoolean() ? Durability.SYNC : Durability.ASYNC;
          WalAppend a = w.append(p, durability);
          appended.put(a.lsn(), p);
          if (a.durable().isCompletedExceptionally()) {
            ok = false;
            break;
          }
          if (durability == Durability.SYNC) {
            syncAppends.add(a); // an ASYNC future says "written", not "durable"
          }
          if (i == appends / 2) {
            w.sync();
            if (truncate) {
              truncatedBefore = w.durableLsn() - 1;
              w.truncateBefore(truncatedBefore);
            }
          }
        }
      } catch (Exception e) {
        ok = false;
      } finally {
        try {
          w.close();
        } catch (Exception e) {
          ok = false;
        }
        for (long lsn = 1; lsn <= w.durableLsn(); lsn++) {
          acknowledged.add(lsn);
        }
      }
      return ok;
    }
  }
}
