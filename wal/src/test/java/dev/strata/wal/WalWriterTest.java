package dev.strata.wal;

import static dev.strata.wal.WalTesting.payload;
import static dev.strata.wal.WalTesting.readAll;
import static dev.strata.wal.WalTesting.segments;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.vfs.LocalVfs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Round trips, segment naming and rolling, reopen, truncateBefore, API edges, stats. */
class WalWriterTest {

  @TempDir Path dir;

  private static WalOptions small(long segmentBytes) {
    return WalOptions.builder().segmentBytes(segmentBytes).build();
  }

  @Test
  void roundTripAcrossSegmentsAndReopenContinuesLsns() throws Exception {
    Random rnd = new Random(42);
    Map<Long, byte[]> appended = new HashMap<>();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(1000))) {
      assertThat(w.lastLsn()).isZero();
      for (int i = 0; i < 300; i++) {
        byte[] p = payload(rnd, rnd.nextInt(200));
        WalAppend a = w.append(p, i % 10 == 0 ? Durability.SYNC : Durability.ASYNC);
        assertThat(a.lsn()).isEqualTo(i + 1);
        appended.put(a.lsn(), p);
      }
      assertThat(w.lastLsn()).isEqualTo(300);
    }
    List<Path> segs = segments(dir);
    assertThat(segs.size()).isGreaterThan(10);
    assertThat(segs.get(0).getFileName().toString()).isEqualTo("00000000000000000001.wal");
    for (Path s : segs) {
      // A roll happens before a record would take the segment past segmentBytes.
      assertThat(Files.size(s)).isLessThanOrEqualTo(1000);
    }
    List<WalRecord> all = readAll(dir);
    assertThat(all).hasSize(300);
    WalInvariants.gapFree(all);
    WalInvariants.byteExact(all, appended);
    // Each segment is named by the LSN of its first record.
    long expectedFirst = 1;
    for (Path s : segs) {
      assertThat(SegmentName.parse(s)).isEqualTo(expectedFirst);
      try (WalReader r = WalReader.open(LocalVfs.INSTANCE, dir, expectedFirst)) {
        assertThat(r.next().lsn()).isEqualTo(expectedFirst);
      }
      expectedFirst += countRecords(s);
    }
    assertThat(expectedFirst).isEqualTo(301);

    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(1000))) {
      assertThat(w.recoveryReport().clean()).isTrue();
      assertThat(w.recoveryReport().recordsRead()).isEqualTo(300);
      assertThat(w.recoveryReport().lastLsn()).isEqualTo(300);
      assertThat(w.lastLsn()).isEqualTo(300);
      assertThat(w.durableLsn()).isEqualTo(300);
      WalAppend a = w.append("after reopen".getBytes(), Durability.SYNC);
      assertThat(a.lsn()).isEqualTo(301);
      assertThat(a.durable().get(10, TimeUnit.SECONDS)).isEqualTo(301L);
    }
    List<WalRecord> again = readAll(dir);
    assertThat(again).hasSize(301);
    assertThat(new String(again.get(300).payload())).isEqualTo("after reopen");
  }

  private static long countRecords(Path segment) throws Exception {
    byte[] b = Files.readAllBytes(segment);
    long n = 0;
    int off = 0;
    while (off < b.length) {
      int len = java.nio.ByteBuffer.wrap(b, off, 4).getInt();
      off += 8 + len;
      n++;
    }
    return n;
  }

  @Test
  void readerStartsAtAnyLsnInclusive() throws Exception {
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      for (int i = 1; i <= 50; i++) {
        w.append(("r" + i).getBytes(), Durability.ASYNC);
      }
    }
    for (long from : new long[] {1, 2, 17, 49, 50}) {
      List<WalRecord> got = readAll(LocalVfs.INSTANCE, dir, from);
      assertThat(got).hasSize((int) (51 - from));
      assertThat(got.get(0).lsn()).isEqualTo(from);
      assertThat(new String(got.get(0).payload())).isEqualTo("r" + from);
    }
    assertThat(readAll(LocalVfs.INSTANCE, dir, 51)).isEmpty();
    assertThat(readAll(LocalVfs.INSTANCE, dir, 1000)).isEmpty();
  }

  @Test
  void emptyPayloadsAndAnEmptyLogWork() throws Exception {
    assertThat(readAll(dir)).isEmpty();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.defaults())) {
      assertThat(w.recoveryReport().recordsRead()).isZero();
      assertThat(segments(dir)).isEmpty(); // the first segment is created by the first append
      w.append(new byte[0], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
      w.append(new byte[0], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    }
    List<WalRecord> all = readAll(dir);
    assertThat(all).extracting(WalRecord::lsn).containsExactly(1L, 2L);
    assertThat(all.get(0).payload()).isEmpty();
  }

  @Test
  void aRecordLargerThanASegmentGetsASegmentOfItsOwn() throws Exception {
    Random rnd = new Random(7);
    byte[] big = payload(rnd, 5000);
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(1000))) {
      w.append("a".getBytes(), Durability.ASYNC);
      w.append(big, Durability.ASYNC);
      w.append("c".getBytes(), Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    }
    assertThat(segments(dir))
        .extracting(p -> p.getFileName().toString())
        .containsExactly(
            "00000000000000000001.wal", "00000000000000000002.wal", "00000000000000000003.wal");
    assertThat(readAll(dir).get(1).payload()).isEqualTo(big);
  }

  @Test
  void recordsLargerThanTheWriteBufferRoundTrip() throws Exception {
    Random rnd = new Random(3);
    byte[] huge = payload(rnd, (3 << 20) + 123); // bigger than the 1 MiB gathering buffer
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.defaults())) {
      w.append("x".getBytes(), Durability.ASYNC);
      w.append(huge, Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    }
    assertThat(readAll(dir).get(1).payload()).isEqualTo(huge);
  }

  @Test
  void truncateBeforeDeletesWholeOldSegmentsButNeverTheActiveOne() throws Exception {
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      for (int i = 1; i <= 40; i++) {
        w.append(new byte[30], Durability.ASYNC); // 38 bytes each: two records per segment
      }
      w.sync();
      assertThat(segments(dir)).hasSize(20);
      assertThat(w.truncateBefore(1)).isZero();
      assertThat(w.truncateBefore(2)).isZero(); // segment 1 holds LSN 1..2: 2 is not below 2
      assertThat(w.truncateBefore(3)).isEqualTo(1);
      assertThat(w.truncateBefore(8)).isEqualTo(2); // segments 3..4 and 5..6; 7..8 holds 7
      assertThat(segments(dir).get(0).getFileName().toString())
          .isEqualTo("00000000000000000007.wal");
      assertThatThrownBy(() -> WalReader.open(LocalVfs.INSTANCE, dir, 3))
          .isInstanceOf(WalCorruptionException.class)
          .hasMessageContaining("starts at LSN 7");
      assertThat(readAll(LocalVfs.INSTANCE, dir, 0).get(0).lsn()).isEqualTo(7);
      assertThat(w.truncateBefore(Long.MAX_VALUE)).isEqualTo(16);
      assertThat(segments(dir))
          .extracting(p -> p.getFileName().toString())
          .containsExactly("00000000000000000039.wal");
      assertThat(w.truncateBefore(Long.MAX_VALUE)).isZero();
      assertThat(w.append(new byte[1], Durability.SYNC).lsn()).isEqualTo(41);
    }
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      assertThat(w.recoveryReport().firstLsn()).isEqualTo(39);
      assertThat(w.lastLsn()).isEqualTo(41);
    }
    assertThat(readAll(dir)).extracting(WalRecord::lsn).containsExactly(39L, 40L, 41L);
  }

  /**
   * Issue #12: a truncation that deletes many segments syncs the directory once, not once per
   * segment. A crash may keep any subset of those deletions (POSIX orders none of them); the
   * oldest one coming back leaves a gap that plain recovery refuses as missing records, and the
   * open that is told the first LSN still needed deletes it again.
   */
  @Test
  void truncationSyncsTheDirectoryOnceAndOpenRepairsTheGapACrashCanLeave() throws Exception {
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    byte[] oldest;
    try (WalWriter w = WalWriter.open(vfs, dir, small(100))) {
      for (int i = 1; i <= 20; i++) {
        w.append(new byte[30], Durability.ASYNC); // two records per segment
      }
      w.sync();
      oldest = Files.readAllBytes(segments(dir).get(0));
      int mark = vfs.size();
      assertThat(w.truncateBefore(15)).isEqualTo(7); // segments 1..13; 15..16 holds 15
      List<String> calls = vfs.callsSince(mark);
      assertThat(calls).filteredOn(c -> c.startsWith("DELETE ")).hasSize(7);
      assertThat(calls).filteredOn(c -> c.startsWith("SYNC_DIR ")).hasSize(1);
      assertThat(calls.get(calls.size() - 1)).startsWith("SYNC_DIR "); // after every deletion
    }
    // The deletion of segment 1 did not survive the crash; those of 3..13 did.
    Files.write(dir.resolve("00000000000000000001.wal"), oldest);
    assertThatThrownBy(() -> WalWriter.open(LocalVfs.INSTANCE, dir, small(100)).close())
        .isInstanceOf(WalCorruptionException.class)
        .hasMessageContaining("records are missing");
    assertThat(segments(dir)).hasSize(4); // refused: nothing changed
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100), 15)) {
      assertThat(w.recoveryReport().firstLsn()).isEqualTo(15);
      assertThat(w.lastLsn()).isEqualTo(20);
      assertThat(w.append(new byte[1], Durability.SYNC).lsn()).isEqualTo(21);
    }
    assertThat(segments(dir).get(0).getFileName().toString()).isEqualTo("00000000000000000015.wal");
    assertThat(readAll(dir)).extracting(WalRecord::lsn).containsExactly(15L, 16L, 17L, 18L, 19L, 20L, 21L);
    // Told an LSN inside the first segment, open keeps that segment.
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100), 16)) {
      assertThat(w.recoveryReport().firstLsn()).isEqualTo(15);
    }
  }

  /**
   * A fork replays its WAL from the oldest record (a merge's batches may lie below the covered LSN),
   * so it cannot pass the covered LSN as {@code replayFromLsn}; it passes it as the residue bound.
   * A gap whose next segment starts at or below it is what a truncation interrupted by a power loss
   * left: the segments before it go and every record is still replayed from the gap on. A gap
   * above the bound is damage, refused as before.
   */
  @Test
  void aGapBelowTheResidueBoundIsTheResidueOfATruncationAndIsDeleted() throws Exception {
    byte[] oldest;
    byte[] fifth;
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      for (int i = 1; i <= 20; i++) {
        w.append(new byte[30], Durability.ASYNC); // two records per segment
      }
      w.sync();
      oldest = Files.readAllBytes(segments(dir).get(0)); // LSN 1..2
      fifth = Files.readAllBytes(segments(dir).get(4)); // LSN 9..10
      assertThat(w.truncateBefore(15)).isEqualTo(7);
    }
    // The deletions of segments 1 and 9 did not survive the power loss; the others did.
    Files.write(dir.resolve("00000000000000000001.wal"), oldest);
    Files.write(dir.resolve("00000000000000000009.wal"), fifth);
    assertThatThrownBy(() -> WalWriter.open(LocalVfs.INSTANCE, dir, small(100), 0, 8, (lsn, p) -> {}).close())
        .isInstanceOf(WalCorruptionException.class)
        .hasMessageContaining("records are missing");
    assertThat(segments(dir)).hasSize(5); // refused: nothing changed
    List<Long> replayed = new ArrayList<>();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100), 0, 15, (lsn, p) -> replayed.add(lsn))) {
      assertThat(w.recoveryReport().residueSegmentsDeleted()).isEqualTo(2);
      assertThat(w.recoveryReport().clean()).isTrue();
      assertThat(w.recoveryReport().firstLsn()).isEqualTo(15);
      assertThat(w.lastLsn()).isEqualTo(20);
      assertThat(w.append(new byte[1], Durability.SYNC).lsn()).isEqualTo(21);
    }
    // Residue records may reach the sink before the gap is seen; every one lies below the bound.
    assertThat(replayed).filteredOn(lsn -> lsn >= 15).containsExactly(15L, 16L, 17L, 18L, 19L, 20L);
    assertThat(replayed).filteredOn(lsn -> lsn < 15).allMatch(lsn -> lsn <= 10);
    assertThat(segments(dir).get(0).getFileName().toString()).isEqualTo("00000000000000000015.wal");
    assertThat(readAll(dir)).extracting(WalRecord::lsn).containsExactly(15L, 16L, 17L, 18L, 19L, 20L, 21L);
    assertThatThrownBy(() -> WalWriter.open(LocalVfs.INSTANCE, dir, small(100), 5, 4, null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void oversizedPayloadIsRejectedClearlyAndNothingIsAppended() throws Exception {
    WalOptions opts = WalOptions.builder().maxRecordBytes(100).build();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts)) {
      w.append(new byte[100], Durability.SYNC);
      assertThatThrownBy(() -> w.append(new byte[101], Durability.SYNC))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("101 bytes")
          .hasMessageContaining("maxRecordBytes")
          .hasMessageContaining("100 bytes");
      assertThat(w.lastLsn()).isEqualTo(1);
      assertThat(w.append(new byte[1], Durability.SYNC).lsn()).isEqualTo(2);
    }
    assertThatThrownBy(() -> WalOptions.builder().maxRecordBytes((1 << 30) + 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> WalOptions.builder().segmentBytes(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> WalOptions.builder().syncIntervalMs(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void defaultsAreThoseOfTheSpec() {
    WalOptions o = WalOptions.defaults();
    assertThat(o.segmentBytes()).isEqualTo(64L << 20);
    assertThat(o.syncIntervalMs()).isEqualTo(200);
    assertThat(o.recoveryMode()).isEqualTo(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(o.maxRecordBytes()).isEqualTo(64 << 20);
    assertThat(o.toBuilder().build()).isEqualTo(o);
  }

  @Test
  void aRecordOnDiskIsTheHeaderThenThePayloadAsGiven() throws Exception {
    byte[] p = "original".getBytes();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.defaults())) {
      w.append(p, Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
    }
    byte[] file = Files.readAllBytes(segments(dir).get(0));
    ByteBuffer b = ByteBuffer.wrap(file);
    assertThat(file).hasSize(8 + p.length);
    assertThat(b.getInt(0)).isEqualTo(p.length);
    CRC32C crc = new CRC32C();
    crc.update(file, 0, 4);
    crc.update(p);
    assertThat(b.getInt(4)).isEqualTo((int) crc.getValue());
    assertThat(Arrays.copyOfRange(file, 8, file.length)).isEqualTo(p);
  }

  @Test
  void replayAtOpenDeliversEveryRecordFromTheLsnAskedFor() throws Exception {
    List<byte[]> written = new ArrayList<>();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(200))) {
      Random rnd = new Random(7);
      for (int i = 0; i < 50; i++) {
        byte[] p = payload(rnd, rnd.nextInt(120));
        written.add(p);
        w.append(p, Durability.ASYNC);
      }
    }
    for (long from : new long[] {0, 1, 2, 17, 50, 51, 99}) {
      List<WalRecord> replayed = new ArrayList<>();
      try (WalWriter w = WalTesting.openReplaying(LocalVfs.INSTANCE, dir, small(200), from, replayed)) {
        assertThat(w.lastLsn()).isEqualTo(50);
      }
      long first = Math.max(1, from);
      assertThat(replayed).hasSize((int) Math.max(0, 51 - first));
      for (WalRecord r : replayed) {
        assertThat(r.payload()).isEqualTo(written.get((int) r.lsn() - 1));
      }
      WalTesting.assertSameRecords(replayed, readAll(LocalVfs.INSTANCE, dir, from));
    }
  }

  @Test
  void replayFromBelowTheOldestSegmentFailsAndChangesNothing() throws Exception {
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      for (int i = 1; i <= 10; i++) {
        w.append(new byte[30], Durability.ASYNC); // two records per segment
      }
      w.sync();
      assertThat(w.truncateBefore(5)).isEqualTo(2);
    }
    List<Path> before = segments(dir);
    assertThatThrownBy(() -> WalTesting.openReplaying(LocalVfs.INSTANCE, dir, small(100), 3, new ArrayList<>()))
        .isInstanceOf(WalCorruptionException.class)
        .hasMessageContaining("starts at LSN 5");
    assertThat(segments(dir)).isEqualTo(before);
  }

  @Test
  void aSinkThatThrowsAbortsTheOpenAndLeavesTheLogAsItWas() throws Exception {
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, small(100))) {
      for (int i = 1; i <= 6; i++) {
        w.append(new byte[30], Durability.SYNC);
      }
    }
    Map<Path, byte[]> before = new HashMap<>();
    for (Path s : segments(dir)) {
      before.put(s, Files.readAllBytes(s));
    }
    IOException boom = new IOException("record 4 does not decode");
    assertThatThrownBy(
            () ->
                WalWriter.open(
                    LocalVfs.INSTANCE,
                    dir,
                    small(100),
                    1,
                    (lsn, payload) -> {
                      if (lsn == 4) {
                        throw boom;
                      }
                    }))
        .isSameAs(boom);
    assertThat(segments(dir)).containsExactlyInAnyOrderElementsOf(before.keySet());
    for (Path s : segments(dir)) {
      assertThat(Files.readAllBytes(s)).isEqualTo(before.get(s));
    }
  }

  @Test
  void closedWriterRejectsEverythingAndCloseIsIdempotent() throws Exception {
    WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.defaults());
    w.append(new byte[3], Durability.ASYNC);
    w.close();
    w.close();
    assertThat(w.durableLsn()).isEqualTo(1); // close made the ASYNC record durable
    assertThatThrownBy(() -> w.append(new byte[1], Durability.SYNC))
        .isInstanceOf(WalClosedException.class)
        .hasMessageContaining(dir.getFileName().toString());
    assertThatThrownBy(w::sync).isInstanceOf(WalClosedException.class);
    assertThatThrownBy(() -> w.truncateBefore(1)).isInstanceOf(WalClosedException.class);
    assertThat(Thread.getAllStackTraces().keySet())
        .noneMatch(t -> t.getName().equals("wal-syncer-" + w.dir()));
  }

  @Test
  void syncMakesAsyncRecordsDurableNow() throws Exception {
    WalOptions opts = WalOptions.builder().syncIntervalMs(3_600_000).build();
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    try (WalWriter w = WalWriter.open(vfs, dir, opts)) {
      WalAppend a = w.append(new byte[10], Durability.ASYNC);
      assertThat(a.durable().get(10, TimeUnit.SECONDS)).isEqualTo(1L); // written
      assertThat(w.durableLsn()).isZero(); // not fsynced: the syncer's period is an hour
      long syncs = vfs.syncs();
      w.sync();
      assertThat(w.durableLsn()).isEqualTo(1);
      assertThat(vfs.syncs()).isEqualTo(syncs + 1);
      w.sync(); // nothing new: no fsync
      assertThat(vfs.syncs()).isEqualTo(syncs + 1);
    }
  }

  @Test
  void theSyncerFsyncsAsyncRecordsWithinTheInterval() throws Exception {
    WalOptions opts = WalOptions.builder().syncIntervalMs(20).build();
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    try (WalWriter w = WalWriter.open(vfs, dir, opts)) {
      long before = vfs.syncs();
      CountDownLatch syncerSynced = new CountDownLatch(1);
      vfs.beforeSync(p -> syncerSynced.countDown());
      WalAppend a = w.append(new byte[10], Durability.ASYNC);
      a.durable().get(10, TimeUnit.SECONDS);
      assertThat(syncerSynced.await(10, TimeUnit.SECONDS)).isTrue();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (w.durableLsn() < a.lsn() && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      assertThat(w.durableLsn()).isEqualTo(a.lsn());
      assertThat(vfs.syncs()).isGreaterThan(before);
      // With nothing unsynced the syncer stays quiet.
      long quiet = vfs.syncs();
      Thread.sleep(100);
      assertThat(vfs.syncs()).isEqualTo(quiet);
    }
  }

  @Test
  void statsCountAppendsFsyncsAndTheirRatio() throws Exception {
    WalOptions opts = WalOptions.builder().syncIntervalMs(3_600_000).build();
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts)) {
      for (int i = 0; i < 5; i++) {
        w.append(new byte[12], Durability.ASYNC);
      }
      w.append(new byte[12], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
      WalStats s = w.stats();
      assertThat(s.appends()).isEqualTo(6);
      assertThat(s.bytesAppended()).isEqualTo(6 * 20);
      // Single-threaded: each ASYNC append led its own write; the SYNC one fsynced all six.
      assertThat(s.fsyncs()).isEqualTo(1);
      assertThat(s.recordsSynced()).isEqualTo(6);
      assertThat(s.bytesSynced()).isEqualTo(120);
      assertThat(s.maxRecordsPerFsync()).isEqualTo(6);
      assertThat(s.recordsPerFsync()).isEqualTo(6.0);
      assertThat(s.bytesPerFsync()).isEqualTo(120.0);
      List<Long> h = s.recordsPerFsyncHistogram();
      assertThat(h).hasSize(WalStats.RECORDS_PER_FSYNC_BUCKETS.size());
      assertThat(h.get(3)).isEqualTo(1); // bucket (4, 8]
      assertThat(h.stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
      w.append(new byte[12], Durability.SYNC).durable().get(10, TimeUnit.SECONDS);
      assertThat(w.stats().recordsPerFsyncHistogram().get(0)).isEqualTo(1); // bucket [1, 1]
      assertThat(w.stats().fsyncs()).isEqualTo(2);
    }
  }

  @Test
  void appendersWaitForQueueRoomInsteadOfGrowingItWithoutLimit() throws Exception {
    // A slow fsync holds the leader; ASYNC followers pile up until maxPendingBytes, then wait.
    WalOptions opts = WalOptions.builder().maxPendingBytes(100).syncIntervalMs(3_600_000).build();
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    CountDownLatch inSync = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    vfs.beforeSync(
        p -> {
          inSync.countDown();
          await(release);
        });
    try (WalWriter w = WalWriter.open(vfs, dir, opts)) {
      Thread leader = Thread.ofPlatform().start(() -> appendQuietly(w, Durability.SYNC));
      assertThat(inSync.await(10, TimeUnit.SECONDS)).isTrue();
      List<Long> lsns = new ArrayList<>();
      for (int i = 0; i < 2; i++) { // 2 x 48 encoded bytes fit in 100
        lsns.add(w.append(new byte[40], Durability.ASYNC).lsn());
      }
      Thread blocked = Thread.ofPlatform().start(() -> appendQuietly(w, Durability.ASYNC));
      waitUntilWaiting(blocked);
      assertThat(w.lastLsn()).isEqualTo(3); // the third follower has no LSN yet: it waits
      release.countDown();
      blocked.join(10_000);
      leader.join(10_000);
      assertThat(blocked.isAlive()).isFalse();
      assertThat(w.lastLsn()).isEqualTo(4);
      w.sync();
    }
    assertThat(readAll(dir)).hasSize(4);
  }

  @Test
  @Timeout(20)
  void dependentActionsOfACallersBatchMayAppendSyncAndClose() throws Exception {
    // The caller that led the batch completes its futures after letting go of leadership, so a
    // dependent action may lead a batch of its own.
    WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, WalOptions.builder().syncIntervalMs(3_600_000).build());
    CompletableFuture<Long> chained =
        w.append("first".getBytes(), Durability.SYNC)
            .durable()
            .thenApply(
                lsn -> {
                  try {
                    WalAppend next = w.append("second".getBytes(), Durability.ASYNC);
                    w.sync();
                    w.close();
                    return next.lsn();
                  } catch (Exception e) {
                    throw new AssertionError(e);
                  }
                });
    assertThat(chained.get(10, TimeUnit.SECONDS)).isEqualTo(2L);
    assertThat(readAll(dir)).extracting(r -> new String(r.payload())).containsExactly("first", "second");
  }

  @Test
  @Timeout(20)
  void onTheSyncerThreadSyncAndCloseRefuseInsteadOfDeadlocking() throws Exception {
    RecordingVfs vfs = new RecordingVfs(LocalVfs.INSTANCE);
    CountDownLatch inSync = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    vfs.beforeSync(
        p -> {
          if (first.getAndSet(false)) {
            inSync.countDown();
            await(release);
          }
        });
    WalWriter w = WalWriter.open(vfs, dir, WalOptions.builder().syncIntervalMs(3_600_000).build());
    try {
      Thread leader = Thread.ofPlatform().start(() -> appendQuietly(w, Durability.SYNC));
      assertThat(inSync.await(10, TimeUnit.SECONDS)).isTrue();
      // Queued behind the leader's fsync: the syncer will run this batch and complete the future.
      AtomicReference<String> thread = new AtomicReference<>();
      AtomicReference<Throwable> fromSync = new AtomicReference<>();
      AtomicReference<Throwable> fromClose = new AtomicReference<>();
      CompletableFuture<Void> done =
          w.append("follower".getBytes(), Durability.SYNC)
              .durable()
              .thenRun(
                  () -> {
                    thread.set(Thread.currentThread().getName());
                    try {
                      w.sync();
                    } catch (Throwable t) {
                      fromSync.set(t);
                    }
                    try {
                      w.close();
                    } catch (Throwable t) {
                      fromClose.set(t);
                    }
                  });
      release.countDown();
      done.get(10, TimeUnit.SECONDS);
      leader.join(10_000);
      assertThat(thread.get()).startsWith("wal-syncer-");
      assertThat(fromSync.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("Async");
      assertThat(fromClose.get()).isInstanceOf(IllegalStateException.class);
    } finally {
      w.close();
    }
  }

  private static void appendQuietly(WalWriter w, Durability d) {
    try {
      w.append(new byte[40], d).durable().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static void await(CountDownLatch l) {
    try {
      if (!l.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not released within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  static void waitUntilWaiting(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    // TIMED_WAITING: our waits are awaitNanos slices (parking on the lock itself is WAITING).
    while (t.getState() != Thread.State.TIMED_WAITING) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("thread never waited: " + t.getState());
      }
      Thread.sleep(1);
    }
  }
}
