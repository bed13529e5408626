package dev.strata.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.manifest.CatalogConflictException.Reason;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.vfs.LocalVfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fork catalog: entries, state transitions, persistence, retention of versions, corruption. */
class ForkCatalogTest {

  @TempDir Path tmp;
  private Path dir;

  @BeforeEach
  void setUp() {
    dir = ForkCatalog.directoryFor(tmp);
  }

  private ForkCatalog open() throws Exception {
    return ForkCatalog.open(LocalVfs.INSTANCE, dir);
  }

  @Test
  void anEmptyCatalogIsVersionZero() throws Exception {
    try (ForkCatalog cat = open()) {
      assertThat(cat.current()).isEqualTo(CatalogSnapshot.EMPTY);
      assertThat(cat.byName("main")).isEmpty();
    }
  }

  @Test
  void tagsAreVersionedWithTheCatalogAndSurviveReopen() throws Exception {
    ForkEntry main = ForkEntry.create("main", "", 1000);
    try (ForkCatalog cat = open()) {
      cat.put(main);
      CatalogSnapshot tagged = cat.putTag("release-1", "main-aaaa-000000000001");
      cat.putTag("latest", "main-aaaa-000000000001");
      cat.putTag("latest", "main-aaaa-000000000002");
      assertThat(tagged.tags()).containsOnlyKeys("release-1");
      assertThat(cat.current().tags())
          .containsEntry("latest", "main-aaaa-000000000002")
          .containsEntry("release-1", "main-aaaa-000000000001");
      cat.removeTag("release-1");
      assertThatThrownBy(() -> cat.removeTag("release-1"))
          .isInstanceOf(CatalogConflictException.class)
          .hasMessageContaining("no tag");
    }
    try (ForkCatalog cat = open()) {
      assertThat(cat.current().tags()).containsExactly(java.util.Map.entry("latest", "main-aaaa-000000000002"));
      assertThat(cat.current().forks()).containsExactly(main);
    }
  }

  @Test
  void entriesAreFoundByNameAndIdAndSurviveReopen() throws Exception {
    ForkEntry main = ForkEntry.create("main", "", 1000);
    ForkEntry dev = ForkEntry.create("dev", "s42", 2000);
    CatalogSnapshot afterDev;
    try (ForkCatalog cat = open()) {
      CatalogSnapshot v1 = cat.put(main);
      afterDev = cat.put(dev);
      assertThat(v1.version()).isEqualTo(1);
      assertThat(v1.forks()).containsExactly(main);
      assertThat(afterDev.version()).isEqualTo(2);
      assertThat(afterDev.forks()).containsExactly(dev, main); // sorted by name
      assertThat(cat.byName("dev")).contains(dev);
      assertThat(cat.byId(main.forkId())).contains(main);
      assertThat(v1.byName("dev")).as("an old snapshot never changes").isEmpty();
    }
    try (ForkCatalog cat = open()) {
      assertThat(cat.current()).isEqualTo(afterDev);
    }
  }

  @Test
  void theLifecycleIsActiveDroppingRemovedOrBackToActive() throws Exception {
    try (ForkCatalog cat = open()) {
      ForkEntry dev = ForkEntry.create("dev", "s1", 5);
      cat.put(dev);
      assertConflict(() -> cat.remove(dev.forkId()), Reason.ILLEGAL_TRANSITION); // ACTIVE cannot be removed
      assertConflict(() -> cat.update(dev), Reason.ILLEGAL_TRANSITION); // ACTIVE -> ACTIVE
      cat.update(dev.withState(ForkState.DROPPING));
      assertThat(cat.byName("dev").orElseThrow().state()).isEqualTo(ForkState.DROPPING);
      assertConflict(() -> cat.put(ForkEntry.create("dev", "", 6)), Reason.NAME_TAKEN); // still taken while dropping
      cat.update(dev); // drain timed out: back to ACTIVE
      cat.update(dev.withState(ForkState.DROPPING));
      CatalogSnapshot gone = cat.remove(dev.forkId());
      assertThat(gone.byId(dev.forkId())).isEmpty();
      assertConflict(() -> cat.remove(dev.forkId()), Reason.NOT_FOUND);
      assertConflict(() -> cat.update(dev), Reason.NOT_FOUND);
      // Re-created under the same name: a new id.
      ForkEntry again = ForkEntry.create("dev", "s9", 7);
      cat.put(again);
      assertThat(again.forkId()).isNotEqualTo(dev.forkId());
    }
  }

  @Test
  void putAndUpdateRulesAreEnforced() throws Exception {
    try (ForkCatalog cat = open()) {
      ForkEntry main = ForkEntry.create("main", "", 1);
      cat.put(main);
      long version = cat.current().version();
      assertConflict(() -> cat.put(main), Reason.ID_TAKEN);
      assertConflict(() -> cat.put(new ForkEntry("other-1", "main", "", ForkState.ACTIVE, 1)), Reason.NAME_TAKEN);
      assertConflict(() -> cat.put(ForkEntry.create("x", "", 1).withState(ForkState.DROPPING)), Reason.ILLEGAL_TRANSITION);
      assertConflict(() -> cat.update(new ForkEntry(main.forkId(), "renamed", "", ForkState.DROPPING, 1)), Reason.IMMUTABLE_FIELD);
      assertConflict(() -> cat.update(new ForkEntry(main.forkId(), "main", "b", ForkState.DROPPING, 1)), Reason.IMMUTABLE_FIELD);
      assertThat(cat.current().version()).as("refused changes write nothing").isEqualTo(version);
    }
  }

  @Test
  void onlyTheLastTwoVersionsAreKept() throws Exception {
    try (ForkCatalog cat = open()) {
      for (int i = 0; i < 6; i++) {
        cat.put(ForkEntry.create("f" + i, "", i));
      }
    }
    assertThat(catalogFiles()).containsExactly("00000000000000000005.catalog", "00000000000000000006.catalog");
  }

  @Test
  void concurrentChangesAreSerialisedAndNoneIsLost() throws Exception {
    int threads = 4;
    int perThread = 15;
    try (ForkCatalog cat = ForkCatalog.open(new SlowSyncVfs(LocalVfs.INSTANCE, 300_000), dir)) {
      CyclicBarrier start = new CyclicBarrier(threads);
      AtomicReference<Throwable> error = new AtomicReference<>();
      AtomicInteger sameNameWins = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        Thread th = new Thread(() -> {
          try {
            start.await();
            for (int i = 0; i < perThread; i++) {
              cat.put(ForkEntry.create("t" + thread + "-" + i, "", i));
              try {
                cat.put(ForkEntry.create("shared-" + i, "", i));
                sameNameWins.incrementAndGet();
              } catch (CatalogConflictException e) {
                assertThat(e.reason()).isEqualTo(Reason.NAME_TAKEN);
              }
            }
          } catch (Throwable e) {
            error.compareAndSet(null, e);
          }
        }, "catalog-writer-" + t);
        ts.add(th);
        th.start();
      }
      for (Thread th : ts) {
        th.join();
      }
      assertThat(error.get()).isNull();
      assertThat(sameNameWins.get()).isEqualTo(perThread);
      assertThat(cat.current().size()).isEqualTo(threads * perThread + perThread);
      assertThat(cat.current().version()).isEqualTo(threads * perThread + perThread);
    }
    try (ForkCatalog cat = open()) {
      assertThat(cat.current().size()).isEqualTo(threads * perThread + perThread);
    }
  }

  @Test
  void aCorruptCatalogFailsOpenNamingTheFileUnlessRepairing() throws Exception {
    try (ForkCatalog cat = open()) {
      cat.put(ForkEntry.create("main", "", 1));
      cat.put(ForkEntry.create("dev", "s1", 2));
    }
    Path newest = dir.resolve("00000000000000000002.catalog");
    ManifestStoreTest.flipByte(newest, 25);
    assertThatThrownBy(this::open)
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining(newest.toString());
    try (ForkCatalog cat = ForkCatalog.open(LocalVfs.INSTANCE, dir, CorruptionPolicy.MOVE_ASIDE)) {
      assertThat(cat.current().version()).isEqualTo(1);
      assertThat(cat.byName("main")).isPresent();
      assertThat(cat.byName("dev")).isEmpty();
      assertThat(cat.openReport().movedAsideFiles()).hasSize(1);
    }
  }

  @Test
  void invalidEntriesInAFileWithAGoodChecksumAreCorruption() throws Exception {
    Files.createDirectories(dir);
    byte[] bytes = Envelope.wrap(ForkCatalogCodec.MAGIC, dev.strata.manifest.proto.ForkCatalogFile.newBuilder()
        .setVersion(1)
        .addForks(dev.strata.manifest.proto.ForkEntry.newBuilder().setForkId("evil-1").setName("../etc")
            .setState(dev.strata.manifest.proto.ForkEntryState.FORK_ENTRY_STATE_ACTIVE))
        .build().toByteArray());
    Files.write(dir.resolve("00000000000000000001.catalog"), bytes);
    assertThatThrownBy(this::open)
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining("00000000000000000001.catalog")
        .extracting(e -> ((ManifestCorruptionException) e).kind())
        .isEqualTo(Kind.INCONSISTENT);
  }

  @Test
  void aClosedCatalogRefusesChanges() throws Exception {
    ForkCatalog cat = open();
    cat.put(ForkEntry.create("main", "", 1));
    cat.close();
    assertThat(cat.byName("main")).isPresent();
    assertThatThrownBy(() -> cat.put(ForkEntry.create("dev", "", 1))).isInstanceOf(StoreClosedException.class);
  }

  private List<String> catalogFiles() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  interface Call {
    void run() throws Exception;
  }

  private static void assertConflict(Call call, Reason reason) {
    assertThatThrownBy(call::run)
        .isInstanceOf(CatalogConflictException.class)
        .extracting(e -> ((CatalogConflictException) e).reason())
        .isEqualTo(reason);
  }
}
