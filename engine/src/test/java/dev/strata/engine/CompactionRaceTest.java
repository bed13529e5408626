package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #5, test 2: compaction (background, with a small {@code compaction.max_segments} and a
 * short check interval, plus explicit {@code compact} calls) racing writers, interval, size and
 * explicit flushes on main and on forks, a thread creating forks from main's head and dropping
 * them, a thread tagging and untagging snapshots, retention passes with a small retention, and
 * reader threads that acquire a snapshot (a fork's head, a retained snapshot by id, or a tag),
 * work out what it must contain from a per-fork model (the state after every acknowledged write, by
 * LSN: a snapshot shows exactly the state at its covered LSN), and read it repeatedly (Get, Search,
 * Scan) for a few hundred ms while compactions publish, snapshots expire and forks drop.
 *
 * <p>Asserts: every read through a held snapshot is exact, including after that snapshot expired
 * or its fork was dropped; a tagged snapshot of a live fork stays acquirable until untagged; no
 * operation fails except in the documented ways (NOT_FOUND / FAILED_PRECONDITION / UNAVAILABLE on a
 * fork being dropped, NOT_FOUND for a snapshot id that expired, RESOURCE_EXHAUSTED write stalls);
 * no fork turns read-only; at the end every live fork's head matches the model, {@code verify()} is
 * empty, and after a reopen the reads still match, no job directory is left and the segments on
 * disk are exactly those the retained manifests name.
 */
class CompactionRaceTest {
  static final String COLL = "docs";
  static final List<String> WORDS = List.of("apple", "birch", "cedar", "delta", "ember", "fjord");
  static final int IDS = 40;
  static final long RUN_MS = Long.getLong("strata.race.ms", 20_000);
  static final long SEED = Long.getLong("strata.race.seed", 0xACE5L);

  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  /** One fork's model: its state after every acknowledged write, by LSN (one writer per fork). */
  static final class ModelFork {
    final String name;
    final String forkId;
    final ConcurrentSkipListMap<Long, Map<String, Document>> history = new ConcurrentSkipListMap<>();
    volatile Map<String, Document> head;
    volatile long lastLsn;

    ModelFork(String name, String forkId, Map<String, Document> base, long lastLsn) {
      this.name = name;
      this.forkId = forkId;
      this.head = Collections.unmodifiableMap(new TreeMap<>(base));
      this.history.put(0L, head);
      this.lastLsn = lastLsn;
    }

    void applied(long lsn, Map<String, Document> next) {
      if (lsn <= lastLsn) {
        throw new AssertionError("fork " + name + ": LSN " + lsn + " after " + lastLsn);
      }
      Map<String, Document> frozen = Collections.unmodifiableMap(new TreeMap<>(next));
      history.put(lsn, frozen);
      head = frozen;
      lastLsn = lsn;
    }

    /** The state at {@code covered}, waiting (bounded) for the writer to record that LSN. */
    Map<String, Document> at(long covered) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (lastLsn < covered) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(
              "fork " + name + ": a snapshot covers LSN " + covered + " but the last acknowledged write is " + lastLsn);
        }
        Thread.sleep(1);
      }
      return history.floorEntry(covered).getValue();
    }
  }

  final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
  /** Every model ever, by fork id (kept after a drop: readers may still hold its snapshots). */
  final Map<String, ModelFork> models = new ConcurrentHashMap<>();
  /** Every Fork object ever, by fork id. */
  final Map<String, Fork> forkObjects = new ConcurrentHashMap<>();
  /** Live forks other than main, by name, in creation order. */
  final Map<String, Fork> liveForks = Collections.synchronizedMap(new LinkedHashMap<>());
  final Set<String> droppedNames = ConcurrentHashMap.newKeySet();
  volatile boolean stop;

  final AtomicLong writes = new AtomicLong();
  final AtomicLong writeStalls = new AtomicLong();
  final AtomicLong explicitFlushes = new AtomicLong();
  final AtomicLong explicitCompactions = new AtomicLong();
  final AtomicLong explicitPublished = new AtomicLong();
  final AtomicLong aborted = new AtomicLong();
  final AtomicInteger forksCreated = new AtomicInteger();
  final AtomicInteger forksDropped = new AtomicInteger();
  final AtomicLong tagsPut = new AtomicLong();
  final AtomicLong tagsChecked = new AtomicLong();
  final AtomicLong tagsLostToDrop = new AtomicLong();
  final AtomicLong snapshotsHeld = new AtomicLong();
  final AtomicLong readsChecked = new AtomicLong();
  final AtomicLong heldAcrossExpiry = new AtomicLong();
  final AtomicLong heldAcrossDrop = new AtomicLong();
  final AtomicLong heldAcrossCompaction = new AtomicLong();
  final AtomicLong snapshotExpiredBeforeAcquire = new AtomicLong();
  final AtomicLong retentionRuns = new AtomicLong();

  @Test
  @Timeout(value = 150, unit = TimeUnit.SECONDS)
  void compactionRacesFlushesForksTagsRetentionAndReaders() throws Exception {
    long t0 = System.nanoTime();
    CompactionOptions copts =
        CompactionOptions.defaults()
            .withMaxSegments(3)
            .withMergeFactor(2)
            .withCheckIntervalMs(50)
            .withMaxConcurrent(2)
            .withWriteRateBytesPerSec(0);
    EngineOptions options =
        EngineFixture.testOptions()
            .flushIntervalMs(60)
            .l0MaxBytes(6 * 1024)
            .compaction(copts)
            .retention(new RetentionOptions(3, 0, 250))
            .build();
    fx = new EngineFixture(dir, options);
    final StrataEngine running = fx.engine;
    StrataEngine engine = running;
    Fork main = engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(COLL, SCHEMA);
    ModelFork mainModel = new ModelFork(StrataEngine.MAIN, main.id(), Map.of(), main.stats().walLastLsn());
    models.put(main.id(), mainModel);
    forkObjects.put(main.id(), main);
    Random setup = new Random(SEED);
    for (int i = 0; i < 5; i++) {
      write(main, mainModel, setup);
    }
    main.awaitTicket(main.flush(5_000)).get(30, TimeUnit.SECONDS);

    List<Thread> threads = new ArrayList<>();
    threads.add(loop("main-writer", 1, r -> {
      write(main, mainModel, r);
      Thread.sleep(2);
    }));
    threads.add(loop("fork-writer", 2, r -> {
      Fork f = randomLiveFork(r, false);
      if (f == null) {
        Thread.sleep(5);
        return;
      }
      try {
        write(f, models.get(f.id()), r);
      } catch (StrataException e) {
        allowIfDropped(f, e, "write");
      }
      Thread.sleep(3);
    }));
    threads.add(loop("flusher", 3, r -> {
      Fork f = randomLiveFork(r, true);
      try {
        f.awaitTicket(f.flush(5_000)).get(30, TimeUnit.SECONDS);
        explicitFlushes.incrementAndGet();
      } catch (StrataException e) {
        allowIfDropped(f, e, "flush");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof StrataException se) {
          allowIfDropped(f, se, "flush ticket");
        } else {
          throw e;
        }
      }
      Thread.sleep(40 + r.nextInt(60));
    }));
    threads.add(loop("compactor", 4, r -> {
      Fork f = randomLiveFork(r, true);
      boolean full = r.nextInt(3) == 0;
      try {
        explicitCompactions.incrementAndGet();
        CompactionResult res = running.compact(f.name(), full).get(60, TimeUnit.SECONDS);
        if (res.published().isPresent()) {
          explicitPublished.incrementAndGet();
        } else if (res.abortReason() != null) {
          aborted.incrementAndGet();
          if (!droppedNames.contains(f.name())) {
            throw new AssertionError("compaction of live fork " + f.name() + " aborted: " + res.abortReason());
          }
        }
      } catch (StrataException e) {
        allowIfDropped(f, e, "compact");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof StrataException se) {
          allowIfDropped(f, se, "compaction job");
        } else {
          throw new AssertionError("compaction of " + f.name() + " failed: " + e.getCause(), e.getCause());
        }
      }
      Thread.sleep(30 + r.nextInt(50));
    }));
    threads.add(loop("forks", 5, r -> {
      if (liveForks.size() >= 3) {
        String victim;
        synchronized (liveForks) {
          victim = liveForks.keySet().iterator().next();
        }
        droppedNames.add(victim);
        liveForks.remove(victim);
        running.dropFork(victim, 30_000);
        forksDropped.incrementAndGet();
      }
      String name = "x" + forksCreated.get();
      boolean flushFirst = r.nextBoolean();
      Fork f = running.createFork(name, null, StrataEngine.MAIN, flushFirst, 30_000);
      String baseId = f.entry().baseSnapshotId();
      Manifest base = main.loadSnapshot(baseId);
      ModelFork mf = new ModelFork(name, f.id(), mainModel.at(base.getCoveredLsn()), 0);
      models.put(f.id(), mf);
      forkObjects.put(f.id(), f);
      liveForks.put(name, f);
      forksCreated.incrementAndGet();
      Thread.sleep(300 + r.nextInt(400));
    }));
    Map<String, String> tagTargets = new ConcurrentHashMap<>();
    threads.add(loop("tagger", 6, r -> {
      if (tagTargets.size() < 4) {
        Fork f = r.nextInt(10) < 7 ? main : randomLiveFork(r, true);
        List<Manifest> snaps;
        try {
          snaps = f.listSnapshots();
        } catch (StrataException e) {
          allowIfDropped(f, e, "list snapshots");
          return;
        }
        if (snaps.isEmpty()) {
          return;
        }
        // Mostly the oldest retained snapshot: the next to expire.
        Manifest target = r.nextBoolean() ? snaps.get(0) : snaps.get(r.nextInt(snaps.size()));
        String tag = "t" + tagsPut.get();
        try {
          running.tagSnapshot(target.getId(), tag);
          tagTargets.put(tag, target.getId());
          tagsPut.incrementAndGet();
        } catch (StrataException e) {
          if (e.kind() != StrataException.Kind.NOT_FOUND) {
            throw e; // NOT_FOUND: it expired (or its fork went) between the listing and the tag
          }
        }
      } else {
        String tag = new TreeSet<>(tagTargets.keySet()).first();
        String id = tagTargets.remove(tag);
        Fork owner = forkObjects.get(Fork.forkIdOf(id));
        boolean ownerDropped = owner != main && droppedNames.contains(owner.name());
        // A tagged snapshot of a live fork never expires: it must still open, with its contents.
        PublishedSnapshot s = null;
        try {
          s = running.acquireSnapshot(tag);
        } catch (StrataException e) {
          ownerDropped = owner != main && droppedNames.contains(owner.name()); // a drop since
          if (!(ownerDropped && e.kind() == StrataException.Kind.NOT_FOUND)) {
            throw new AssertionError(
                "tagged snapshot " + id + " (tag " + tag + ", fork " + owner.name() + ", dropped=" + ownerDropped
                    + ") cannot be opened: " + e, e);
          }
          tagsLostToDrop.incrementAndGet();
        }
        if (s != null) {
          try {
            assertThat(s.id()).as("tag %s", tag).isEqualTo(id);
            checkSnapshot(running, owner, s, models.get(owner.id()).at(s.coveredLsn()), "tag " + tag, true);
            tagsChecked.incrementAndGet();
          } finally {
            s.release();
          }
        }
        try {
          running.deleteTag(tag);
        } catch (StrataException e) {
          // A drop deletes the tags of its fork.
          if (!(owner != main && droppedNames.contains(owner.name()) && e.kind() == StrataException.Kind.NOT_FOUND)) {
            throw e;
          }
        }
      }
      Thread.sleep(40 + r.nextInt(60));
    }));
    threads.add(loop("retention", 7, r -> {
      running.runRetention();
      retentionRuns.incrementAndGet();
      Thread.sleep(80 + r.nextInt(80));
    }));
    for (int i = 0; i < 2; i++) {
      threads.add(loop("reader-" + i, 100 + i, r -> readOnce(running, main, tagTargets, r)));
    }

    threads.forEach(Thread::start);
    Thread.sleep(RUN_MS);
    stop = true;
    for (Thread t : threads) {
      t.join(60_000);
      if (t.isAlive()) {
        errors.add(new AssertionError("thread " + t.getName() + " did not stop within 60 s"));
      }
    }
    long runMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    long published = 0;
    for (Fork f : engine.openForks()) {
      published += f.stats().compactionsPublished();
    }
    System.out.printf(
        "compaction race: %d ms; %d writes (%d stalls), %d explicit flushes, %d explicit compactions (%d"
            + " published, %d aborted), %d compactions published on live forks, %d failed jobs, forks %d"
            + " created / %d dropped, tags %d put / %d checked / %d lost to a drop, %d retention runs (%d"
            + " snapshots expired), %d snapshots held by readers (%d across an expiry, %d across a drop, %d"
            + " across a compaction, %d expired before acquire), %d reads checked, %d errors%n",
        runMs, writes.get(), writeStalls.get(), explicitFlushes.get(), explicitCompactions.get(),
        explicitPublished.get(), aborted.get(), published, engine.compactions().failureCount(),
        forksCreated.get(), forksDropped.get(), tagsPut.get(), tagsChecked.get(), tagsLostToDrop.get(),
        retentionRuns.get(), engine.snapshotsExpired(), snapshotsHeld.get(), heldAcrossExpiry.get(),
        heldAcrossDrop.get(), heldAcrossCompaction.get(), snapshotExpiredBeforeAcquire.get(), readsChecked.get(),
        errors.size());
    // The end checks run even if a thread failed, so one known bug does not hide the rest.
    try {
      assertThat(engine.compactions().failureCount()).as("failed compaction jobs").isZero();
      assertThat(published).as("compactions published").isPositive();
      assertThat(forksCreated.get()).as("forks created").isGreaterThan(3);
      assertThat(forksDropped.get()).as("forks dropped").isPositive();
      assertThat(snapshotsHeld.get()).as("snapshots held by readers").isGreaterThan(10);
      assertThat(heldAcrossCompaction.get()).as("snapshots held across a compaction").isPositive();
      assertThat(heldAcrossExpiry.get()).as("snapshots held across their expiry").isPositive();

      // The end: every live fork's head matches its model; verify is clean.
      List<Fork> finalForks = new ArrayList<>(engine.openForks());
      assertThat(finalForks.stream().map(Fork::name).toList())
          .containsExactlyInAnyOrderElementsOf(concat(StrataEngine.MAIN, liveForks.keySet()));
      for (Fork f : finalForks) {
        assertThat(f.readOnlyReason()).as("fork %s", f.name()).isNull();
        f.awaitTicket(f.flush(5_000)).get(30, TimeUnit.SECONDS);
        checkHead(f, models.get(f.id()), "end, fork " + f.name());
      }
      assertThat(engine.verify()).as("verify").isEmpty();

      // Reopen without background work, so nothing moves while the disk is compared.
      fx.options =
          options.toBuilder().flushIntervalMs(0).compaction(copts.withEnabled(false))
              .retention(new RetentionOptions(3, 0, 3_600_000)).build();
      fx.reopen();
      engine = fx.engine;
      assertThat(CompactionStressTest.listOrEmpty(dir.resolve("tmp"))).as("job directories after reopen").isEmpty();
      for (Fork f : engine.openForks()) {
        checkHead(f, models.get(f.id()), "after reopen, fork " + f.name());
      }
      assertThat(engine.verify()).as("verify after reopen").isEmpty();
      engine.runRetention();
      CompactionStressTest.assertSegmentsOnDiskAreExactlyReferenced(engine, "after reopen + retention");
      System.out.printf("compaction race total %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    } catch (Throwable t) {
      errors.add(t);
    }
    if (!errors.isEmpty()) {
      errors.forEach(x -> System.out.println("race error: " + x));
      AssertionError e = new AssertionError(errors.size() + " error(s); first: " + errors.peek(), errors.peek());
      errors.stream().skip(1).limit(20).forEach(e::addSuppressed);
      throw e;
    }
  }

  // ------------------------------------------------------------------- deterministic reproductions

  /**
   * A {@link dev.strata.vfs.Vfs} over the local file system that can hold the first deletion of a
   * file under {@code gatedDir} until the test lets it go: widens the window between a retention
   * pass choosing what to expire and deleting it, which in the race test above is hit by chance.
   */
  static final class GateVfs implements dev.strata.vfs.Vfs {
    final dev.strata.vfs.Vfs d = dev.strata.vfs.LocalVfs.INSTANCE;
    volatile Path gatedDir;
    final java.util.concurrent.CountDownLatch reached = new java.util.concurrent.CountDownLatch(1);
    final java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);

    private void gate(Path p) throws java.io.IOException {
      Path g = gatedDir;
      if (g != null && p.startsWith(g)) {
        gatedDir = null;
        reached.countDown();
        try {
          if (!go.await(30, TimeUnit.SECONDS)) {
            throw new java.io.IOException("gate not opened within 30 s");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException();
        }
      }
    }

    @Override public dev.strata.vfs.WritableFile create(Path p) throws java.io.IOException { return d.create(p); }
    @Override public dev.strata.vfs.WritableFile openForAppend(Path p) throws java.io.IOException { return d.openForAppend(p); }
    @Override public java.nio.channels.SeekableByteChannel openForRead(Path p) throws java.io.IOException { return d.openForRead(p); }
    @Override public byte[] readAllBytes(Path p) throws java.io.IOException { return d.readAllBytes(p); }
    @Override public void truncate(Path p, long n) throws java.io.IOException { d.truncate(p, n); }
    @Override public void rename(Path a, Path b) throws java.io.IOException { d.rename(a, b); }
    @Override public boolean deleteIfExists(Path p) throws java.io.IOException { gate(p); return d.deleteIfExists(p); }
    @Override public void deleteRecursively(Path p) throws java.io.IOException { gate(p); d.deleteRecursively(p); }
    @Override public void syncDirectory(Path p) throws java.io.IOException { d.syncDirectory(p); }
    @Override public void createDirectories(Path p) throws java.io.IOException { d.createDirectories(p); }
    @Override public void createDirectory(Path p) throws java.io.IOException { d.createDirectory(p); }
    @Override public List<Path> list(Path p) throws java.io.IOException { return d.list(p); }
    @Override public boolean exists(Path p) { return d.exists(p); }
    @Override public long size(Path p) throws java.io.IOException { return d.size(p); }
  }

  /** Main with two snapshots, retention keeping only the head: the older one is expirable. */
  private StrataEngine openForGateTest(GateVfs vfs) throws Exception {
    EngineOptions options =
        EngineFixture.testOptions()
            .compaction(CompactionOptions.defaults().withEnabled(false))
            .retention(new RetentionOptions(1, 0, 3_600_000))
            .build();
    StrataEngine engine = StrataEngine.open(dir.resolve("gate"), vfs, options);
    Fork main = engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection(COLL, SCHEMA);
    for (int i = 0; i < 2; i++) {
      main.write(COLL, List.of(new Mutation.Put(EngineFixture.doc("a", "apple " + i, "x", i))), Durability.SYNC);
      main.awaitTicket(main.flush(5_000)).get(30, TimeUnit.SECONDS);
    }
    vfs.gatedDir = dir.resolve("gate").resolve("forks").resolve(main.id()).resolve("manifests");
    return engine;
  }

  /**
   * SPEC §4: tagged snapshots are never expired. A tag accepted while a retention pass is between
   * computing its protected set (tags and fork bases, read once at its start) and deleting the
   * expired manifests does not protect the snapshot: tagSnapshot returns normally, then the
   * snapshot is deleted and the tag points at nothing.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void tagAcceptedDuringARetentionPassKeepsItsSnapshot() throws Exception {
    GateVfs vfs = new GateVfs();
    try (StrataEngine engine = openForGateTest(vfs)) {
      Fork main = engine.fork(StrataEngine.MAIN);
      String old = main.listSnapshots().get(0).getId();
      assertThat(old).isNotEqualTo(main.head().orElseThrow().getId());
      Thread gc = new Thread(engine::runRetention, "test-retention");
      gc.start();
      assertThat(vfs.reached.await(30, TimeUnit.SECONDS)).as("retention reached the manifest delete").isTrue();
      engine.tagSnapshot(old, "keep"); // accepted: the snapshot still exists at this moment
      vfs.go.countDown();
      gc.join(30_000);
      assertThat(engine.tags()).containsEntry("keep", old);
      PublishedSnapshot s = engine.acquireSnapshot("keep"); // fails: the tagged snapshot expired
      s.release();
    }
  }

  /**
   * Same window for createFork from a snapshot id: the new fork's base is protected by retention
   * only once the fork is in the catalog, which the running pass did not see; its base manifest is
   * deleted although its fork exists (RetentionPolicy: "the base of a fork that still exists" is
   * kept; DiffSnapshots against the base then fails).
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void forkCreatedDuringARetentionPassKeepsItsBase() throws Exception {
    GateVfs vfs = new GateVfs();
    try (StrataEngine engine = openForGateTest(vfs)) {
      Fork main = engine.fork(StrataEngine.MAIN);
      String old = main.listSnapshots().get(0).getId();
      Thread gc = new Thread(engine::runRetention, "test-retention");
      gc.start();
      assertThat(vfs.reached.await(30, TimeUnit.SECONDS)).as("retention reached the manifest delete").isTrue();
      Fork f = engine.createFork("child", old, null, false, 0);
      vfs.go.countDown();
      gc.join(30_000);
      assertThat(f.entry().baseSnapshotId()).isEqualTo(old);
      assertThat(engine.findManifest(old)).as("base snapshot %s of live fork child", old).isPresent();
    }
  }

  // ------------------------------------------------------------------------------------ readers

  private void readOnce(StrataEngine engine, Fork main, Map<String, String> tags, Random r) throws Exception {
    int mode = r.nextInt(3);
    Fork f = randomLiveFork(r, true);
    PublishedSnapshot snap = null;
    String how;
    try {
      if (mode == 0) {
        how = "head of " + f.name();
        snap = f.acquireHead();
      } else if (mode == 1) {
        List<Manifest> list = f.listSnapshots();
        if (list.isEmpty()) {
          return;
        }
        String id = list.get(r.nextInt(list.size())).getId();
        how = "snapshot " + id + " of " + f.name();
        try {
          snap = f.acquireSnapshot(id);
        } catch (StrataException e) {
          if (e.kind() != StrataException.Kind.NOT_FOUND) {
            throw e;
          }
          snapshotExpiredBeforeAcquire.incrementAndGet(); // expired since the listing
          return;
        }
      } else {
        List<String> names = new ArrayList<>(tags.keySet());
        if (names.isEmpty()) {
          return;
        }
        String tag = names.get(r.nextInt(names.size()));
        how = "tag " + tag;
        try {
          snap = engine.acquireSnapshot(tag);
        } catch (StrataException e) {
          if (e.kind() != StrataException.Kind.NOT_FOUND) {
            throw e;
          }
          return; // untagged (or its fork dropped) since we looked; the tagger checks tags strictly
        }
        f = forkObjects.get(snap.manifest().getForkId());
      }
    } catch (StrataException e) {
      allowIfDropped(f, e, "acquire");
      return;
    }
    if (snap == null) {
      return;
    }
    snapshotsHeld.incrementAndGet();
    try {
      ModelFork mf = models.get(snap.manifest().getForkId());
      assertThat(mf).as("model of fork id %s", snap.manifest().getForkId()).isNotNull();
      Map<String, Document> expected = mf.at(snap.coveredLsn());
      String where = "reader holding " + how + " (" + snap.id() + ", covered LSN " + snap.coveredLsn() + ")";
      long compactionsBefore = f.stats().compactionsPublished();
      boolean forkDroppedBefore = droppedNames.contains(f.name());
      long holdUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(150 + r.nextInt(450));
      int pass = 0;
      while (System.nanoTime() < holdUntil && !stop) {
        checkSnapshot(engine, f, snap, expected, where + ", pass " + pass, pass % 3 == 0);
        pass++;
        Thread.sleep(15 + r.nextInt(25));
      }
      checkSnapshot(engine, f, snap, expected, where + ", last pass", true);
      if (f.stats().compactionsPublished() > compactionsBefore) {
        heldAcrossCompaction.incrementAndGet();
      }
      if (!forkDroppedBefore && droppedNames.contains(f.name())) {
        heldAcrossDrop.incrementAndGet();
      } else if (!droppedNames.contains(f.name())) {
        String id = snap.id();
        try {
          if (f.listSnapshots().stream().noneMatch(m -> m.getId().equals(id))) {
            heldAcrossExpiry.incrementAndGet();
          }
        } catch (StrataException e) {
          allowIfDropped(f, e, "list snapshots");
        }
      }
    } finally {
      snap.release();
    }
  }

  /** Get of some (or all) ids, a Search and, when {@code full}, a Scan and a match-all Search. */
  private void checkSnapshot(
      StrataEngine engine, Fork f, PublishedSnapshot snap, Map<String, Document> expected, String where,
      boolean full) {
    int n = full ? IDS : 6;
    int start = Math.floorMod(where.hashCode(), IDS);
    for (int i = 0; i < n; i++) {
      String id = id((start + i) % IDS);
      DocumentVersion v = snap.get(engine.segments(), COLL, id);
      Document got = v == null || v.isTombstone() ? null : v.document();
      assertThat(got).as("%s: get(%s)", where, id).isEqualTo(expected.get(id));
    }
    String word = WORDS.get(Math.floorMod(where.hashCode() * 31, WORDS.size()));
    checkSearch(f.search(COLL, SearchQuery.of(word, 1000), snap), word, expected, where);
    if (full) {
      checkSearch(f.search(COLL, SearchQuery.of("*", 1000), snap), "*", expected, where);
      Map<String, Document> scanned = new LinkedHashMap<>();
      for (SegmentEntry e : f.scan(COLL, "", 10_000, snap)) {
        scanned.put(e.id(), e.version().document());
      }
      assertThat(scanned).as("%s: scan", where).containsExactlyEntriesOf(new TreeMap<>(expected));
    }
    readsChecked.incrementAndGet();
  }

  private static void checkSearch(SearchResult r, String word, Map<String, Document> expected, String where) {
    Set<String> want = new TreeSet<>();
    expected.forEach(
        (id, d) -> {
          if (word.equals("*") || List.of(EngineFixture.body(d).split(" ")).contains(word)) {
            want.add(id);
          }
        });
    Set<String> got = new TreeSet<>();
    for (SearchHit h : r.hits()) {
      assertThat(got.add(h.id())).as("%s: search '%s' returned %s twice", where, word, h.id()).isTrue();
      assertThat(h.document()).as("%s: search '%s' hit %s", where, word, h.id()).isEqualTo(expected.get(h.id()));
    }
    assertThat(got).as("%s: search '%s'", where, word).isEqualTo(want);
    assertThat(r.totalHits()).as("%s: search '%s' total hits", where, word).isEqualTo(want.size());
  }

  private void checkHead(Fork f, ModelFork mf, String where) {
    Map<String, Document> want = mf.head;
    for (int i = 0; i < IDS; i++) {
      DocumentVersion v = f.get(COLL, id(i));
      assertThat(v == null ? null : v.document()).as("%s: get(%s)", where, id(i)).isEqualTo(want.get(id(i)));
    }
    Map<String, Document> scanned = new LinkedHashMap<>();
    for (SegmentEntry e : f.scan(COLL, "", 10_000, null)) {
      scanned.put(e.id(), e.version().document());
    }
    assertThat(scanned).as("%s: scan", where).containsExactlyEntriesOf(new TreeMap<>(want));
    PublishedSnapshot h = f.acquireHead();
    try {
      assertThat(h.coveredLsn()).as("%s: head covers every write", where).isGreaterThanOrEqualTo(mf.lastLsn);
      for (String word : WORDS) {
        checkSearch(f.search(COLL, SearchQuery.of(word, 1000), h), word, want, where);
      }
    } finally {
      h.release();
    }
  }

  // ------------------------------------------------------------------------------------ helpers

  interface Body {
    void run(Random r) throws Exception;
  }

  private Thread loop(String name, long seed, Body body) {
    Thread t =
        new Thread(
            () -> {
              Random r = new Random(SEED * 1000 + seed);
              while (!stop) {
                try {
                  body.run(r);
                } catch (Throwable e) {
                  errors.add(new AssertionError(name + ": " + e, e));
                  if (errors.size() > 50) {
                    return;
                  }
                }
              }
            },
            "race-" + name);
    t.setDaemon(true);
    return t;
  }

  private Fork randomLiveFork(Random r, boolean includeMain) {
    List<Fork> forks;
    synchronized (liveForks) {
      forks = new ArrayList<>(liveForks.values());
    }
    if (includeMain) {
      forks.add(forkObjects.get(models.values().stream()
          .filter(m -> m.name.equals(StrataEngine.MAIN)).findFirst().orElseThrow().forkId));
    }
    return forks.isEmpty() ? null : forks.get(r.nextInt(forks.size()));
  }

  /** A failure on a fork is fine only if that fork is being dropped, with a drop's error kinds. */
  private void allowIfDropped(Fork f, StrataException e, String what) {
    boolean dropKind =
        e.kind() == StrataException.Kind.NOT_FOUND
            || e.kind() == StrataException.Kind.FAILED_PRECONDITION
            || e.kind() == StrataException.Kind.UNAVAILABLE;
    if (!(droppedNames.contains(f.name()) && dropKind)) {
      throw new AssertionError(what + " on fork " + f.name() + " failed: " + e, e);
    }
  }

  private void write(Fork f, ModelFork mf, Random r) throws InterruptedException {
    Map<String, Document> next = new TreeMap<>(mf.head);
    List<Mutation> muts = new ArrayList<>();
    int n = 1 + r.nextInt(3);
    for (int i = 0; i < n; i++) {
      String id = id(r.nextInt(IDS));
      if (r.nextInt(6) == 0) {
        muts.add(new Mutation.Delete(id));
        next.remove(id);
      } else {
        String body = WORDS.get(r.nextInt(WORDS.size())) + " " + WORDS.get(r.nextInt(WORDS.size()));
        Document d = EngineFixture.doc(id, body, "t" + r.nextInt(3), r.nextInt(1000));
        muts.add(new Mutation.Put(d));
        next.put(id, d);
      }
    }
    while (true) {
      try {
        long lsn = f.write(COLL, muts, Durability.SYNC);
        mf.applied(lsn, next);
        writes.incrementAndGet();
        return;
      } catch (StrataException e) {
        if (e.kind() != StrataException.Kind.RESOURCE_EXHAUSTED) {
          throw e;
        }
        if (stop) {
          return; // not applied: a stall answer means the write was refused
        }
        writeStalls.incrementAndGet();
        Thread.sleep(20);
      }
    }
  }

  private static String id(int i) {
    return String.format("k%02d", i);
  }

  private static List<String> concat(String first, Set<String> rest) {
    List<String> out = new ArrayList<>();
    out.add(first);
    synchronized (rest) {
      out.addAll(rest);
    }
    return out;
  }
}
