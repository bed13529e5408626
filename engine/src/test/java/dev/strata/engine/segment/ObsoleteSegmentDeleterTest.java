package dev.strata.engine.segment;

import static dev.strata.engine.segment.TestData.awaitDeletions;
import static dev.strata.engine.segment.TestData.doc;
import static dev.strata.engine.segment.TestData.put;
import static dev.strata.engine.segment.TestData.writeAndIngest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The background deletion of obsolete segments: only after the last release, never on the
 * releasing thread, drained on close, bounded (inline when full), failures counted and left to the
 * orphan sweep of the next open.
 */
class ObsoleteSegmentDeleterTest {
  private static final CollectionSchema EMPTY = new CollectionSchema(List.of());

  @TempDir Path dataDir;

  /** Records which threads delete segment directories, and can hold them at a latch. */
  private static final class WatchingVfs extends ForwardingVfs {
    final Set<String> deletingThreads = ConcurrentHashMap.newKeySet();
    volatile CountDownLatch gate = new CountDownLatch(0);
    final CountDownLatch firstDeleteEntered = new CountDownLatch(1);

    WatchingVfs(Vfs delegate) {
      super(delegate);
    }

    @Override
    public void deleteRecursively(Path dir) throws IOException {
      if (dir.getParent() != null && dir.getParent().getFileName().toString().equals("segments")) {
        deletingThreads.add(Thread.currentThread().getName());
        firstDeleteEntered.countDown();
        try {
          if (!gate.await(30, TimeUnit.SECONDS)) {
            throw new IOException("test gate never opened");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }
      super.deleteRecursively(dir);
    }
  }

  private SegmentStore open(Vfs vfs) throws IOException {
    return SegmentStore.open(dataDir, SegmentStoreOptions.defaults().withBlockCacheBytes(8 << 20).withVfs(vfs));
  }

  @Test
  void aSegmentIsDeletedOnlyAfterItsLastReleaseAndOffTheReleasingThread() throws Exception {
    WatchingVfs vfs = new WatchingVfs(LocalVfs.INSTANCE);
    SegmentStore store = open(vfs);
    try {
      writeAndIngest(store, 1, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
      Segment h1 = store.acquire(1);
      Segment h2 = store.acquire(1);
      store.markObsolete(1);
      awaitDeletions(store);
      assertThat(Files.exists(store.segmentDir(1))).as("two handles held").isTrue();
      assertThatThrownBy(() -> store.acquire(1)).isInstanceOf(IllegalStateException.class);
      h1.release();
      awaitDeletions(store);
      assertThat(Files.exists(store.segmentDir(1))).as("one handle held").isTrue();
      assertThat(store.get(1, "c", "a")).isNotNull();
      h2.release();
      awaitDeletions(store);
      assertThat(Files.exists(store.segmentDir(1))).as("after the last release").isFalse();
      assertThat(store.segmentIdsInRocksDb()).isEmpty();
      assertThat(vfs.deletingThreads).as("threads that deleted segment files")
          .allSatisfy(t -> assertThat(t).startsWith("strata-segment-deleter-"));
      assertThat(store.deletionStats()).isEqualTo(new SegmentStore.DeletionStats(0, 1, 0, 0));
    } finally {
      store.close();
    }
  }

  @Test
  void closeDrainsTheQueue() throws Exception {
    WatchingVfs vfs = new WatchingVfs(LocalVfs.INSTANCE);
    SegmentStore store = open(vfs);
    for (long id = 1; id <= 5; id++) {
      writeAndIngest(store, id, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    }
    CountDownLatch gate = new CountDownLatch(1);
    vfs.gate = gate;
    for (long id = 1; id <= 5; id++) {
      store.markObsolete(id); // returns at once: the deleter thread does the I/O
    }
    assertThat(vfs.firstDeleteEntered.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(store.deletionStats().pending()).as("queued or running").isEqualTo(5);
    CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> {
      try {
        store.close();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(100); // let close start waiting for the held deletion
    assertThat(closing).as("close waits for the queued deletions").isNotDone();
    gate.countDown();
    closing.get(30, TimeUnit.SECONDS);
    for (long id = 1; id <= 5; id++) {
      assertThat(Files.exists(dataDir.resolve("segments").resolve(SegmentStore.hex(id)))).as("segment %d", id).isFalse();
    }
    SegmentStore reopened = open(LocalVfs.INSTANCE);
    try {
      assertThat(reopened.segmentIdsInRocksDb()).as("key ranges deleted before RocksDB closed").isEmpty();
    } finally {
      reopened.close();
    }
  }

  @Test
  void aFailedDeletionIsCountedAndTheNextOpenDeletesTheSegment() throws Exception {
    FaultInjectingVfs vfs = new FaultInjectingVfs(LocalVfs.INSTANCE);
    SegmentStore store = open(vfs);
    writeAndIngest(store, 7, List.of(put("c", 1, doc("a"))), Map.of("c", EMPTY));
    writeAndIngest(store, 8, List.of(put("c", 1, doc("b"))), Map.of("c", EMPTY));
    vfs.failNext(FaultInjectingVfs.Op.DELETE, FaultInjectingVfs.Fault.IO_ERROR);
    store.markObsolete(7);
    awaitDeletions(store);
    SegmentStore.DeletionStats stats = store.deletionStats();
    assertThat(stats.failed()).isEqualTo(1);
    assertThat(stats.deleted()).isZero();
    assertThat(store.segmentIdsOnDisk()).as("the failed deletion left the directory").contains(7L);
    store.close();

    SegmentStore reopened = open(LocalVfs.INSTANCE);
    try {
      OrphanCleanup swept = reopened.deleteOrphans(Set.of(8L));
      assertThat(swept.directoriesRemoved()).containsExactly(7L);
      assertThat(reopened.segmentIdsOnDisk()).containsExactly(8L);
      assertThat(reopened.segmentIdsInRocksDb()).containsExactly(8L);
      assertThat(reopened.get(8, "c", "b")).isNotNull();
    } finally {
      reopened.close();
    }
  }

  @Test
  void aFullQueueDeletesOnTheReleasingThread() throws Exception {
    WatchingVfs vfs = new WatchingVfs(LocalVfs.INSTANCE);
    SegmentLayout layout = new SegmentLayout(dataDir);
    Files.createDirectories(layout.segmentsDir());
    Files.createDirectories(layout.rocksDbDir());
    try (SegmentDb db = SegmentDb.open(layout.rocksDbDir(), 8 << 20)) {
      Set<Long> done = ConcurrentHashMap.newKeySet();
      ObsoleteSegmentDeleter deleter = new ObsoleteSegmentDeleter(db, layout, vfs, s -> done.add(s.segmentId), 1);
      for (long id = 1; id <= 3; id++) {
        Files.createDirectories(layout.segmentDir(id));
      }
      CountDownLatch gate = new CountDownLatch(1);
      vfs.gate = gate;
      deleter.enqueue(new SharedSegment(1)); // taken by the thread, held at the gate
      assertThat(vfs.firstDeleteEntered.await(30, TimeUnit.SECONDS)).isTrue();
      deleter.enqueue(new SharedSegment(2)); // fills the queue (capacity 1)
      vfs.gate = new CountDownLatch(0); // the inline deletion must not wait at the gate
      deleter.enqueue(new SharedSegment(3)); // no room: runs here
      assertThat(deleter.inlineDeletions()).isEqualTo(1);
      assertThat(done).contains(3L);
      assertThat(vfs.deletingThreads).contains(Thread.currentThread().getName());
      gate.countDown();
      assertThat(deleter.awaitIdle(30_000)).isTrue();
      assertThat(done).containsExactlyInAnyOrder(1L, 2L, 3L);
      assertThat(deleter.deletedCount()).isEqualTo(3);
      deleter.close();
      for (long id = 1; id <= 3; id++) {
        assertThat(Files.exists(layout.segmentDir(id))).isFalse();
      }
    }
  }
}
