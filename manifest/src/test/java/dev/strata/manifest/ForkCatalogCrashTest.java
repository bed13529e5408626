package dev.strata.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.FaultInjectingVfs.Fault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The errorfs sweep and crash for every kind of catalog change (put, update, remove): after reopen
 * the catalog is exactly the old or the new version, never torn or missing.
 */
class ForkCatalogCrashTest {

  /** The I/O calls of a change up to durability; pruning old versions follows. */
  private static final List<String> STEPS = List.of("CREATE", "WRITE", "SYNC", "RENAME", "SYNC_DIR");

  @TempDir Path tmp;

  /** A change of the catalog; "dev" exists ACTIVE and "old" exists DROPPING before it. */
  enum Change {
    PUT {
      @Override
      CatalogSnapshot apply(ForkCatalog cat) throws Exception {
        return cat.put(new ForkEntry("new-4", "new", "s5", ForkState.ACTIVE, 9));
      }
    },
    UPDATE {
      @Override
      CatalogSnapshot apply(ForkCatalog cat) throws Exception {
        return cat.update(cat.byName("dev").orElseThrow().withState(ForkState.DROPPING));
      }
    },
    REMOVE {
      @Override
      CatalogSnapshot apply(ForkCatalog cat) throws Exception {
        return cat.remove(cat.byName("old").orElseThrow().forkId());
      }
    };

    abstract CatalogSnapshot apply(ForkCatalog cat) throws Exception;
  }

  static List<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Change c : Change.values()) {
      for (Fault f : new Fault[] {Fault.IO_ERROR, Fault.SHORT_WRITE}) {
        out.add(Arguments.of(c, f, false));
        out.add(Arguments.of(c, f, true));
      }
    }
    return out;
  }

  private static void setUp(ForkCatalog cat) throws Exception {
    cat.put(new ForkEntry("main-1", "main", "", ForkState.ACTIVE, 1));
    cat.put(new ForkEntry("dev-2", "dev", "s1", ForkState.ACTIVE, 2));
    ForkEntry old = new ForkEntry("old-3", "old", "s2", ForkState.ACTIVE, 3);
    cat.put(old);
    cat.update(old.withState(ForkState.DROPPING)); // version 4; 3 and 4 on disk
  }

  @ParameterizedTest(name = "{0} {1} crash={2}")
  @MethodSource("cases")
  void anIoErrorAtEveryStepOfAChangeLeavesTheOldOrTheNewCatalog(Change change, Fault fault, boolean crash)
      throws Exception {
    int failedBeforeDurable = 0;
    for (int n = 0; ; n++) {
      Path dir = tmp.resolve(change + "-" + fault + "-" + crash + "-" + n);
      FaultInjectingVfs vfs = new FaultInjectingVfs();
      ForkCatalog cat = ForkCatalog.open(vfs, dir);
      setUp(cat);
      CatalogSnapshot before = cat.current();
      CatalogSnapshot after;
      try (ForkCatalog model = ForkCatalog.open(new FaultInjectingVfs(), tmp.resolve("model-" + dir.getFileName()))) {
        setUp(model);
        after = change.apply(model);
      }

      long base = vfs.operationCount();
      vfs.failOperation(base + n, fault);
      Exception failure = null;
      CatalogSnapshot result = null;
      try {
        result = change.apply(cat);
      } catch (IOException e) {
        failure = e;
      }
      boolean reached = vfs.operationCount() > base + n;
      vfs.clearFaults();
      if (!reached) {
        assertThat(result).isEqualTo(after);
        break;
      }
      boolean durableStep = n < STEPS.size();
      if (durableStep) {
        failedBeforeDurable++;
        assertThat(failure).as("step %s", STEPS.get(n)).isInstanceOf(FaultInjectingVfs.InjectedIOException.class);
        assertThat(cat.current()).isEqualTo(before);
        if (n >= STEPS.indexOf("RENAME")) {
          assertThatThrownBy(() -> change.apply(cat)).isInstanceOf(StoreClosedException.class);
        }
      } else {
        // A failure while deleting old versions does not fail the change: it is durable already.
        assertThat(failure).isNull();
        assertThat(result).isEqualTo(after);
      }

      if (crash) {
        vfs.crash();
      }
      try (ForkCatalog reopened = ForkCatalog.open(vfs, dir)) {
        boolean renamed = n > STEPS.indexOf("RENAME");
        CatalogSnapshot expected = renamed && (!crash || !durableStep) ? after : before;
        assertThat(reopened.current()).as("step %d crash %s", n, crash).isEqualTo(expected);
        assertThat(tempFiles(dir)).isEmpty();
        // Carries on, and old versions stay bounded.
        reopened.put(ForkEntry.create("later", "", 10));
        assertThat(catalogFiles(dir)).hasSize(ForkCatalog.RETAINED_VERSIONS);
      }
    }
    assertThat(failedBeforeDurable).isEqualTo(STEPS.size());
  }

  private static List<String> tempFiles(Path dir) throws IOException {
    return ManifestStoreTest.tempFiles(dir);
  }

  private static List<String> catalogFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".catalog")).toList();
    }
  }
}
