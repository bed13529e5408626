package dev.strata.bench.engine;

import dev.strata.bench.BenchDirs;
import dev.strata.bench.peers.Corpus;
import dev.strata.bench.peers.CorpusDoc;
import dev.strata.engine.ChangeFeed;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.MergeSpec;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.server.ApiConversions;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Merge time and change-feed throughput (issue 16), in process on the Debian corpus.
 *
 * <ol>
 *   <li>Loads the corpus into fork {@code main} and flushes.
 *   <li><b>Fast-forward</b>: for 1 % and 10 % of the corpus changed on a fork of main (main
 *       untouched), times {@code mergeFork} (the merge call until its snapshot is published).
 *   <li><b>Three-way</b>: the same changes on a fork, one unrelated document changed on main (so
 *       the merge cannot fast-forward; the changes are disjoint), times {@code mergeFork} and the
 *       flush that publishes it.
 *   <li><b>Change feed vs DiffSnapshots</b>: ten flushes of main, each changing 1 % of the corpus;
 *       then reads the changes of those ten snapshots with the change feed (documents included),
 *       with one {@link SnapshotDiff} per consecutive pair (what a client reading the same
 *       per-snapshot changes with {@code DiffSnapshots} would do), and with one diff from the
 *       first to the last (net changes only). Prints changes/s of each.
 * </ol>
 *
 * <p>Usage: {@code MergeBench [--docs N] [--reps 3]}; prints one line per measurement (medians of
 * {@code --reps} for the merges).
 */
public final class MergeBench {
  private static final long WAIT_MS = 600_000;

  private MergeBench() {}

  /** Runs the measurements (class comment). */
  public static void main(String[] args) throws Exception {
    int docs = Integer.MAX_VALUE;
    int reps = 3;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--docs" -> docs = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Corpus corpus = Corpus.load(Corpus.defaultPath(), docs);
    Path dir = BenchDirs.create("merge-bench");
    EngineOptions options = EngineOptions.builder().flushIntervalMs(0).build();
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options)) {
      Fork main = engine.fork("main");
      main.createOrGetCollection(Corpus.COLLECTION, ApiConversions.schema(Corpus.SCHEMA));
      long t0 = System.nanoTime();
      for (int from = 0; from < corpus.size(); from += 500) {
        List<Mutation> batch = new ArrayList<>();
        for (int i = from; i < Math.min(corpus.size(), from + 500); i++) {
          batch.add(new Mutation.Put(corpus.get(i).engine()));
        }
        main.write(Corpus.COLLECTION, batch, Durability.ASYNC);
      }
      flush(main);
      System.out.printf(Locale.ROOT, "loaded docs=%d seconds=%.1f%n", corpus.size(), (System.nanoTime() - t0) / 1e9);

      int round = 0;
      for (double share : new double[] {0.01, 0.10}) {
        int changed = (int) Math.round(corpus.size() * share);
        List<Double> ff = new ArrayList<>();
        List<Double> threeWay = new ArrayList<>();
        for (int r = 0; r < reps; r++) {
          ff.add(merge(engine, corpus, "ff" + round, changed, round, false));
          round++;
          threeWay.add(merge(engine, corpus, "tw" + round, changed, round, true));
          round++;
        }
        System.out.printf(
            Locale.ROOT,
            "merge share=%.0f%% changedDocs=%d fastForwardMs=%.1f threeWayMs=%.1f (medians of %d; all ff=%s tw=%s)%n",
            share * 100, changed, median(ff), median(threeWay), reps, ff, threeWay);
      }
      feed(engine, corpus, main, round);
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /**
   * Changes {@code changed} documents on a new fork of main, then times its merge into main; with
   * {@code threeWay} one other document changes on main first so the merge is three-way.
   *
   * @return the merge's time until its snapshot is published, ms
   */
  private static double merge(StrataEngine engine, Corpus corpus, String name, int changed, int round, boolean threeWay)
      throws Exception {
    Fork main = engine.fork("main");
    Fork fork = engine.createFork(name, null, "main", true, WAIT_MS);
    write(fork, corpus, 1, changed, "round " + round);
    flush(fork);
    if (threeWay) {
      write(main, corpus, 0, 1, "main round " + round); // document 0: outside the fork's changes
      flush(main);
    }
    long t0 = System.nanoTime();
    MergeResult r = engine.mergeFork(new MergeSpec(name, "main", MergeStrategy.FAIL, null, false, false, WAIT_MS, "", "", 100));
    main.awaitTicket(r.ticket()).get();
    double ms = (System.nanoTime() - t0) / 1e6;
    MergeResult.Outcome expected = threeWay ? MergeResult.Outcome.THREE_WAY : MergeResult.Outcome.FAST_FORWARD;
    if (r.outcome() != expected) {
      throw new IllegalStateException("expected " + expected + ", got " + r);
    }
    engine.dropFork(name, WAIT_MS);
    return ms;
  }

  /** Puts documents {@code [from, from + n)} of the corpus with a changed summary. */
  private static void write(Fork fork, Corpus corpus, int from, int n, String tag) {
    List<Mutation> batch = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      CorpusDoc d = corpus.get(i % corpus.size());
      Map<String, Object> fields = new LinkedHashMap<>(d.fields());
      fields.put("summary", d.fields().get("summary") + " (" + tag + ")");
      batch.add(new Mutation.Put(new CorpusDoc(d.id(), fields).engine()));
      if (batch.size() == 500) {
        fork.write(Corpus.COLLECTION, batch, Durability.ASYNC);
        batch = new ArrayList<>();
      }
    }
    if (!batch.isEmpty()) {
      fork.write(Corpus.COLLECTION, batch, Durability.ASYNC);
    }
  }

  private static Manifest flush(Fork fork) throws Exception {
    return fork.awaitTicket(fork.flush(WAIT_MS)).get();
  }

  /** The change feed vs DiffSnapshots over ten flushes of 1 % each (class comment). */
  private static void feed(StrataEngine engine, Corpus corpus, Fork main, int round) throws Exception {
    int perSnapshot = Math.max(1, corpus.size() / 100);
    List<String> ids = new ArrayList<>();
    ids.add(main.head().orElseThrow().getId());
    for (int s = 0; s < 10; s++) {
      write(main, corpus, s * perSnapshot * 3, perSnapshot, "feed " + round + "." + s);
      ids.add(flush(main).getId());
    }
    long[] changes = {0};
    long t0 = System.nanoTime();
    try (ChangeFeed.Cursor c = engine.openChanges("main", ids.get(0))) {
      engine.readChanges(
          c,
          Corpus.COLLECTION,
          new ChangeFeed.Sink() {
            @Override
            public boolean change(ChangeFeed.Change ch) {
              changes[0] += ch.document() == null ? 0 : 1;
              return true;
            }

            @Override
            public boolean snapshotDone(Manifest snapshot) {
              return true;
            }
          });
    }
    double feedSeconds = (System.nanoTime() - t0) / 1e9;

    long pairChanges = 0;
    t0 = System.nanoTime();
    for (int i = 0; i + 1 < ids.size(); i++) {
      pairChanges += diff(engine, ids.get(i), ids.get(i + 1));
    }
    double pairSeconds = (System.nanoTime() - t0) / 1e9;
    t0 = System.nanoTime();
    long netChanges = diff(engine, ids.get(0), ids.get(ids.size() - 1));
    double netSeconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf(
        Locale.ROOT,
        "feed snapshots=10 changes=%d feedSeconds=%.3f feedChangesPerSecond=%.0f"
            + " diffPairsChanges=%d diffPairsSeconds=%.3f diffPairsChangesPerSecond=%.0f"
            + " diffNetChanges=%d diffNetSeconds=%.3f diffNetChangesPerSecond=%.0f%n",
        changes[0], feedSeconds, changes[0] / feedSeconds, pairChanges, pairSeconds, pairChanges / pairSeconds,
        netChanges, netSeconds, netChanges / netSeconds);
  }

  /** One SnapshotDiff, reading each changed document's new version (as the feed delivers it). */
  private static long diff(StrataEngine engine, String from, String to) {
    PublishedSnapshot a = engine.acquireSnapshot(from);
    PublishedSnapshot b = engine.acquireSnapshot(to);
    try {
      long[] n = {0};
      SnapshotDiff.diff(
          a,
          b,
          engine.segments(),
          e -> {
            SegmentEntry v = e.newVersion();
            if (v != null && v.version().stored() != null) {
              n[0]++;
            }
            return true;
          });
      return n[0];
    } finally {
      a.release();
      b.release();
    }
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    return s.get(s.size() / 2);
  }
}
