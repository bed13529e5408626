package dev.strata.manifest;

import static dev.strata.manifest.Manifests.FORK;
import static dev.strata.manifest.Manifests.next;
import static dev.strata.manifest.Manifests.root;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.manifest.ManifestConflictException.Reason;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.LocalVfs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishers racing on one fork: exactly one wins each seq, the others get a conflict. */
class ManifestStoreRaceTest {

  private static final int THREADS = 4;
  private static final int ROUNDS = 150;

  @TempDir Path tmp;

  @Test
  void exactlyOnePublisherWinsEachRound() throws Exception {
    Path dir = tmp.resolve("race");
    ManifestStore store = ManifestStore.open(new SlowSyncVfs(LocalVfs.INSTANCE, 300_000), dir, FORK);
    store.publish(root(1));
    Object[][] outcome = new Object[ROUNDS][THREADS];
    Manifest[][] attempted = new Manifest[ROUNDS][THREADS];
    CyclicBarrier readHead = new CyclicBarrier(THREADS);
    CyclicBarrier go = new CyclicBarrier(THREADS);
    AtomicReference<Throwable> unexpected = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      Thread th = new Thread(() -> {
        try {
          for (int r = 0; r < ROUNDS; r++) {
            readHead.await(); // the previous round is over for everyone
            Manifest head = store.head().orElseThrow();
            // Half the rounds: everyone wants head+1; else thread t wants head+1+t (seq gaps allowed).
            Manifest m = next(head, "r" + r + "-t" + thread);
            if (r % 2 == 1) {
              m = m.toBuilder().setSeq(head.getSeq() + 1 + thread).build();
            }
            attempted[r][thread] = m;
            go.await();
            try {
              outcome[r][thread] = store.publish(m);
            } catch (ManifestConflictException e) {
              outcome[r][thread] = e;
            }
          }
        } catch (Throwable e) {
          unexpected.compareAndSet(null, e);
          readHead.reset();
          go.reset();
        }
      }, "publisher-" + t);
      threads.add(th);
      th.start();
    }
    for (Thread th : threads) {
      th.join();
    }
    assertThat(unexpected.get()).isNull();

    List<Manifest> winners = new ArrayList<>();
    for (int r = 0; r < ROUNDS; r++) {
      List<Manifest> won = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        if (outcome[r][t] instanceof Manifest m) {
          assertThat(m).isEqualTo(attempted[r][t]);
          won.add(m);
        } else {
          assertThat(outcome[r][t]).isInstanceOf(ManifestConflictException.class);
          assertThat(((ManifestConflictException) outcome[r][t]).reason())
              .isIn(Reason.PUBLISH_IN_PROGRESS, Reason.STALE_SEQ, Reason.WRONG_PARENT);
        }
      }
      assertThat(won).as("winners of round %d", r).hasSize(1);
      winners.addAll(won);
    }
    assertThat(store.head()).contains(winners.get(winners.size() - 1));
    assertThat(store.verifyChain()).isEmpty();
    assertThat(store.list()).hasSize(ROUNDS + 1);
    store.close();
    try (ManifestStore reopened = ManifestStore.open(LocalVfs.INSTANCE, dir, FORK)) {
      assertThat(reopened.head()).contains(winners.get(winners.size() - 1));
      assertThat(reopened.verifyChain()).isEmpty();
      List<Manifest> onDisk = new ArrayList<>();
      for (long seq : reopened.list()) {
        onDisk.add(reopened.load(seq));
      }
      assertThat(onDisk.subList(1, onDisk.size())).containsExactlyElementsOf(winners);
    }
  }
}
