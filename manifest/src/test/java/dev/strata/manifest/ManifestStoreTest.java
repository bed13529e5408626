package dev.strata.manifest;

import static dev.strata.manifest.Manifests.FORK;
import static dev.strata.manifest.Manifests.next;
import static dev.strata.manifest.Manifests.root;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.manifest.ManifestConflictException.Reason;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishing, loading, listing, deleting, and the corruption policy of {@link ManifestStore}. */
class ManifestStoreTest {

  @TempDir Path tmp;
  private final Vfs vfs = LocalVfs.INSTANCE;
  private Path dir;

  @BeforeEach
  void setUp() {
    dir = ManifestStore.directoryFor(tmp, FORK);
  }

  private ManifestStore open() throws IOException {
    return ManifestStore.open(vfs, dir, FORK);
  }

  /** Publishes root(1) and n-1 successors; returns them oldest first. */
  private static List<Manifest> publishChain(ManifestStore store, int n) throws Exception {
    Manifest m = store.publish(root(1));
    List<Manifest> out = new java.util.ArrayList<>(List.of(m));
    for (int i = 1; i < n; i++) {
      m = store.publish(next(m));
      out.add(m);
    }
    return out;
  }

  @Test
  void anEmptyStoreHasNoHead() throws Exception {
    try (ManifestStore store = open()) {
      assertThat(store.head()).isEmpty();
      assertThat(store.list()).isEmpty();
      assertThat(store.verifyChain()).isEmpty();
      assertThat(store.openReport().isClean()).isTrue();
      assertThatThrownBy(() -> store.load(0)).isInstanceOf(ManifestNotFoundException.class);
    }
  }

  /** A fork's first manifest derived from its base (issue #12): parent and base = the base. */
  private static Manifest derivedFirst() {
    return root(1).toBuilder().setParentId("base-7").setBaseSnapshotId("base-7").build();
  }

  @Test
  void anAdoptedFirstManifestIsTheHeadInMemoryAndIsWrittenBeforeItsChild() throws Exception {
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    Manifest first = derivedFirst();
    Manifest second = next(first);
    try (ManifestStore store = ManifestStore.open(fvs, dir, FORK)) {
      long ops = fvs.operationCount();
      store.adoptFirst(first);
      assertThat(fvs.operationCount()).as("adopting does no I/O").isEqualTo(ops);
      assertThat(store.head()).contains(first);
      assertThat(store.isHeadDurable()).isFalse();
      assertThat(store.list()).containsExactly(1L);
      assertThat(store.load(1)).isEqualTo(first);
      assertThat(store.verifyChain()).isEmpty();
      assertThat(store.readChain().manifests()).containsOnlyKeys(1L);
      assertThat(Files.exists(dir.resolve("00000000000000000001.manifest"))).isFalse();
      assertThatThrownBy(() -> store.adoptFirst(first))
          .isInstanceOf(ManifestConflictException.class);
      store.publish(second);
      assertThat(store.isHeadDurable()).isTrue();
      assertThat(store.head()).contains(second);
    }
    fvs.crash(); // whatever publish returned is durable, the derived parent first
    try (ManifestStore store = ManifestStore.open(fvs, dir, FORK)) {
      assertThat(store.head()).contains(second);
      assertThat(store.list()).containsExactly(1L, 2L);
      assertThat(store.load(1)).isEqualTo(first);
      assertThat(store.verifyChain()).isEmpty();
    }
  }

  @Test
  void materializeWritesAnAdoptedHeadDurablyOnceAndAFailedWriteLeavesItAdopted() throws Exception {
    FaultInjectingVfs fvs = new FaultInjectingVfs();
    Manifest first = derivedFirst();
    try (ManifestStore store = ManifestStore.open(fvs, dir, FORK)) {
      store.adoptFirst(first);
      fvs.failNext(FaultInjectingVfs.Op.SYNC, FaultInjectingVfs.Fault.IO_ERROR); // the temp file's fsync
      assertThatThrownBy(store::materialize).isInstanceOf(IOException.class);
      assertThat(store.isUsable()).isTrue();
      assertThat(store.isHeadDurable()).isFalse();
      store.materialize();
      assertThat(store.isHeadDurable()).isTrue();
      long ops = fvs.operationCount();
      store.materialize();
      assertThat(fvs.operationCount()).as("nothing left to write").isEqualTo(ops);
    }
    fvs.crash();
    try (ManifestStore store = ManifestStore.open(fvs, dir, FORK)) {
      assertThat(store.head()).contains(first);
      assertThat(store.isHeadDurable()).isTrue();
    }
  }

  @Test
  void openingAnEmptyDirectoryDoesNoFsyncAndOpeningOneWithAHeadDoes() throws Exception {
    RecordingSyncs syncs = new RecordingSyncs(vfs);
    try (ManifestStore store = ManifestStore.open(syncs, dir, FORK)) {
      assertThat(syncs.directorySyncs).isZero();
      store.publish(root(1));
    }
    syncs.directorySyncs = 0;
    try (ManifestStore store = ManifestStore.open(syncs, dir, FORK)) {
      assertThat(syncs.directorySyncs).as("the head it reports is made durable").isEqualTo(1);
    }
  }

  /** Counts directory fsyncs. */
  private static final class RecordingSyncs extends ForwardingVfs {
    int directorySyncs;

    RecordingSyncs(Vfs delegate) {
      super(delegate);
    }

    @Override
    public void syncDirectory(Path d) throws IOException {
      directorySyncs++;
      super.syncDirectory(d);
    }
  }

  @Test
  void readChainReadsEachFileOnceAndReportsAnUnreadableOne() throws Exception {
    List<Manifest> chain;
    try (ManifestStore store = open()) {
      chain = publishChain(store, 4);
    }
    Files.write(dir.resolve("00000000000000000002.manifest"), new byte[] {1, 2, 3});
    try (ManifestStore store = open()) {
      ManifestStore.Chain read = store.readChain();
      assertThat(read.manifests()).containsOnlyKeys(1L, 3L, 4L);
      assertThat(read.manifests().get(4L)).isEqualTo(chain.get(3));
      assertThat(read.hasUnreadable()).isTrue();
      assertThat(read.problems()).extracting(ChainProblem::kind).contains(ChainProblem.Kind.CORRUPT);
      assertThat(read.problems().toString()).contains("00000000000000000002.manifest");
    }
  }

  @Test
  void publishedManifestsAreTheHeadAndSurviveReopen() throws Exception {
    List<Manifest> chain;
    try (ManifestStore store = open()) {
      chain = publishChain(store, 5);
      assertThat(store.head()).contains(chain.get(4));
    }
    try (ManifestStore store = open()) {
      assertThat(store.head()).contains(chain.get(4));
      assertThat(store.list()).containsExactly(1L, 2L, 3L, 4L, 5L);
      for (Manifest m : chain) {
        assertThat(store.load(m.getSeq())).isEqualTo(m);
      }
      assertThat(store.verifyChain()).isEmpty();
    }
    assertThat(Files.exists(dir.resolve("00000000000000000005.manifest"))).isTrue();
  }

  @Test
  void aForksFirstManifestMayNameItsBaseAsParent() throws Exception {
    Manifest first = root(7).toBuilder().setBaseSnapshotId("other-fork-s3").setParentId("other-fork-s3").build();
    try (ManifestStore store = open()) {
      store.publish(first);
      Manifest second = next(first);
      store.publish(second);
      assertThat(store.verifyChain()).isEmpty();
    }
  }

  @Test
  void publicationRulesAreEnforcedWithTypedConflicts() throws Exception {
    try (ManifestStore store = open()) {
      Manifest head = publishChain(store, 3).get(2);
      Manifest good = next(head);
      assertConflict(store, good.toBuilder().setSeq(head.getSeq()).setParentSeq(head.getSeq() - 1).build(), Reason.STALE_SEQ);
      assertConflict(store, good.toBuilder().setParentId("s2").build(), Reason.WRONG_PARENT);
      assertConflict(store, good.toBuilder().setParentSeq(2).build(), Reason.WRONG_PARENT);
      assertConflict(store, good.toBuilder().clearParentSeq().build(), Reason.WRONG_PARENT);
      assertConflict(store, good.toBuilder().setCoveredLsn(head.getCoveredLsn() - 1).build(), Reason.LSN_REGRESSION);
      assertConflict(store, good.toBuilder().setForkId("other-1").build(), Reason.WRONG_FORK);
      assertConflict(store, good.toBuilder().setBaseSnapshotId("x").build(), Reason.BASE_CHANGED);
      // An id equal to the head's is impossible: parent_id must be the head's id and differ from id.
      assertThatThrownBy(() -> store.publish(good.toBuilder().setId(head.getId()).build()))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("parent_id equals id");
      // A seq gap is allowed (the finalizer assigns seqs); an equal covered LSN too.
      store.publish(good.toBuilder().setSeq(head.getSeq() + 5).setCoveredLsn(head.getCoveredLsn()).build());
      assertThat(store.head().orElseThrow().getSeq()).isEqualTo(head.getSeq() + 5);
      assertThat(store.verifyChain()).isEmpty();
    }
  }

  @Test
  void theFirstManifestMustNotClaimAParentOnThisFork() throws Exception {
    try (ManifestStore store = open()) {
      assertConflict(store, root(1).toBuilder().setParentId("s0").setParentSeq(0).build(), Reason.WRONG_PARENT);
      assertConflict(store, root(1).toBuilder().setParentId("elsewhere").build(), Reason.WRONG_PARENT);
      assertThat(store.head()).isEmpty();
    }
  }

  @Test
  void structurallyInvalidManifestsAreRejectedBeforeAnyIo() throws Exception {
    try (ManifestStore store = open()) {
      assertThatThrownBy(() -> store.publish(root(1).toBuilder().setId("").build()))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty id");
      assertThatThrownBy(() -> store.publish(root(1).toBuilder().setSeq(-1).build()))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2^63");
      assertThat(vfs.list(dir)).isEmpty();
    }
  }

  private static void assertConflict(ManifestStore store, Manifest m, Reason reason) {
    Manifest before = store.head().orElse(null);
    assertThatThrownBy(() -> store.publish(m))
        .isInstanceOf(ManifestConflictException.class)
        .extracting(e -> ((ManifestConflictException) e).reason())
        .isEqualTo(reason);
    assertThat(store.head().orElse(null)).isEqualTo(before);
  }

  @Test
  void expiredManifestsAreDeletedButNeverTheHead() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 6);
      assertThatThrownBy(() -> store.delete(6)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.deleteUpTo(6)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.delete(List.of(2L, 7L))).isInstanceOf(IllegalArgumentException.class);
      assertThat(store.list()).hasSize(6); // nothing deleted by a refused batch
      assertThat(store.delete(3)).isTrue();
      assertThat(store.delete(3)).isFalse();
      assertThat(store.deleteUpTo(2)).isEqualTo(2);
      assertThat(store.list()).containsExactly(4L, 5L, 6L);
      assertThatThrownBy(() -> store.load(3)).isInstanceOf(ManifestNotFoundException.class);
      // The remaining chain still verifies: 4's parent (3) was expired, which is allowed.
      assertThat(store.verifyChain()).isEmpty();
    }
    try (ManifestStore store = open()) {
      assertThat(store.list()).containsExactly(4L, 5L, 6L);
    }
  }

  @Test
  void openDeletesTempFilesAndReportsUnknownFiles() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 2);
    }
    Path temp = dir.resolve("00000000000000000003.manifest.tmp-0123456789abcdef");
    Path stray = dir.resolve("notes.txt");
    Files.write(temp, new byte[] {1, 2, 3});
    Files.write(stray, new byte[] {1});
    try (ManifestStore store = open()) {
      assertThat(store.openReport().deletedTempFiles()).containsExactly(temp);
      assertThat(store.openReport().ignoredFiles()).containsExactly(stray);
      assertThat(Files.exists(temp)).isFalse();
      assertThat(Files.exists(stray)).isTrue();
      assertThat(store.head().orElseThrow().getSeq()).isEqualTo(2);
    }
  }

  @Test
  void aCorruptHeadFailsOpenNamingTheFile() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 3);
    }
    Path head = dir.resolve("00000000000000000003.manifest");
    flipByte(head, 40);
    assertThatThrownBy(this::open)
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining(head.toString())
        .satisfies(e -> {
          assertThat(((ManifestCorruptionException) e).file()).isEqualTo(head);
          assertThat(((ManifestCorruptionException) e).kind()).isEqualTo(Kind.BAD_CHECKSUM);
        });
    assertThat(Files.exists(head)).as("FAIL leaves the file where it is").isTrue();
  }

  @Test
  void repairMovesBadHeadsAsideAndFallsBack() throws Exception {
    List<Manifest> chain;
    try (ManifestStore store = open()) {
      chain = publishChain(store, 4);
    }
    Path four = dir.resolve("00000000000000000004.manifest");
    Path three = dir.resolve("00000000000000000003.manifest");
    flipByte(four, 20);
    Files.write(three, new byte[0]); // an empty file: torn to nothing
    try (ManifestStore store = ManifestStore.open(vfs, dir, FORK, CorruptionPolicy.MOVE_ASIDE)) {
      assertThat(store.head()).contains(chain.get(1));
      assertThat(store.openReport().movedAsideFiles()).hasSize(2);
      assertThat(store.openReport().movedAsideFiles().get(0).getFileName().toString())
          .startsWith("00000000000000000004.manifest.corrupt-");
      assertThat(store.list()).containsExactly(1L, 2L);
      // The fork continues from the fallback head.
      store.publish(next(chain.get(1), "s3-again"));
    }
    try (ManifestStore store = open()) {
      assertThat(store.head().orElseThrow().getId()).isEqualTo("s3-again");
      assertThat(store.openReport().ignoredFiles()).hasSize(2); // the .corrupt-* files are kept
    }
  }

  @Test
  void aFileOfANewerFormatIsNeverMovedAside() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 2);
    }
    Path head = dir.resolve("00000000000000000002.manifest");
    byte[] bytes = Files.readAllBytes(head);
    ByteBuffer.wrap(bytes).putInt(4, 2);
    Files.write(head, bytes);
    assertThatThrownBy(() -> ManifestStore.open(vfs, dir, FORK, CorruptionPolicy.MOVE_ASIDE))
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining(head.toString())
        .extracting(e -> ((ManifestCorruptionException) e).kind())
        .isEqualTo(Kind.UNSUPPORTED_VERSION);
    assertThat(Files.exists(head)).isTrue();
  }

  @Test
  void aManifestUnderTheWrongNameOrForkIsCorruption() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 2);
    }
    Files.copy(dir.resolve("00000000000000000002.manifest"), dir.resolve("00000000000000000009.manifest"));
    assertThatThrownBy(this::open)
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining("00000000000000000009.manifest")
        .hasMessageContaining("its name says 9");
    Files.delete(dir.resolve("00000000000000000009.manifest"));
    assertThatThrownBy(() -> ManifestStore.open(vfs, dir, "other-00000000000000bb"))
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining("belongs to fork '" + FORK + "'");
  }

  @Test
  void aCorruptOlderManifestIsReportedByLoadAndByVerify() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 4);
    }
    Path two = dir.resolve("00000000000000000002.manifest");
    flipByte(two, 30);
    try (ManifestStore store = open()) {
      assertThatThrownBy(() -> store.load(2))
          .isInstanceOf(ManifestCorruptionException.class)
          .hasMessageContaining(two.toString());
      List<ChainProblem> problems = store.verifyChain();
      assertThat(problems).hasSize(1);
      assertThat(problems.get(0).kind()).isEqualTo(ChainProblem.Kind.CORRUPT);
      assertThat(problems.get(0).subject()).isEqualTo(two.toString());
    }
  }

  @Test
  void verifyReportsAHeadWhoseFileVanished() throws Exception {
    try (ManifestStore store = open()) {
      publishChain(store, 2);
      Files.delete(dir.resolve("00000000000000000002.manifest"));
      assertThat(store.verifyChain())
          .extracting(ChainProblem::detail)
          .containsExactly("the head manifest's file is missing");
    }
  }

  @Test
  void aClosedStoreRefusesChangesButStillAnswersHead() throws Exception {
    ManifestStore store = open();
    Manifest m = store.publish(root(1));
    store.close();
    store.close();
    assertThat(store.head()).contains(m);
    assertThatThrownBy(() -> store.publish(next(m))).isInstanceOf(StoreClosedException.class);
    assertThatThrownBy(store::list).isInstanceOf(StoreClosedException.class);
  }

  @Test
  void forkDirectoriesCannotEscapeTheDataDirectory() {
    assertThatThrownBy(() -> ManifestStore.directoryFor(tmp, "../x")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ManifestStore.directoryFor(tmp, "..")).isInstanceOf(IllegalArgumentException.class);
    assertThat(ManifestStore.directoryFor(tmp, FORK)).isEqualTo(tmp.resolve("forks").resolve(FORK).resolve("manifests"));
  }

  static void flipByte(Path file, int position) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    bytes[position % bytes.length] ^= 0x5a;
    Files.write(file, bytes);
  }

  static List<String> tempFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList();
    }
  }
}
