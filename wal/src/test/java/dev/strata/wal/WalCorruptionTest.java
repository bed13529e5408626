package dev.strata.wal;

import static dev.strata.wal.WalTesting.readAll;
import static dev.strata.wal.WalTesting.segments;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.strata.vfs.LocalVfs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged logs under each {@link WalRecoveryMode}. Every record here is 20 payload bytes, 28 encoded
 * bytes, so offsets are easy to compute; segments hold 5 records.
 */
class WalCorruptionTest {

  private static final int REC = 28;

  @TempDir Path dir;

  private static WalOptions opts(WalRecoveryMode mode) {
    return WalOptions.builder().segmentBytes(5 * REC).recoveryMode(mode).build();
  }

  /** Writes {@code n} records, payload i = 20 bytes of value i. */
  private void write(int n) throws IOException {
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts(WalRecoveryMode.ABSOLUTE_CONSISTENCY))) {
      for (int i = 1; i <= n; i++) {
        w.append(payloadOf(i), Durability.ASYNC);
      }
    }
  }

  private static byte[] payloadOf(int i) {
    byte[] b = new byte[20];
    java.util.Arrays.fill(b, (byte) i);
    return b;
  }

  private static void flipByte(Path file, long offset) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[(int) offset] ^= 0x5A;
    Files.write(file, b);
  }

  private static void cut(Path file, long size) throws IOException {
    try (var ch = Files.newByteChannel(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    }
  }

  private static void appendBytes(Path file, byte[] bytes) throws IOException {
    Files.write(file, bytes, StandardOpenOption.APPEND);
  }

  private Path segment(int index) throws IOException {
    return segments(dir).get(index);
  }

  /**
   * Opens with one-pass replay and checks that it delivered exactly what a reader finds after the
   * repair: every test below runs through it.
   */
  private WalRecoveryReport openAndClose(WalRecoveryMode mode) throws IOException {
    List<WalRecord> replayed = new ArrayList<>();
    WalRecoveryReport report;
    try (WalWriter w = WalTesting.openReplaying(LocalVfs.INSTANCE, dir, opts(mode), 0, replayed)) {
      report = w.recoveryReport();
    }
    WalTesting.assertSameRecords(replayed, readAll(dir));
    return report;
  }

  private WalCorruptionException openFails(WalRecoveryMode mode) {
    return catchThrowableOfType(WalCorruptionException.class, () -> openAndClose(mode));
  }

  // --- TOLERATE_CORRUPTED_TAIL -----------------------------------------------------------------

  @Test
  void tolerateCutsAChecksumMismatchInTheLastRecordOfTheLastSegment() throws Exception {
    write(10);
    Path last = segment(1);
    flipByte(last, 4 * REC + 8 + 10); // inside record 10's payload
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL))) {
      WalRecoveryReport r = w.recoveryReport();
      assertThat(r.clean()).isFalse();
      assertThat(r.fileTruncated()).isTrue();
      assertThat(r.truncatedFile()).isEqualTo(last);
      assertThat(r.bytesTruncated()).isEqualTo(REC);
      assertThat(r.recordsRead()).isEqualTo(9);
      assertThat(r.lastLsn()).isEqualTo(9);
      assertThat(r.problem()).contains("checksum mismatch").contains(last.toString()).contains("offset " + 4 * REC);
      assertThat(Files.size(last)).isEqualTo(4 * REC);
      assertThat(w.append(payloadOf(99), Durability.SYNC).durable().get(10, TimeUnit.SECONDS)).isEqualTo(10L);
    }
    List<WalRecord> all = readAll(dir);
    assertThat(all).extracting(WalRecord::lsn).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    assertThat(all.get(9).payload()).isEqualTo(payloadOf(99));
  }

  @Test
  void tolerateCutsATornPayloadAndATornHeader() throws Exception {
    write(10);
    Path last = segment(1);
    cut(last, 4 * REC + 13);
    WalRecoveryReport r = openAndClose(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(r.bytesTruncated()).isEqualTo(13);
    assertThat(r.problem()).contains("torn record");
    assertThat(r.lastLsn()).isEqualTo(9);

    cut(last, 3 * REC + 5);
    r = openAndClose(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(r.bytesTruncated()).isEqualTo(5);
    assertThat(r.problem()).contains("torn record header");
    assertThat(r.lastLsn()).isEqualTo(8);
    assertThat(readAll(dir)).hasSize(8);
  }

  @Test
  void tolerateCutsAZeroFilledTail() throws Exception {
    write(10);
    Path last = segment(1);
    appendBytes(last, new byte[4096]);
    WalRecoveryReport r = openAndClose(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(r.bytesTruncated()).isEqualTo(4096);
    assertThat(r.lastLsn()).isEqualTo(10);
    assertThat(Files.size(last)).isEqualTo(5 * REC);
  }

  @Test
  void tolerateRefusesCorruptionBeforeTheTailOfTheLastSegment() throws Exception {
    write(10);
    Path last = segment(1);
    flipByte(last, 2 * REC + 8 + 3); // record 8 of 10: records 9 and 10 follow it
    byte[] before = Files.readAllBytes(last);
    WalCorruptionException e = openFails(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(last);
    assertThat(e.offset()).isEqualTo(2 * REC);
    assertThat(e.getMessage()).contains(last.toString()).contains("offset " + 2 * REC).contains("data follows");
    assertThat(Files.readAllBytes(last)).isEqualTo(before); // nothing was changed
  }

  @Test
  void tolerateRefusesAnImpossibleLengthBeforeTheTail() throws Exception {
    write(10);
    Path last = segment(1);
    byte[] b = Files.readAllBytes(last);
    ByteBuffer.wrap(b).putInt(REC, 0x7FFF_FFFF); // record 7's length
    Files.write(last, b);
    WalCorruptionException e = openFails(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(e).isNotNull();
    assertThat(e.offset()).isEqualTo(REC);
    assertThat(e.getMessage()).contains("impossible record length");
  }

  @Test
  void tolerateRefusesCorruptionInAnEarlierSegmentEvenAtItsEnd() throws Exception {
    write(15);
    Path first = segment(0);
    flipByte(first, 4 * REC + 8 + 1); // the last record of the first segment
    WalCorruptionException e = openFails(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(first);
    assertThat(e.offset()).isEqualTo(4 * REC);
    assertThat(e.getMessage()).contains("not in the last segment");
    assertThat(segments(dir)).hasSize(3);
  }

  @Test
  void tolerateRefusesAMissingSegment() throws Exception {
    write(15);
    Path middle = segment(1);
    Files.delete(middle);
    WalCorruptionException e = openFails(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL);
    assertThat(e).isNotNull();
    assertThat(e.file().getFileName().toString()).isEqualTo("00000000000000000011.wal");
    assertThat(e.getMessage()).contains("records are missing").contains("ends at LSN 5");
  }

  // --- ABSOLUTE_CONSISTENCY --------------------------------------------------------------------

  @Test
  void absoluteConsistencyFailsOnTheTailToo() throws Exception {
    write(10);
    assertThat(openAndClose(WalRecoveryMode.ABSOLUTE_CONSISTENCY).clean()).isTrue();
    Path last = segment(1);
    flipByte(last, 4 * REC + 8);
    WalCorruptionException e = openFails(WalRecoveryMode.ABSOLUTE_CONSISTENCY);
    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(last);
    assertThat(e.offset()).isEqualTo(4 * REC);
    flipByte(last, 4 * REC + 8); // repaired
    cut(last, 4 * REC + 3);
    e = openFails(WalRecoveryMode.ABSOLUTE_CONSISTENCY);
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("torn record header");
    assertThat(Files.size(last)).isEqualTo(4 * REC + 3); // nothing was changed
  }

  // --- POINT_IN_TIME ---------------------------------------------------------------------------

  @Test
  void pointInTimeStopsAtTheFirstCorruptionAndDropsEverythingAfter() throws Exception {
    write(20); // 4 segments: 1..5, 6..10, 11..15, 16..20
    Path second = segment(1);
    flipByte(second, 2 * REC + 8 + 19); // LSN 8
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts(WalRecoveryMode.POINT_IN_TIME))) {
      WalRecoveryReport r = w.recoveryReport();
      assertThat(r.lastLsn()).isEqualTo(7);
      assertThat(r.recordsRead()).isEqualTo(7);
      assertThat(r.truncatedFile()).isEqualTo(second);
      assertThat(r.bytesTruncated()).isEqualTo(3 * REC);
      assertThat(r.segmentsDeleted()).isEqualTo(2);
      assertThat(segments(dir)).hasSize(2);
      assertThat(w.append(payloadOf(8), Durability.SYNC).lsn()).isEqualTo(8);
    }
    assertThat(openAndClose(WalRecoveryMode.TOLERATE_CORRUPTED_TAIL).clean()).isTrue();
    List<WalRecord> all = readAll(dir);
    assertThat(all).extracting(WalRecord::lsn).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
  }

  @Test
  void pointInTimeStopsAtAGapBetweenSegments() throws Exception {
    write(20);
    Files.delete(segment(1));
    WalRecoveryReport r = openAndClose(WalRecoveryMode.POINT_IN_TIME);
    assertThat(r.lastLsn()).isEqualTo(5);
    assertThat(r.segmentsDeleted()).isEqualTo(2);
    assertThat(r.truncatedFile()).isNull();
    assertThat(r.problem()).contains("records are missing");
    assertThat(segments(dir)).hasSize(1);
  }

  @Test
  void pointInTimeWithCorruptionAtTheFirstByteOfALaterSegmentLeavesItEmpty() throws Exception {
    write(10);
    Path second = segment(1);
    flipByte(second, 8);
    try (WalWriter w = WalWriter.open(LocalVfs.INSTANCE, dir, opts(WalRecoveryMode.POINT_IN_TIME))) {
      assertThat(w.recoveryReport().lastLsn()).isEqualTo(5);
      assertThat(Files.size(second)).isZero();
      assertThat(w.append(payloadOf(6), Durability.SYNC).lsn()).isEqualTo(6);
    }
    assertThat(readAll(dir)).hasSize(6);
    WalInvariants.gapFree(readAll(dir));
  }

  // --- Reader ----------------------------------------------------------------------------------

  @Test
  void readerRefusesCorruptionAndStopsQuietlyAtATornLastRecord() throws Exception {
    write(10);
    Path last = segment(1);
    cut(last, 4 * REC + 10);
    assertThat(readAll(dir)).hasSize(9);
    flipByte(last, REC + 9);
    WalCorruptionException e =
        catchThrowableOfType(WalCorruptionException.class, () -> readAll(dir));
    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(last);
    assertThat(e.offset()).isEqualTo(REC);
  }
}
