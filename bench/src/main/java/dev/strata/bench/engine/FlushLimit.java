package dev.strata.bench.engine;

import static dev.strata.bench.Results.json;
import static dev.strata.bench.Results.median;

import com.sun.management.OperatingSystemMXBean;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.Value;
import dev.strata.bench.BenchDirs;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.flush.FlushHooks;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.SortedDocValuesField;
import org.apache.lucene.document.SortedNumericDocValuesField;
import org.apache.lucene.document.SortedSetDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.SerialMergeScheduler;
import org.apache.lucene.index.TieredMergePolicy;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.NoLockFactory;
import org.apache.lucene.util.BytesRef;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.SstFileWriter;

/**
 * The cost of one flush against its limit (issue #12, "cheaper flush"): the same documents are
 * written once by the engine's flush stream phase and once by a raw {@link SstFileWriter} plus a
 * raw Lucene {@link IndexWriter} (the least work that produces the same segment: the same keys and
 * value bytes in one SST with the engine's table options, the same Lucene fields indexed with
 * reused {@link Field} instances into one committed compound segment, both fsynced).
 *
 * <p><b>Strata side</b>: a fresh engine (L0 2 GiB, no interval flush, no compaction, one permit)
 * gets {@code older} flushed segments of other ids first (20,000 documents each, fewer if the
 * measured flush is smaller) (so the liveness pass has segments to
 * check new keys against), then the measured documents in ASYNC writes of 100, then one {@code
 * flush()}. The stream phase is timed from {@link FlushHooks#beforeStream} to {@link
 * FlushHooks#beforePublish} (WAL sync wait, SST + Lucene write, ingest, liveness); the flush from
 * the {@code flush()} call until its ticket resolves (adds the manifest publish).
 *
 * <p><b>Raw side</b>: the documents' stored bytes (the API's {@code Document} message, what L0
 * holds once documents are encoded once) and keys are prepared before the clock starts; then SST
 * (sorted puts, {@code finish()} fsyncs) and Lucene (add, commit, {@code forceMerge(1)} only if
 * needed), one after the other on one thread, as a flush stream does.
 *
 * <p>MiB/s on both sides = (key + value bytes of the raw side) / time: the same numerator, so the
 * ratio is the inverse ratio of the times. Repetitions are interleaved and summarised by medians.
 * Beside wall time, each run records the CPU time the whole JVM used over the same window (nothing
 * else runs in it then; JIT and GC threads count): on a machine shared with other work, MiB per
 * CPU-second compares the two sides' work where wall time mostly measures the neighbours. The
 * CPU time of the one thread that does the work (the raw side's, the engine's stream thread)
 * leaves out garbage collection and the JIT as well: the most stable of the three.
 * Usage: {@code FlushLimit [--docs N] [--reps N] [--older 0,8] [--smoke] [--out file.json]}.
 */
public final class FlushLimit {

  /** One measured flush. Times in ms. */
  public record Run(
      String side, int olderSegments, int rep, int docs, long bytes, double ms, double mibPerSec,
      double flushMs, double cpuMs, double mibPerCpuSec, double threadCpuMs, double mibPerThreadCpuSec) {}

  /** Everything one invocation measured. */
  public record Report(String startedAt, int docs, int reps, List<Run> runs) {}

  private static final String COLLECTION = "docs";
  private static final int OLDER_SEGMENT_DOCS = 20_000;
  private static final double LUCENE_RAM_MB = 256;

  private final DocumentSource source = new DocumentSource(20261212L);
  private final Path scratchRoot;
  private final int docs;

  FlushLimit(Path scratchRoot, int docs) {
    this.scratchRoot = scratchRoot;
    this.docs = docs;
  }

  public static void main(String[] args) throws Exception {
    int docs = 100_000;
    int reps = 3;
    int[] older = {0, 8};
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--docs" -> docs = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--older" -> older = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--smoke" -> {
          docs = 2_000;
          reps = 1;
          older = new int[] {0, 2};
        }
        case "--out" -> out = Paths.get(args[++i]);
        default -> {
          System.err.println("usage: FlushLimit [--docs N] [--reps N] [--older 0,8] [--smoke] [--out file.json]");
          System.exit(2);
        }
      }
    }
    Report r = new FlushLimit(BenchDirs.root(), docs).run(reps, older);
    System.out.println(markdown(r));
    if (out != null) {
      if (out.getParent() != null) {
        Files.createDirectories(out.getParent());
      }
      Files.writeString(out, json(r), StandardCharsets.UTF_8);
      System.out.println("JSON: " + out.toAbsolutePath());
    }
  }

  /** Warm-up of both sides (discarded), then {@code reps} interleaved rounds. */
  Report run(int reps, int[] older) throws Exception {
    String started = Instant.now().toString();
    log("warm-up (JIT), discarded");
    raw(0, 0);
    strata(0, 0);
    List<Run> runs = new ArrayList<>();
    for (int rep = 1; rep <= reps; rep++) {
      for (int o : older) {
        boolean rawFirst = rep % 2 == 1;
        Run a = rawFirst ? raw(o, rep) : strata(o, rep);
        Run b = rawFirst ? strata(o, rep) : raw(o, rep);
        for (Run x : List.of(a, b)) {
          log(String.format(Locale.ROOT, "%s older=%d rep=%d: %.0f ms, %.1f MiB/s%s", x.side(), o, rep, x.ms(),
              x.mibPerSec(), Double.isNaN(x.flushMs()) ? "" : String.format(Locale.ROOT, ", flush %.0f ms", x.flushMs())));
          runs.add(x);
        }
      }
    }
    return new Report(started, docs, reps, runs);
  }

  // ------------------------------------------------------------------ the raw limit

  /** The documents as the raw side gets them: key, stored bytes, and the indexed field values. */
  private record Prepared(byte[] key, byte[] value, String id, String body, String tag, long n) {}

  private List<Prepared> prepare() {
    List<Prepared> out = new ArrayList<>(docs);
    byte[] prefix = ByteBuffer.allocate(8).putLong(1).array();
    for (int i = 0; i < docs; i++) {
      var d = source.document(0, i); // the engine model document the Strata side writes
      String body = ((FieldValue.Str) d.fields().get("body")).value();
      String tag = ((FieldValue.Str) d.fields().get("tag")).value();
      long n = ((FieldValue.Int64) d.fields().get("n")).value();
      byte[] value =
          Document.newBuilder()
              .setId(d.id())
              .putFields("body", Value.newBuilder().setStringValue(body).build())
              .putFields("tag", Value.newBuilder().setStringValue(tag).build())
              .putFields("n", Value.newBuilder().setInt64Value(n).build())
              .build()
              .toByteArray();
      byte[] suffix = (COLLECTION + "\0" + d.id()).getBytes(StandardCharsets.UTF_8);
      byte[] key = new byte[8 + suffix.length];
      System.arraycopy(prefix, 0, key, 0, 8);
      System.arraycopy(suffix, 0, key, 8, suffix.length);
      out.add(new Prepared(key, value, d.id(), body, tag, n));
    }
    out.sort((a, b) -> Arrays.compareUnsigned(a.key, b.key));
    return out;
  }

  private Run raw(int older, int rep) throws Exception {
    List<Prepared> prepared = prepare();
    long bytes = prepared.stream().mapToLong(p -> p.key.length + p.value.length).sum();
    Path dir = BenchDirs.create(scratchRoot, "flush-limit-raw-");
    RocksDB.loadLibrary();
    try (Options options = sstOptions(); EnvOptions env = new EnvOptions()) {
      long t0 = System.nanoTime();
      long cpu0 = processCpuNanos();
      long threadCpu0 = THREADS.getCurrentThreadCpuTime();
      try (SstFileWriter w = new SstFileWriter(env, options)) {
        w.open(dir.resolve("docs.sst").toString());
        for (Prepared p : prepared) {
          w.put(p.key, p.value);
        }
        w.finish();
      }
      TieredMergePolicy mp = new TieredMergePolicy();
      mp.setNoCFSRatio(1.0);
      IndexWriterConfig cfg =
          new IndexWriterConfig(new StandardAnalyzer())
              .setOpenMode(IndexWriterConfig.OpenMode.CREATE)
              .setRAMBufferSizeMB(LUCENE_RAM_MB)
              .setUseCompoundFile(true)
              .setMergePolicy(mp)
              .setMergeScheduler(new SerialMergeScheduler())
              .setCommitOnClose(false);
      try (FSDirectory d = FSDirectory.open(dir.resolve("lucene"), NoLockFactory.INSTANCE);
          IndexWriter w = new IndexWriter(d, cfg)) {
        StringField key = new StringField("_key", new BytesRef(), Field.Store.NO);
        StringField coll = new StringField("_collection", COLLECTION, Field.Store.NO);
        StringField id = new StringField("_id", "", Field.Store.NO);
        SortedDocValuesField idDv = new SortedDocValuesField("_id", new BytesRef());
        TextField body = new TextField(COLLECTION + "/body", "", Field.Store.NO);
        StringField tag = new StringField(COLLECTION + "/tag", "", Field.Store.NO);
        SortedSetDocValuesField tagDv = new SortedSetDocValuesField(COLLECTION + "/tag", new BytesRef());
        LongPoint n = new LongPoint(COLLECTION + "/n", 0L);
        SortedNumericDocValuesField nDv = new SortedNumericDocValuesField(COLLECTION + "/n", 0L);
        List<Field> doc = List.of(key, coll, id, idDv, body, tag, tagDv, n, nDv);
        for (Prepared p : prepared) {
          key.setBytesValue(new BytesRef(p.key, 8, p.key.length - 8));
          id.setStringValue(p.id);
          idDv.setBytesValue(new BytesRef(p.id));
          body.setStringValue(p.body);
          tag.setStringValue(p.tag);
          tagDv.setBytesValue(new BytesRef(p.tag));
          n.setLongValue(p.n);
          nDv.setLongValue(p.n);
          w.addDocument(doc);
        }
        w.commit();
        if (SegmentInfos.readLatestCommit(d).size() > 1) {
          w.forceMerge(1);
          w.commit();
        }
      }
      double ms = (System.nanoTime() - t0) / 1e6;
      double cpuMs = (processCpuNanos() - cpu0) / 1e6;
      double threadMs = (THREADS.getCurrentThreadCpuTime() - threadCpu0) / 1e6;
      return new Run("raw", older, rep, docs, bytes, ms, mibPerSec(bytes, ms), Double.NaN, cpuMs, mibPerSec(bytes, cpuMs),
          threadMs, mibPerSec(bytes, threadMs));
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /** The table options of the engine's RocksDB (bloom 10 bits/key, LZ4), as SegmentDb sets them. */
  private static Options sstOptions() {
    return new Options()
        .setCompressionType(CompressionType.LZ4_COMPRESSION)
        .setBottommostCompressionType(CompressionType.LZ4_COMPRESSION)
        .setTableFormatConfig(new BlockBasedTableConfig().setFilterPolicy(new BloomFilter(10)));
  }

  // ------------------------------------------------------------------ the engine's flush

  /** Times the stream phase of one flush seq through the hooks. */
  private static final class StreamTimer implements FlushHooks {
    final AtomicLong started = new AtomicLong();
    final AtomicLong ended = new AtomicLong();
    final AtomicLong cpuStarted = new AtomicLong();
    final AtomicLong cpuEnded = new AtomicLong();
    final AtomicLong streamThread = new AtomicLong();
    final AtomicLong threadCpuStarted = new AtomicLong();
    final AtomicLong threadCpuEnded = new AtomicLong();

    @Override
    public void beforeStream(String forkName, long seq, int attempt) {
      started.set(System.nanoTime());
      cpuStarted.set(processCpuNanos());
      streamThread.set(Thread.currentThread().threadId());
      threadCpuStarted.set(THREADS.getCurrentThreadCpuTime());
    }

    @Override
    public void beforePublish(String forkName, long seq) {
      // On the finalizer: the stream thread finished this flush and has nothing else to run.
      ended.set(System.nanoTime());
      cpuEnded.set(processCpuNanos());
      threadCpuEnded.set(THREADS.getThreadCpuTime(streamThread.get()));
    }
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** CPU time of this whole JVM so far, ns. */
  private static long processCpuNanos() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static double mibPerSec(long bytes, double ms) {
    return bytes / (1024.0 * 1024) / (ms / 1000);
  }

  private Run strata(int older, int rep) throws Exception {
    long bytes = prepare().stream().mapToLong(p -> p.key.length + p.value.length).sum();
    StreamTimer timer = new StreamTimer();
    EngineOptions options =
        EngineOptions.builder()
            .l0MaxBytes(2L << 30)
            .flushIntervalMs(0)
            .maxPendingFlushes(1)
            .compaction(CompactionOptions.defaults().withEnabled(false))
            .hooks(timer)
            .build();
    Path dir = BenchDirs.create(scratchRoot, "flush-limit-strata-");
    try (StrataEngine engine = StrataEngine.open(dir, LocalVfs.INSTANCE, options)) {
      Fork fork = engine.fork(StrataEngine.MAIN);
      fork.createOrGetCollection(COLLECTION, DocumentSource.SCHEMA);
      for (int s = 0; s < older; s++) {
        write(fork, s + 1, Math.min(OLDER_SEGMENT_DOCS, docs));
        fork.awaitTicket(fork.flush(60_000)).get(10, TimeUnit.MINUTES);
      }
      write(fork, 0, docs);
      long t0 = System.nanoTime();
      fork.awaitTicket(fork.flush(60_000)).get(10, TimeUnit.MINUTES);
      double flushMs = (System.nanoTime() - t0) / 1e6;
      double ms = (timer.ended.get() - timer.started.get()) / 1e6;
      double cpuMs = (timer.cpuEnded.get() - timer.cpuStarted.get()) / 1e6;
      double threadMs = (timer.threadCpuEnded.get() - timer.threadCpuStarted.get()) / 1e6;
      return new Run("strata", older, rep, docs, bytes, ms, mibPerSec(bytes, ms), flushMs, cpuMs, mibPerSec(bytes, cpuMs),
          threadMs, mibPerSec(bytes, threadMs));
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }

  /** {@code count} new documents of writer {@code writer} in ASYNC writes of 100, then a WAL sync. */
  private void write(Fork fork, int writer, int count) {
    for (int i = 0; i < count; i += 100) {
      List<Mutation> batch = source.puts(writer, i, Math.min(100, count - i));
      fork.write(COLLECTION, batch, Durability.ASYNC);
    }
  }

  // ------------------------------------------------------------------ report

  static String markdown(Report r) {
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT,
        "%nFlushLimit, started %s: %,d documents per flush, median of %d runs, %d processors, java %s%n%n",
        r.startedAt(), r.docs(), r.reps(), Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version")));
    s.append("| older segments | raw SST + Lucene ms | raw MiB/s | Strata stream ms | Strata stream MiB/s"
        + " | Strata flush (to ticket) ms | stream / raw | raw MiB/CPU-s | Strata MiB/CPU-s | stream / raw (CPU)"
        + " | raw MiB/thread-CPU-s | Strata MiB/thread-CPU-s | stream / raw (thread CPU) |\n");
    s.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int o : r.runs().stream().mapToInt(Run::olderSegments).distinct().sorted().toArray()) {
      List<Run> raw = r.runs().stream().filter(x -> x.olderSegments() == o && x.side().equals("raw")).toList();
      List<Run> st = r.runs().stream().filter(x -> x.olderSegments() == o && x.side().equals("strata")).toList();
      double rawMib = median(raw, Run::mibPerSec);
      double stMib = median(st, Run::mibPerSec);
      double rawCpu = median(raw, Run::mibPerCpuSec);
      double stCpu = median(st, Run::mibPerCpuSec);
      double rawThread = median(raw, Run::mibPerThreadCpuSec);
      double stThread = median(st, Run::mibPerThreadCpuSec);
      s.append(String.format(Locale.ROOT,
          "| %d | %.0f | %.1f | %.0f | %.1f | %.0f | %.2f× | %.1f | %.1f | %.2f× | %.1f | %.1f | %.2f× |%n", o,
          median(raw, Run::ms), rawMib, median(st, Run::ms), stMib, median(st, Run::flushMs), stMib / rawMib,
          rawCpu, stCpu, stCpu / rawCpu, rawThread, stThread, stThread / rawThread));
    }
    return s.toString();
  }

  private static void log(String msg) {
    System.err.println("[FlushLimit " + LocalTime.now().withNano(0) + "] " + msg);
  }

  /** The report as JSON. */
  public static String toJson(Report r) {
    return json(r);
  }
}
