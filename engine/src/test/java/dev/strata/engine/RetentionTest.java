package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #5, retention (SPEC §4): expired snapshots go; tagged ones, the last N, young ones and the
 * bases of existing forks stay; a reader holding an expired snapshot keeps reading it until it
 * releases it; GC then brings {@code <data>/segments} and RocksDB's live SSTs back to exactly what
 * the retained manifests refer to; dropping a fork frees its exclusive segments but not those its
 * descendants use; {@link StrataEngine#segmentUsage()} on a small known setup. Each also after a
 * restart.
 */
class RetentionTest {
  private static final String C = "docs";

  @TempDir Path dir;
  EngineFixture fx;
  /** The engine's wall clock: min_age is tested by moving it, not by sleeping. */
  final ManualClock clock = new ManualClock(1_700_000_000_000L);

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  private EngineFixture open(RetentionOptions retention) throws Exception {
    fx =
        new EngineFixture(
            dir,
            EngineFixture.testOptions()
                .compaction(CompactionOptions.defaults().withEnabled(false).withCheckIntervalMs(3_600_000))
                .retention(retention)
                .clock(clock)
                .build());
    return fx;
  }

  private static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(2_000)).get(20, TimeUnit.SECONDS);
  }

  private static void write(Fork f, String id, String body) {
    f.write(C, put(doc(id, body, "t", 1)), Durability.SYNC);
  }

  private static List<String> ids(Fork f) {
    return f.listSnapshots().stream().map(Manifest::getId).toList();
  }

  private static Set<Long> segIds(Manifest m) {
    Set<Long> out = new TreeSet<>();
    m.getSegmentsList().forEach(r -> out.add(Long.parseUnsignedLong(r.getSegmentId(), 16)));
    return out;
  }

  private static long seg(Manifest m, int index) {
    return Long.parseUnsignedLong(m.getSegments(index).getSegmentId(), 16);
  }

  private static long size(Manifest m, int index) {
    return m.getSegments(index).getSizeBytes();
  }

  /** id -> body of every live document, read at {@code snap} (null: the head with L0). */
  private static Map<String, String> content(Fork f, PublishedSnapshot snap) {
    Map<String, String> out = new TreeMap<>();
    for (SegmentEntry e : f.scan(C, "", 10_000, snap)) {
      out.put(e.id(), EngineFixture.body(e.version().document()));
    }
    return out;
  }

  private static StrataException.Kind kindOf(Runnable r) {
    try {
      r.run();
      return null;
    } catch (StrataException e) {
      return e.kind();
    }
  }

  /** Union of the segment bytes every retained manifest of every fork refers to. */
  private static Map<Long, Long> referencedBytes(StrataEngine e) {
    Map<Long, Long> out = new HashMap<>();
    for (Fork f : e.openForks()) {
      out.putAll(f.retainedSegmentBytes());
    }
    return out;
  }

  private static long treeBytes(Path root, String suffix) throws IOException {
    if (!Files.exists(root)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(Files::isRegularFile)
          .filter(p -> suffix == null || p.getFileName().toString().endsWith(suffix))
          .mapToLong(p -> p.toFile().length())
          .sum();
    }
  }

  /**
   * Segment ids in {@code <data>/segments} and in RocksDB are exactly {@code expectedIds} (plus
   * {@code heldByReaders}), and the bytes of {@code <data>/segments} plus RocksDB's live SSTs are
   * the referenced manifests' size_bytes within 5 % + 16 KiB. RocksDB may purge a dropped SST a
   * moment later, so the byte check polls for up to 5 s.
   */
  private static void assertDiskIsExactlyTheRetained(StrataEngine e, Path dir, Set<Long> heldByReaders)
      throws Exception {
    // Obsolete segments are deleted on the store's deleter thread, not by the releasing one.
    assertThat(e.segments().awaitDeletions(30_000)).as("background deletions drained").isTrue();
    Map<Long, Long> ref = referencedBytes(e);
    Set<Long> expected = new TreeSet<>(ref.keySet());
    expected.addAll(heldByReaders);
    assertThat(new TreeSet<>(e.segments().segmentIdsOnDisk()))
        .as("segment directories vs retained manifests")
        .isEqualTo(expected);
    assertThat(new TreeSet<>(e.segments().segmentIdsInRocksDb()))
        .as("RocksDB key ranges vs retained manifests")
        .isEqualTo(expected);
    if (!heldByReaders.isEmpty()) {
      return;
    }
    long want = ref.values().stream().mapToLong(Long::longValue).sum();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    long have;
    while (true) {
      have = treeBytes(dir.resolve("segments"), null) + treeBytes(dir.resolve("rocksdb"), ".sst");
      if (Math.abs(have - want) <= want / 20 + 16_384 || System.nanoTime() > deadline) {
        break;
      }
      Thread.sleep(50);
    }
    assertThat(have)
        .as("bytes of <data>/segments + live SSTs vs the retained manifests' size_bytes (%d)", want)
        .isBetween(want - want / 20 - 16_384, want + want / 20 + 16_384);
  }

  // ------------------------------------------------------------------------------------------ 1

  @Test
  void expiredSnapshotsGoTaggedAndForkBasesStayAndAReaderKeepsItsExpiredSnapshot() throws Exception {
    open(new RetentionOptions(2, 0, 3_600_000));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    Manifest[] m = new Manifest[11];
    Map<Integer, Map<String, String>> at = new HashMap<>();
    Map<String, String> model = new TreeMap<>();
    for (int i = 1; i <= 8; i++) {
      write(main, "k" + i, "v" + i);
      write(main, "shared", "s" + i);
      model.put("k" + i, "v" + i);
      model.put("shared", "s" + i);
      m[i] = flush(main);
      at.put(i, new TreeMap<>(model));
    }
    fx.engine.tagSnapshot(m[2].getId(), "keep");
    Fork child = fx.engine.createFork("child", m[3].getId(), null, false, 5_000);
    write(child, "c1", "child one");
    Manifest childHead = flush(child);
    m[9] = fx.engine.compact("main", true).get(30, TimeUnit.SECONDS).published().orElseThrow();
    write(main, "k9", "v9");
    model.put("k9", "v9");
    m[10] = flush(main);
    assertThat(main.listSnapshots()).hasSize(10);

    // A reader opens an old snapshot that is about to expire.
    PublishedSnapshot reader = fx.engine.acquireSnapshot(m[6].getId());
    assertThat(content(main, reader)).isEqualTo(at.get(6));

    long collectedBefore = fx.engine.segmentsCollected();
    fx.engine.runRetention();

    // Kept: the last 2 (m9 compaction, m10 head), the tagged m2, the base of "child" m3.
    assertThat(ids(main)).containsExactly(m[2].getId(), m[3].getId(), m[9].getId(), m[10].getId());
    assertThat(ids(child)).as("child has 2 snapshots: both within the last 2").hasSize(2).contains(childHead.getId());
    assertThat(fx.engine.snapshotsExpired()).isEqualTo(6);
    for (int i : new int[] {1, 4, 5, 6, 7, 8}) {
      String id = m[i].getId();
      assertThat(kindOf(() -> fx.engine.acquireSnapshot(id).release()))
          .as("acquire of expired %s", id)
          .isEqualTo(StrataException.Kind.NOT_FOUND);
    }
    PublishedSnapshot tagged = fx.engine.acquireSnapshot("keep");
    try {
      assertThat(tagged.id()).isEqualTo(m[2].getId());
      assertThat(content(main, tagged)).isEqualTo(at.get(2));
    } finally {
      tagged.release();
    }
    PublishedSnapshot base = fx.engine.acquireSnapshot(m[3].getId());
    try {
      assertThat(content(main, base)).isEqualTo(at.get(3));
    } finally {
      base.release();
    }

    // The reader still reads its (expired) snapshot exactly; its exclusive segments stay until it
    // releases it, every other unreferenced segment is gone already.
    assertThat(content(main, reader)).isEqualTo(at.get(6));
    DocumentVersion k4 = reader.get(fx.engine.segments(), C, "k4");
    assertThat(EngineFixture.body(k4.document())).isEqualTo("v4");
    Set<Long> readerOnly = new TreeSet<>(segIds(m[6]));
    readerOnly.removeAll(referencedBytes(fx.engine).keySet());
    assertThat(readerOnly).as("m6's segments that nothing retained refers to").containsExactlyInAnyOrder(
        seg(m[6], 0), seg(m[6], 1), seg(m[6], 2)); // the flushes of 4, 5, 6
    assertThat(fx.engine.segmentsCollected() - collectedBefore).as("seg 4..8 marked obsolete").isEqualTo(5);
    assertDiskIsExactlyTheRetained(fx.engine, dir, readerOnly);
    reader.release();
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    assertThat(fx.engine.verify()).isEmpty();
    assertThat(content(main, null)).isEqualTo(model);

    // A second pass changes nothing.
    fx.engine.runRetention();
    assertThat(ids(main)).containsExactly(m[2].getId(), m[3].getId(), m[9].getId(), m[10].getId());

    // After a restart.
    fx.reopen();
    main = fx.engine.fork("main");
    assertThat(ids(main)).containsExactly(m[2].getId(), m[3].getId(), m[9].getId(), m[10].getId());
    for (int i : new int[] {1, 4, 5, 6, 7, 8}) {
      String id = m[i].getId();
      assertThat(kindOf(() -> fx.engine.acquireSnapshot(id).release())).isEqualTo(StrataException.Kind.NOT_FOUND);
    }
    tagged = fx.engine.acquireSnapshot("keep");
    try {
      assertThat(content(main, tagged)).isEqualTo(at.get(2));
    } finally {
      tagged.release();
    }
    assertThat(content(main, null)).isEqualTo(model);
    Map<String, String> childModel = new TreeMap<>(at.get(3));
    childModel.put("c1", "child one");
    assertThat(content(fx.engine.fork("child"), null)).isEqualTo(childModel);
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    assertThat(fx.engine.verify()).isEmpty();
    fx.engine.runRetention();
    assertThat(ids(main)).hasSize(4);
  }

  // ------------------------------------------------------------------------------------------ 2

  @Test
  void snapshotsYoungerThanMinAgeStayUntilTheyAge() throws Exception {
    open(new RetentionOptions(1, 1_500, 3_600_000));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    Manifest[] m = new Manifest[7];
    for (int i = 1; i <= 4; i++) {
      write(main, "k" + i, "v" + i);
      m[i] = flush(main);
    }
    fx.engine.runRetention();
    assertThat(main.listSnapshots()).as("all younger than min age").hasSize(4);
    clock.advance(1_600);
    for (int i = 5; i <= 6; i++) {
      write(main, "k" + i, "v" + i);
      m[i] = flush(main);
    }
    fx.engine.runRetention();
    assertThat(ids(main)).as("old ones expire, young m5 stays though only 1 is kept").containsExactly(
        m[5].getId(), m[6].getId());
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    fx.reopen();
    main = fx.engine.fork("main");
    assertThat(ids(main)).containsExactly(m[5].getId(), m[6].getId());
    clock.advance(1_600);
    fx.engine.runRetention();
    assertThat(ids(main)).containsExactly(m[6].getId());
    for (int i = 1; i <= 6; i++) {
      assertThat(EngineFixture.body(main.get(C, "k" + i).document())).isEqualTo("v" + i);
    }
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
  }

  @Test
  void theBackgroundPassExpiresWithoutBeingAsked() throws Exception {
    open(new RetentionOptions(1, 0, 50));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    Manifest last = null;
    for (int i = 1; i <= 5; i++) {
      write(main, "k" + i, "v" + i);
      last = flush(main);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (main.listSnapshots().size() > 1 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(ids(main)).containsExactly(last.getId());
    long gcDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (fx.engine.segments().segmentIdsOnDisk().size() > 5 && System.nanoTime() < gcDeadline) {
      Thread.sleep(20);
    }
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
  }

  // ------------------------------------------------------------------------------------------ 3

  @Test
  void segmentUsageOnAKnownSetupBeforeAndAfterRetentionAndADrop() throws Exception {
    open(new RetentionOptions(1, 0, 3_600_000));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    write(main, "a", "alpha");
    Manifest mA = flush(main);
    write(main, "b", "beta");
    Manifest mB = flush(main);
    Fork child = fx.engine.createFork("child", null, "main", false, 5_000);
    write(child, "c", "gamma");
    Manifest cC = flush(child);
    Manifest mM = fx.engine.compact("main", true).get(30, TimeUnit.SECONDS).published().orElseThrow();
    Manifest cM = fx.engine.compact("child", true).get(30, TimeUnit.SECONDS).published().orElseThrow();
    long a = size(mA, 0);
    long b = size(mB, 0);
    long c = size(cC, 0);
    long bigM = size(mM, 0);
    long bigC = size(cM, 0);
    assertThat(seg(mB, 1)).isEqualTo(seg(mA, 0));
    assertThat(List.of(a, b, c, bigM, bigC)).allMatch(x -> x > 0);

    // main retains {a, b, M}; child {a, b, c, M2}; heads {M} and {M2}.
    Map<String, StrataEngine.SegmentUsage> u = fx.engine.segmentUsage();
    assertThat(u.get("main")).isEqualTo(new StrataEngine.SegmentUsage(bigM, a + b, a + b));
    assertThat(u.get("child")).isEqualTo(new StrataEngine.SegmentUsage(c + bigC, a + b, a + b + c));

    // Keep 1: main keeps M and mB (child's base); child keeps M2 only. c is freed.
    fx.engine.runRetention();
    assertThat(ids(main)).containsExactly(mB.getId(), mM.getId());
    assertThat(ids(child)).containsExactly(cM.getId());
    u = fx.engine.segmentUsage();
    assertThat(u.get("main")).isEqualTo(new StrataEngine.SegmentUsage(a + b + bigM, 0, a + b));
    assertThat(u.get("child")).isEqualTo(new StrataEngine.SegmentUsage(bigC, 0, 0));
    assertThat(fx.engine.segments().segmentIdsOnDisk())
        .containsExactlyInAnyOrder(seg(mA, 0), seg(mB, 0), seg(mM, 0), seg(cM, 0));
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());

    fx.reopen();
    u = fx.engine.segmentUsage();
    assertThat(u.get("main")).isEqualTo(new StrataEngine.SegmentUsage(a + b + bigM, 0, a + b));
    assertThat(u.get("child")).isEqualTo(new StrataEngine.SegmentUsage(bigC, 0, 0));

    // Without the child, mB is no longer a fork base: it expires, a and b go.
    fx.engine.dropFork("child", 10_000);
    fx.engine.runRetention();
    main = fx.engine.fork("main");
    assertThat(ids(main)).containsExactly(mM.getId());
    assertThat(fx.engine.segmentUsage()).containsOnlyKeys("main");
    assertThat(fx.engine.segmentUsage().get("main")).isEqualTo(new StrataEngine.SegmentUsage(bigM, 0, 0));
    assertThat(fx.engine.segments().segmentIdsOnDisk()).containsExactly(seg(mM, 0));
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    assertThat(content(main, null)).isEqualTo(Map.of("a", "alpha", "b", "beta"));
  }

  // ------------------------------------------------------------------------------------------ 4

  @Test
  void droppingAForkFreesItsExclusiveSegmentsButNotThoseItsDescendantsUse() throws Exception {
    open(new RetentionOptions(100, 0, 3_600_000));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    write(main, "m", "main doc");
    Manifest m1 = flush(main);
    Fork mid = fx.engine.createFork("mid", m1.getId(), null, false, 5_000);
    write(mid, "x", "mid before leaf");
    Manifest midX = flush(mid);
    Fork leaf = fx.engine.createFork("leaf", midX.getId(), null, false, 5_000);
    write(mid, "y", "mid only");
    Manifest midY = flush(mid);
    write(leaf, "z", "leaf only");
    Manifest leafZ = flush(leaf);
    long x = seg(midX, 0);
    long y = seg(midY, 0);
    long z = seg(leafZ, 0);
    long mSeg = seg(m1, 0);

    var usage = fx.engine.segmentUsage().get("mid");
    assertThat(usage.exclusiveBytes()).as("y only").isEqualTo(size(midY, 0));
    assertThat(usage.sharedBytes()).as("x (leaf) and m (main, leaf)").isEqualTo(size(midX, 0) + size(m1, 0));

    fx.engine.dropFork("mid", 10_000);
    fx.engine.runRetention();
    Set<Long> onDisk = new HashSet<>(fx.engine.segments().segmentIdsOnDisk());
    assertThat(onDisk).as("y was mid's alone").doesNotContain(y);
    assertThat(onDisk).as("x and m are leaf's (and main's)").contains(x, mSeg, z);
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    Map<String, String> leafModel = Map.of("m", "main doc", "x", "mid before leaf", "z", "leaf only");
    assertThat(content(leaf, null)).isEqualTo(leafModel);
    PublishedSnapshot leafHead = leaf.acquireHead();
    try {
      assertThat(content(leaf, leafHead)).isEqualTo(leafModel);
    } finally {
      leafHead.release();
    }
    assertThat(fx.engine.verify()).isEmpty();

    fx.reopen();
    leaf = fx.engine.fork("leaf");
    assertThat(content(leaf, null)).isEqualTo(leafModel);
    assertThat(fx.engine.openForks()).extracting(Fork::name).containsExactly("leaf", "main");
    fx.engine.runRetention();
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    assertThat(fx.engine.verify()).isEmpty();
    write(leaf, "w", "after restart");
    flush(leaf);
    assertThat(EngineFixture.body(leaf.get(C, "x").document())).isEqualTo("mid before leaf");
    assertThatThrownBy(() -> fx.engine.acquireSnapshot(midY.getId()))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.NOT_FOUND);
  }
  // ------------------------------------------------------------------------------------------ 5

  /** Holds the next file creation under {@code <data>/catalog} until released (test seam). */
  private static final class CatalogGate extends dev.strata.vfs.ForwardingVfs {
    private final Path catalogDir;
    volatile boolean armed;
    final java.util.concurrent.CountDownLatch reached = new java.util.concurrent.CountDownLatch(1);
    final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);

    CatalogGate(Path dataDir) {
      super(dev.strata.vfs.LocalVfs.INSTANCE);
      this.catalogDir = dataDir.resolve("catalog");
    }

    @Override
    public dev.strata.vfs.WritableFile create(Path path) throws IOException {
      if (armed && path.startsWith(catalogDir)) {
        armed = false;
        reached.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return super.create(path);
    }
  }

  /**
   * SPEC §4: the base of a fork is kept. A retention pass that runs while a fork is being created
   * from an old snapshot (after createFork checked the base exists, before the catalog names it)
   * must not expire that base: once createFork returns, the fork's base snapshot must be readable
   * and diffable.
   */
  @Test
  void aRetentionPassDuringCreateForkKeepsTheNewForksBase() throws Exception {
    CatalogGate gate = new CatalogGate(dir);
    EngineOptions options =
        EngineFixture.testOptions()
            .compaction(CompactionOptions.defaults().withEnabled(false).withCheckIntervalMs(3_600_000))
            .retention(new RetentionOptions(1, 0, 3_600_000))
            .build();
    StrataEngine e = StrataEngine.open(dir, new dev.strata.vfs.FaultInjectingVfs(gate), options);
    java.util.concurrent.ExecutorService creator = java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      Fork main = e.fork("main");
      main.createOrGetCollection(C, SCHEMA);
      write(main, "a", "old");
      Manifest old = flush(main);
      write(main, "a", "new");
      flush(main);
      gate.armed = true;
      var created = creator.submit(() -> e.createFork("feature", old.getId(), null, false, 5_000));
      assertThat(gate.reached.await(30, TimeUnit.SECONDS)).as("createFork reached the catalog write").isTrue();
      e.runRetention(); // keep 1: "old" is neither the head nor tagged nor (yet) in the catalog
      gate.release.countDown();
      Fork feature = created.get(30, TimeUnit.SECONDS);
      var soft = new org.assertj.core.api.SoftAssertions();
      soft.assertThat(EngineFixture.body(feature.get(C, "a").document())).isEqualTo("old");
      soft.assertThat(ids(main)).as("the base of fork 'feature' stays").contains(old.getId());
      soft.assertThat(kindOf(() -> e.acquireSnapshot(old.getId()).release())).as("acquire of the base").isNull();
      soft.assertThat(kindOf(() -> e.diff(old.getId(), feature.head().orElseThrow().getId(), x -> true)))
          .as("diff of the fork against its base")
          .isNull();
      soft.assertAll();
    } finally {
      gate.release.countDown();
      creator.shutdownNow();
      e.close();
    }
  }
  /**
   * SPEC §1/§4: tagged snapshots are never expired. A retention pass that runs while {@code
   * tagSnapshot} is saving the tag (after it checked the snapshot exists, before the catalog names
   * it) must not expire the snapshot the tag then points to.
   */
  @Test
  void aRetentionPassDuringTagSnapshotKeepsTheTaggedSnapshot() throws Exception {
    CatalogGate gate = new CatalogGate(dir);
    EngineOptions options =
        EngineFixture.testOptions()
            .compaction(CompactionOptions.defaults().withEnabled(false).withCheckIntervalMs(3_600_000))
            .retention(new RetentionOptions(1, 0, 3_600_000))
            .build();
    StrataEngine e = StrataEngine.open(dir, new dev.strata.vfs.FaultInjectingVfs(gate), options);
    java.util.concurrent.ExecutorService tagger = java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      Fork main = e.fork("main");
      main.createOrGetCollection(C, SCHEMA);
      write(main, "a", "old");
      Manifest old = flush(main);
      write(main, "a", "new");
      flush(main);
      gate.armed = true;
      var tagged = tagger.submit(() -> e.tagSnapshot(old.getId(), "release-1"));
      assertThat(gate.reached.await(30, TimeUnit.SECONDS)).as("tagSnapshot reached the catalog write").isTrue();
      e.runRetention();
      gate.release.countDown();
      tagged.get(30, TimeUnit.SECONDS); // the tag call succeeded
      var soft = new org.assertj.core.api.SoftAssertions();
      soft.assertThat(e.tags()).containsEntry("release-1", old.getId());
      soft.assertThat(ids(main)).as("the tagged snapshot stays").contains(old.getId());
      soft.assertThat(kindOf(() -> e.acquireSnapshot("release-1").release())).as("acquire by tag").isNull();
      soft.assertAll();
    } finally {
      gate.release.countDown();
      tagger.shutdownNow();
      e.close();
    }
  }

  @Test
  void theSpaceBoundExpiresOldSnapshotsEarlyButNeverAHeadATagOrAForkBase() throws Exception {
    // Keep 100 snapshots for an hour, but never more than 1.5× the live data.
    open(new RetentionOptions(100, 3_600_000, 3_600_000, 0, 1.5));
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection(C, SCHEMA);
    Manifest[] m = new Manifest[9];
    for (int round = 1; round <= 8; round++) {
      for (int k = 0; k < 40; k++) {
        write(main, "k" + k, "round " + round + " " + "x".repeat(200));
      }
      m[round] = flush(main);
    }
    fx.engine.tagSnapshot(m[3].getId(), "keep");
    // A child of m5 that rewrites everything and merges: its head no longer needs m5's segments,
    // but m5 stays as its base.
    Fork child = fx.engine.createFork("child", m[5].getId(), null, false, 5_000);
    for (int k = 0; k < 40; k++) {
      write(child, "k" + k, "child " + "y".repeat(200));
    }
    flush(child);
    fx.engine.compact("child", true).get(30, TimeUnit.SECONDS);
    fx.engine.runRetention();
    assertThat(ids(main)).as("nothing is old enough by count or age, and main's head needs every segment").hasSize(8);
    StrataEngine.SpaceUsage before = fx.engine.spaceUsage();
    assertThat(before.boundBytes()).isEqualTo((long) (1.5 * before.liveBytes()));

    // A full merge leaves the head one segment; the old snapshots now pin 8 dead ones.
    fx.engine.compact("main", true).get(30, TimeUnit.SECONDS);
    Manifest head = main.head().orElseThrow();
    fx.engine.runRetention();
    StrataEngine.SpaceUsage after = fx.engine.spaceUsage();
    List<String> left = ids(main);
    assertThat(left).as("the head, the tagged snapshot and the child's base stay").contains(
        head.getId(), m[3].getId(), m[5].getId());
    assertThat(left).as("the oldest unpinned snapshots went early").doesNotContain(m[1].getId(), m[2].getId());
    assertThat(ids(child)).as("the child keeps only its head").hasSize(1);
    assertThat(after.expiredForSpaceTotal()).as("main had 9 snapshots, the child 3").isEqualTo(9 - left.size() + 3 - 1);
    // What is left is pinned, or within the bound.
    long pinnedAndHead = 0;
    Map<Long, Long> pinned = new HashMap<>();
    for (Manifest p : List.of(head, m[3], m[5], child.head().orElseThrow())) {
      p.getSegmentsList().forEach(r -> pinned.put(Long.parseUnsignedLong(r.getSegmentId(), 16), r.getSizeBytes()));
    }
    pinnedAndHead = pinned.values().stream().mapToLong(Long::longValue).sum();
    assertThat(after.retainedBytes()).isLessThanOrEqualTo(Math.max(after.boundBytes(), pinnedAndHead));
    assertDiskIsExactlyTheRetained(fx.engine, dir, Set.of());
    assertThat(content(main, null)).containsEntry("k0", "round 8 " + "x".repeat(200));
    PublishedSnapshot tagged = fx.engine.acquireSnapshot("keep");
    try {
      assertThat(content(main, tagged)).containsEntry("k0", "round 3 " + "x".repeat(200));
    } finally {
      tagged.release();
    }
  }
}
