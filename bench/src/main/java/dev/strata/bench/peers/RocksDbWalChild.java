package dev.strata.bench.peers;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.stream.Stream;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB side of workload 6 (recovery), run by {@link RecoveryBenchmark} as a child JVM so that
 * its {@code kill -9} is real. Two modes, one line of results each on stdout:
 *
 * <ul>
 *   <li>{@code write DIR TARGET_BYTES CORPUS CORPUS_DOCS}: creates a database in {@code DIR} and puts
 *       corpus replicas in {@code WriteBatch}es of 500 (WAL on, unsynced) until its WAL files
 *       ({@code *.log}) hold {@code TARGET_BYTES}, then one {@code sync=true} put of
 *       {@code recovery-marker}; prints {@code written docs=N wal=BYTES seconds=S}, one
 *       {@code id ID} line per id to check later, then {@code READY}, and sleeps until killed.
 *       Nothing is flushed: the write buffer is bigger than the WAL.
 *   <li>{@code open DIR TARGET_BYTES AVOID_FLUSH ID...}: times {@code RocksDB.open} (WAL replay; with
 *       {@code AVOID_FLUSH=false}, RocksDB's default, also the flush of the replayed memtable to an
 *       L0 file), reads the ids, prints {@code opened ms=M found=F}, and halts without closing.
 * </ul>
 */
public final class RocksDbWalChild {
  /** Documents per {@code WriteBatch}, as Strata's side writes them per {@code Write}. */
  static final int BATCH = 500;

  /** The id written last, with {@code sync=true}. */
  static final String MARKER = "recovery-marker";

  private RocksDbWalChild() {}

  /**
   * The options of both modes: a write buffer (memtable) of at least 2 GiB and twice the target, two
   * of them, and a WAL size limit above both, so that no WAL or memtable limit starts a flush.
   */
  static Options options(long targetBytes, boolean avoidFlushDuringRecovery) {
    long writeBuffer = Math.max(2L << 30, 2 * targetBytes);
    return new Options().setCreateIfMissing(true).setWriteBufferSize(writeBuffer).setMaxWriteBufferNumber(2)
        .setMaxTotalWalSize(4 * writeBuffer).setAvoidFlushDuringRecovery(avoidFlushDuringRecovery);
  }

  /** Bytes of the WAL files ({@code *.log}) in a database directory. */
  static long walBytes(Path dir) throws IOException {
    long sum = 0;
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (p.getFileName().toString().endsWith(".log")) {
          try {
            sum += Files.size(p);
          } catch (java.nio.file.NoSuchFileException e) {
            // deleted while listing
          }
        }
      }
    }
    return sum;
  }

  public static void main(String[] args) throws Exception {
    RocksDB.loadLibrary();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    Path dir = Paths.get(args[1]);
    long target = Long.parseLong(args[2]);
    switch (args[0]) {
      case "write" -> write(out, dir, target, Paths.get(args[3]), Integer.parseInt(args[4]));
      case "open" -> open(out, dir, target, Boolean.parseBoolean(args[3]), java.util.Arrays.copyOfRange(args, 4, args.length));
      default -> throw new IllegalArgumentException("mode write or open, got " + args[0]);
    }
  }

  private static void write(PrintStream out, Path dir, long target, Path corpusFile, int corpusDocs) throws Exception {
    Corpus corpus = Corpus.load(corpusFile, corpusDocs);
    long t0 = System.nanoTime();
    long docs = 0;
    long wal;
    try (Options o = options(target, false);
        RocksDB db = RocksDB.open(o, dir.toString());
        WriteOptions wo = new WriteOptions();
        WriteBatch b = new WriteBatch()) {
      wal = walBytes(dir);
      while (wal < target) {
        b.clear();
        for (int k = 0; k < BATCH; k++) {
          CorpusDoc d = corpus.replica(docs++);
          b.put(d.idBytes(), d.bytes());
        }
        db.write(wo, b);
        wal = walBytes(dir);
      }
      try (WriteOptions sync = new WriteOptions().setSync(true)) {
        CorpusDoc marker = corpus.get(0).withId(MARKER);
        db.put(sync, marker.idBytes(), marker.bytes());
      }
      wal = walBytes(dir);
      out.printf(Locale.ROOT, "written docs=%d wal=%d seconds=%.3f%n", docs, wal, (System.nanoTime() - t0) / 1e9);
      for (long i : new long[] {0, docs / 2, docs - 1}) {
        out.println("id " + corpus.replica(i).id());
      }
      out.println("id " + MARKER);
      out.println("READY");
      Thread.sleep(Long.MAX_VALUE); // until SIGKILL: no close, nothing flushed
    }
  }

  private static void open(PrintStream out, Path dir, long target, boolean avoidFlush, String[] ids) throws Exception {
    Options o = options(target, avoidFlush).setCreateIfMissing(false);
    long t0 = System.nanoTime();
    RocksDB db = RocksDB.open(o, dir.toString());
    double ms = (System.nanoTime() - t0) / 1e6;
    int found = 0;
    for (String id : ids) {
      if (db.get(id.getBytes(StandardCharsets.UTF_8)) != null) {
        found++;
      }
    }
    out.printf(Locale.ROOT, "opened ms=%.3f found=%d memtable=%s l0files=%s%n", ms, found,
        db.getProperty("rocksdb.num-entries-active-mem-table"), db.getProperty("rocksdb.num-files-at-level0"));
    out.flush();
    Runtime.getRuntime().halt(0); // the measurement is done; closing would only add time to the run
  }
}
