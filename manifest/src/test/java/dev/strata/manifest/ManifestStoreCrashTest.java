package dev.strata.manifest;

import static dev.strata.manifest.Manifests.FORK;
import static dev.strata.manifest.Manifests.next;
import static dev.strata.manifest.Manifests.root;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.FaultInjectingVfs.Fault;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fails, and crashes at, every I/O call of a publish (Pebble's errorfs sweep: N = 0, 1, 2, ... until
 * the publish no longer reaches call N), then reopens and checks both ways: the head is exactly the
 * old or the new manifest, never torn or missing, the new one if publish returned, the old one if it
 * failed before the rename; no temp file survives open.
 */
class ManifestStoreCrashTest {

  /** The I/O calls of one publish, in order. */
  private static final List<String> PUBLISH_STEPS = List.of("CREATE", "WRITE", "SYNC", "RENAME", "SYNC_DIR");

  @TempDir Path tmp;

  static List<Arguments> faultsAndCrash() {
    List<Arguments> out = new ArrayList<>();
    for (Fault f : Fault.values()) {
      out.add(Arguments.of(f, false));
      out.add(Arguments.of(f, true));
    }
    return out;
  }

  @ParameterizedTest(name = "{0}, crash={1}")
  @MethodSource("faultsAndCrash")
  void anIoErrorAtEveryStepOfPublishLeavesTheOldOrTheNewHead(Fault fault, boolean crash) throws Exception {
    int swept = 0;
    for (int n = 0; ; n++) {
      Path dir = tmp.resolve(fault + "-" + crash + "-" + n);
      FaultInjectingVfs vfs = new FaultInjectingVfs();
      ManifestStore store = ManifestStore.open(vfs, dir, FORK);
      Manifest old = store.publish(next(store.publish(root(1))));
      Manifest neu = next(old);

      long base = vfs.operationCount();
      vfs.failOperation(base + n, fault);
      IOException failure = null;
      try {
        store.publish(neu);
      } catch (IOException e) {
        failure = e;
      }
      boolean reached = vfs.operationCount() > base + n;
      vfs.clearFaults();
      if (!reached) {
        assertThat(failure).as("publish untouched by the fault").isNull();
        assertThat(store.head()).contains(neu);
        break;
      }
      swept++;
      assertThat(failure).as("step %d failed", n).isInstanceOf(FaultInjectingVfs.InjectedIOException.class);
      String step = PUBLISH_STEPS.get(n);
      assertThat(failure).hasMessageContaining("(" + step + " ");
      boolean beforeRename = n < PUBLISH_STEPS.indexOf("RENAME");
      // In memory: the head never moves on a failed publish.
      assertThat(store.head()).contains(old);
      if (beforeRename) {
        assertThat(ManifestStoreTest.tempFiles(dir)).as("temp file cleaned up").isEmpty();
      } else {
        // The durable state is unknown: the store refuses further work until reopened.
        assertThatThrownBy(() -> store.publish(neu))
            .isInstanceOf(StoreClosedException.class)
            .hasCause(failure);
      }

      if (crash) {
        vfs.crash();
      }
      try (ManifestStore reopened = ManifestStore.open(vfs, dir, FORK)) {
        Manifest head = reopened.head().orElseThrow();
        // Exactly which one, given where the injected error struck (the call did not happen):
        boolean renamed = n > PUBLISH_STEPS.indexOf("RENAME");
        Manifest expected = renamed && !crash ? neu : old;
        assertThat(head).as("step %s crash %s", step, crash).isEqualTo(expected);
        assertThat(reopened.list()).containsExactlyElementsOf(seqsUpTo(head.getSeq()));
        assertThat(ManifestStoreTest.tempFiles(dir)).isEmpty();
        assertThat(reopened.verifyChain()).isEmpty();
        // The fork carries on from whatever head it found, durably.
        Manifest after = reopened.publish(next(head, "after-" + head.getSeq()));
        vfs.crash();
        try (ManifestStore again = ManifestStore.open(vfs, dir, FORK)) {
          assertThat(again.head()).contains(after);
          assertThat(again.verifyChain()).isEmpty();
        }
      }
    }
    assertThat(swept).as("every I/O call of publish was failed once").isEqualTo(PUBLISH_STEPS.size());
  }

  @Test
  void aProcessKilledAtEveryStepOfPublishLeavesTheOldOrTheNewHead() throws Exception {
    for (boolean powerLoss : new boolean[] {false, true}) {
      int killedSteps = 0;
      for (int n = 0; ; n++) {
        Path dir = tmp.resolve("kill-" + powerLoss + "-" + n);
        FaultInjectingVfs disk = new FaultInjectingVfs();
        Manifest old;
        try (ManifestStore setup = ManifestStore.open(disk, dir, FORK)) {
          old = setup.publish(next(setup.publish(root(1))));
        }
        ProcessDeathVfs dying = new ProcessDeathVfs(disk);
        ManifestStore store = ManifestStore.open(dying, dir, FORK);
        dying.killAt(n);
        Manifest neu = next(old);
        boolean published = false;
        try {
          store.publish(neu);
          published = true;
        } catch (ProcessDeathVfs.ProcessKilled expected) {
          // the process is gone
        }
        if (!dying.killed()) {
          assertThat(published).isTrue();
          break;
        }
        int step = n;
        killedSteps++;
        if (powerLoss) {
          disk.crash();
        }
        try (ManifestStore restarted = ManifestStore.open(disk, dir, FORK)) {
          Manifest head = restarted.head().orElseThrow();
          boolean renamed = step > PUBLISH_STEPS.indexOf("RENAME");
          assertThat(head).as("killed at %s, power loss %s", PUBLISH_STEPS.get(step), powerLoss)
              .isEqualTo(renamed && !powerLoss ? neu : old);
          boolean tempWasLeft = step > PUBLISH_STEPS.indexOf("CREATE") && step <= PUBLISH_STEPS.indexOf("RENAME");
          assertThat(restarted.openReport().deletedTempFiles()).hasSize(tempWasLeft && !powerLoss ? 1 : 0);
          assertThat(ManifestStoreTest.tempFiles(dir)).isEmpty();
          assertThat(restarted.verifyChain()).isEmpty();
        }
      }
      assertThat(killedSteps).as("killed once at every I/O call of publish").isEqualTo(PUBLISH_STEPS.size());
    }
  }

  @Test
  void aPublishThatReturnedSurvivesAPowerLoss() throws Exception {
    FaultInjectingVfs vfs = new FaultInjectingVfs();
    Path dir = tmp.resolve("durable");
    Manifest m;
    try (ManifestStore store = ManifestStore.open(vfs, dir, FORK)) {
      m = store.publish(root(1));
      for (int i = 0; i < 5; i++) {
        m = store.publish(next(m));
        vfs.crash();
        try (ManifestStore reopened = ManifestStore.open(vfs, dir, FORK)) {
          assertThat(reopened.head()).contains(m);
        }
      }
    }
  }

  @Test
  void aFailureBeforeTheRenameLeavesTheStoreUsable() throws Exception {
    FaultInjectingVfs vfs = new FaultInjectingVfs();
    Path dir = tmp.resolve("usable");
    try (ManifestStore store = ManifestStore.open(vfs, dir, FORK)) {
      Manifest m = store.publish(root(1));
      vfs.failNext(FaultInjectingVfs.Op.SYNC, Fault.IO_ERROR);
      Manifest n = next(m);
      assertThatThrownBy(() -> store.publish(n)).isInstanceOf(FaultInjectingVfs.InjectedIOException.class);
      assertThat(store.publish(n)).isEqualTo(n);
      assertThat(store.head()).contains(n);
    }
  }

  @Test
  void expiredManifestsStayDeletedAfterAPowerLoss() throws Exception {
    FaultInjectingVfs vfs = new FaultInjectingVfs();
    Path dir = tmp.resolve("expire");
    try (ManifestStore store = ManifestStore.open(vfs, dir, FORK)) {
      Manifest m = store.publish(root(1));
      for (int i = 0; i < 4; i++) {
        m = store.publish(next(m));
      }
      store.deleteUpTo(3);
    }
    vfs.crash();
    try (ManifestStore store = ManifestStore.open(vfs, dir, FORK)) {
      assertThat(store.list()).containsExactly(4L, 5L);
    }
  }

  private static List<Long> seqsUpTo(long seq) {
    return LongStream.rangeClosed(1, seq).boxed().toList();
  }
}
