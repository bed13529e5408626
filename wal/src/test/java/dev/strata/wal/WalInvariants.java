package dev.strata.wal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Small named checks on what a WAL gives back, reused by unit, property and crash tests (STYLE: one
 * name per invariant, so a failure says which promise broke).
 */
final class WalInvariants {
  private WalInvariants() {}

  /** GapFree: recovered LSNs are consecutive. */
  static void gapFree(List<WalRecord> recovered) {
    for (int i = 1; i < recovered.size(); i++) {
      assertThat(recovered.get(i).lsn())
          .as("GapFree: record %d follows LSN %d", i, recovered.get(i - 1).lsn())
          .isEqualTo(recovered.get(i - 1).lsn() + 1);
    }
  }

  /** ByteExact: every recovered record is exactly what was appended with its LSN (nothing foreign). */
  static void byteExact(List<WalRecord> recovered, Map<Long, byte[]> appendedByLsn) {
    for (WalRecord r : recovered) {
      byte[] expected = appendedByLsn.get(r.lsn());
      assertThat(expected).as("ByteExact: LSN %d was never appended", r.lsn()).isNotNull();
      assertThat(Arrays.equals(r.payload(), expected))
          .as("ByteExact: payload of LSN %d (%d bytes, expected %d)", r.lsn(), r.payload().length, expected.length)
          .isTrue();
    }
  }

  /** NothingLostAcknowledged: every acknowledged LSN at or above {@code keptFrom} was recovered. */
  static void acknowledgedKept(List<WalRecord> recovered, Collection<Long> acknowledged, long keptFrom) {
    long last = recovered.isEmpty() ? 0 : recovered.get(recovered.size() - 1).lsn();
    long first = recovered.isEmpty() ? Long.MAX_VALUE : recovered.get(0).lsn();
    for (long lsn : acknowledged) {
      if (lsn < keptFrom) {
        continue;
      }
      assertThat(lsn >= first && lsn <= last)
          .as("NothingLostAcknowledged: LSN %d was acknowledged but recovery kept [%d, %d]", lsn, first, last)
          .isTrue();
    }
  }

  /** All three, for a crash test: a gap-free, byte-exact run holding every acknowledged record. */
  static void acknowledgedGapFreePrefix(
      List<WalRecord> recovered, Map<Long, byte[]> appendedByLsn, Collection<Long> acknowledged, long keptFrom) {
    gapFree(recovered);
    byteExact(recovered, appendedByLsn);
    acknowledgedKept(recovered, acknowledged, keptFrom);
  }
}
