package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.awaitDeletions;
import static dev.strata.engine.segment.TestData.BOOKS;
import static dev.strata.engine.segment.TestData.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.vfs.FaultInjectingVfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fails the N-th file-system call of a write + ingest for N = 0, 1, 2, ... until a run succeeds
 * (Pebble's errorfs sweep): every failure must surface as an IOException or leave a segment that is
 * fully usable, and a discard after a failure must leave nothing behind.
 */
class SegmentFaultSweepTest {

  @Test
  void everyFileSystemCallOfWriteAndIngestCanFail(@TempDir Path dir) throws IOException {
    FaultInjectingVfs vfs = new FaultInjectingVfs();
    try (SegmentStore store =
        SegmentStore.open(
            dir, SegmentStoreOptions.defaults().withBlockCacheBytes(1 << 20).withVfs(vfs))) {
      List<SegmentEntry> entries =
          List.of(
              SegmentEntry.put("c", 1, doc("a", "title", "hello")),
              SegmentEntry.tombstone("c", 2, "b"));
      // A clean run first, to count the file-system calls of one write + ingest.
      long before = vfs.operationCount();
      store.ingest(store.write(999, entries, Map.of("c", BOOKS)));
      int calls = (int) (vfs.operationCount() - before);
      store.discard(999);
      awaitDeletions(store);
      assertThat(calls).isGreaterThanOrEqualTo(5);

      int failures = 0;
      for (int n = 0; n < calls; n++) {
        long id = 1000 + n;
        vfs.clearFaults();
        vfs.failOperation(vfs.operationCount() + n, FaultInjectingVfs.Fault.IO_ERROR);
        WrittenSegment w = null;
        try {
          w = store.write(id, entries, Map.of("c", BOOKS));
          store.ingest(w);
          // Tolerated failure (the staging cleanup after a durable ingest): the segment is whole.
          assertThat(store.check(id, w.contentChecksum())).as("n=%d", n).isEmpty();
          assertThat(store.get(id, "c", "a")).as("n=%d", n).isNotNull();
        } catch (IOException e) {
          assertThat(e).as("n=%d", n).isInstanceOf(FaultInjectingVfs.InjectedIOException.class);
          failures++;
        }
        vfs.clearFaults();
        store.discard(id);
        awaitDeletions(store);
        assertThat(store.segmentIdsOnDisk()).as("n=%d", n).isEmpty();
        assertThat(store.segmentIdsInRocksDb()).as("n=%d", n).isEmpty();
      }
      System.out.printf(
          "fault sweep: %d file-system calls per write+ingest, %d surfaced as IOException%n",
          calls, failures);
      assertThat(failures)
          .as("failures that surfaced")
          .isEqualTo(calls - 1); // all but the staging cleanup
    }
  }
}
