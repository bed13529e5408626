package dev.strata.bench.torture;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.api.v1.WriteRequest;
import dev.strata.bench.BenchDirs;
import dev.strata.bench.LongSamples;
import dev.strata.bench.peers.StrataServerProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The kill -9 torture of issue #11 ({@code bench/run-torture.sh}): a Strata server in a child JVM
 * takes concurrent SYNC writes — puts, overwrites and deletes — and is killed with SIGKILL at a
 * random moment, right after a flush starts, or right after a full compaction starts; then it is
 * restarted on the same data directory, and a full scan is checked against an exact model of the
 * acknowledged writes ({@link AcknowledgedModel}): nothing acknowledged lost, nothing corrupted,
 * nothing deleted resurrected, and every batch in flight at the kill applied whole or not at all.
 * {@code AdminService.Verify} (manifest chains, segment checksums) must be clean after every
 * restart. The server flushes every 100 ms with a small L0, compacts down to few segments and
 * expires snapshots quickly, so kills land in flushes, compactions and garbage collection too.
 *
 * <p>Seeded ({@code --seed}); the seed and every finding are printed. Exits 1 if anything was lost,
 * corrupted or resurrected, or a call failed in a way a kill does not explain.
 */
public final class KillNineTorture {
  /** The collection written. */
  static final String COLLECTION = "torture";

  /** How a cycle ends. */
  enum KillMode {
    /** After a random time of writes. */
    RANDOM,
    /** Within a few milliseconds after a Flush RPC started a rotate. */
    FLUSH,
    /** Within a few milliseconds after a full Compact RPC started. */
    COMPACTION
  }

  /** Settings of one run. */
  record Options(int cycles, int writers, int keysPerWriter, long seed, long maxWriteMsPerCycle, Path dir, Path out) {
    static Options parse(String[] args) {
      int cycles = 100;
      int writers = 4;
      int keys = 200;
      long seed = System.nanoTime();
      long maxWriteMs = 1200;
      Path dir = null;
      Path out = null;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--cycles" -> cycles = Integer.parseInt(args[++i]);
          case "--writers" -> writers = Integer.parseInt(args[++i]);
          case "--keys-per-writer" -> keys = Integer.parseInt(args[++i]);
          case "--seed" -> seed = Long.parseLong(args[++i]);
          case "--max-write-ms" -> maxWriteMs = Long.parseLong(args[++i]);
          case "--dir" -> dir = Path.of(args[++i]);
          case "--out" -> out = Path.of(args[++i]);
          default -> throw new IllegalArgumentException(
              "unknown argument " + a + " (--cycles N --writers N --keys-per-writer N --seed N --max-write-ms MS --dir DIR --out FILE)");
        }
      }
      return new Options(cycles, writers, keys, seed, maxWriteMs, dir, out);
    }
  }

  /** What a run found. */
  record Report(
      Options options,
      int cycles,
      long acknowledgedWrites,
      long acknowledgedMutations,
      long refusedWrites,
      long inFlightApplied,
      long inFlightNotApplied,
      long lost,
      long corrupted,
      long resurrected,
      long verifyProblems,
      long unexpectedErrors,
      Map<KillMode, Integer> kills,
      LongSamples restartMs,
      long seconds,
      List<String> examples) {
    boolean clean() {
      return lost == 0 && corrupted == 0 && resurrected == 0 && verifyProblems == 0 && unexpectedErrors == 0;
    }

    String summary() {
      return String.format(
          Locale.ROOT,
          "cycles=%d acknowledged_writes=%d acknowledged_mutations=%d refused_writes=%d in_flight_applied=%d"
              + " in_flight_not_applied=%d lost=%d corrupted=%d resurrected=%d verify_problems=%d unexpected_errors=%d"
              + " kills=%s restart_ms_p50=%.0f restart_ms_p95=%.0f restart_ms_max=%.0f seconds=%d seed=%d",
          cycles, acknowledgedWrites, acknowledgedMutations, refusedWrites, inFlightApplied, inFlightNotApplied, lost,
          corrupted, resurrected, verifyProblems, unexpectedErrors, kills, restartMs.percentile(50),
          restartMs.percentile(95), restartMs.max(), seconds, options.seed());
    }
  }

  private final Options options;
  private final PrintStream log;
  /** The running server child, killed if this JVM is stopped (SIGTERM, Ctrl-C) mid-run. */
  private volatile StrataServerProcess current;

  KillNineTorture(Options options, PrintStream log) {
    this.options = options;
    this.log = log;
  }

  /** Runs the torture; see the class comment. */
  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    Report r = new KillNineTorture(o, System.out).run();
    System.out.println("torture: " + r.summary());
    r.examples().forEach(e -> System.out.println("  " + e));
    if (o.out() != null) {
      Files.writeString(o.out(), r.summary() + "\n" + String.join("\n", r.examples()) + "\n", StandardCharsets.UTF_8);
    }
    System.exit(r.clean() ? 0 : 1);
  }

  /** Server settings: flushes, compactions and snapshot expiry happen all the time. */
  static Map<String, String> serverSettings() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("flush.interval", "100ms");
    m.put("l0.max_bytes", "128KiB");
    m.put("max_pending_flushes", "2");
    m.put("write_stall_timeout", "5s");
    m.put("flush.threads", "2");
    m.put("compaction.max_segments", "4");
    m.put("compaction.merge_factor", "2");
    m.put("compaction.floor_segment_bytes", "1KiB");
    m.put("retention.snapshots", "3");
    m.put("retention.min_age", "0");
    m.put("retention.interval", "200ms");
    m.put("cache.block_bytes", "8MiB");
    m.put("server.threads", "8");
    m.put("metrics.listen", "off");
    m.put("log.level", "WARN");
    m.put("shutdown.grace_period", "2s");
    return m;
  }

  Report run() throws Exception {
    Path root = options.dir() != null ? Files.createDirectories(options.dir()) : BenchDirs.create("strata-torture");
    Path data = root.resolve("data");
    // A class-data-sharing archive made by the first start makes every restart cheaper.
    List<String> jvmArgs =
        List.of("-XX:SharedArchiveFile=" + root.resolve("server-cds.jsa"), "-XX:+AutoCreateSharedArchive",
            "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto");
    makeClassDataArchive(root, jvmArgs);
    SplittableRandom random = new SplittableRandom(options.seed());
    log.printf("torture: seed %d, %d cycles, %d writers x %d keys, data %s%n",
        options.seed(), options.cycles(), options.writers(), options.keysPerWriter(), data);
    AcknowledgedModel model = new AcknowledgedModel();
    for (int w = 0; w < options.writers(); w++) {
      model.own(keysOf(w));
    }
    Thread reaper =
        new Thread(
            () -> {
              StrataServerProcess s = current;
              if (s != null) {
                try {
                  s.kill();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            },
            "torture-reaper");
    Runtime.getRuntime().addShutdownHook(reaper);
    long t0 = System.nanoTime();
    long ackWrites = 0;
    long ackMutations = 0;
    long refused = 0;
    long applied = 0;
    long notApplied = 0;
    long lost = 0;
    long corrupted = 0;
    long resurrected = 0;
    long verifyProblems = 0;
    long unexpected = 0;
    Map<KillMode, Integer> kills = new LinkedHashMap<>();
    LongSamples restartMs = new LongSamples();
    List<String> examples = new ArrayList<>();
    List<AcknowledgedModel.WriterLog> previous = List.of();
    int cycle = 0;
    try {
      for (; cycle <= options.cycles(); cycle++) {
        long s0 = System.nanoTime();
        Path serverLog = root.resolve("server-" + (cycle % 2) + ".log");
        StrataServerProcess server =
            StrataServerProcess.start(data, "127.0.0.1:0", serverSettings(), 512, jvmArgs, serverLog, 120_000);
        current = server;
        if (cycle > 0) {
          restartMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - s0));
        }
        ManagedChannel channel =
            ManagedChannelBuilder.forTarget(server.target()).usePlaintext().maxInboundMessageSize(64 << 20).build();
        try {
          CollectionServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .createOrGetCollection(
                  CreateOrGetCollectionRequest.newBuilder()
                      .setName(COLLECTION)
                      .addFields(FieldSchema.newBuilder().setName("v").setKind(FieldKind.FIELD_KIND_KEYWORD))
                      .addFields(FieldSchema.newBuilder().setName("n").setKind(FieldKind.FIELD_KIND_LONG))
                      .addFields(FieldSchema.newBuilder().setName("body").setKind(FieldKind.FIELD_KIND_TEXT))
                      .build());
          // The check of the previous cycle's kill.
          AcknowledgedModel.Findings f = model.check(scan(channel), previous);
          applied += f.inFlightApplied();
          notApplied += f.inFlightNotApplied();
          lost += f.lost();
          corrupted += f.corrupted();
          resurrected += f.resurrected();
          for (String e : f.examples()) {
            examples.add("cycle " + cycle + ": " + e);
          }
          VerifyResponse v =
              AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).verify(VerifyRequest.getDefaultInstance());
          if (v.getProblemsCount() > 0) {
            verifyProblems += v.getProblemsCount();
            examples.add("cycle " + cycle + ": verify: " + v.getProblemsList().toString().replace('\n', ' '));
          }
          if (!f.clean() || v.getProblemsCount() > 0) {
            log.printf("torture: cycle %d FOUND %s%n", cycle, f);
          }
          if (cycle == options.cycles()) {
            break; // the last restart is only checked
          }
          KillMode mode = KillMode.values()[random.nextInt(KillMode.values().length)];
          kills.merge(mode, 1, Integer::sum);
          List<AcknowledgedModel.WriterLog> logs = writeAndKill(server, channel, model, mode, random.split(), cycle);
          for (AcknowledgedModel.WriterLog w : logs) {
            model.applyAcknowledged(w);
            ackWrites += w.acknowledged.size();
            ackMutations += w.acknowledgedMutations;
            refused += w.refused;
          }
          unexpected += unexpectedErrors.getAndSet(0);
          previous = logs;
        } finally {
          channel.shutdownNow();
          channel.awaitTermination(5, TimeUnit.SECONDS);
          server.kill();
        }
        if (cycle % 50 == 0 || cycle < 3) {
          log.printf("torture: cycle %d/%d, %d acknowledged mutations, lost %d, corrupted %d, resurrected %d, restart p50 %.0f ms%n",
              cycle, options.cycles(), ackMutations, lost, corrupted, resurrected, restartMs.size() == 0 ? 0 : restartMs.percentile(50));
        }
      }
    } finally {
      Runtime.getRuntime().removeShutdownHook(reaper);
      if (options.dir() == null) {
        BenchDirs.deleteRecursively(root);
      }
    }
    for (String u : unexpectedExamples) {
      examples.add(u);
    }
    return new Report(options, Math.min(cycle, options.cycles()), ackWrites, ackMutations, refused, applied, notApplied,
        lost, corrupted, resurrected, verifyProblems, unexpected, kills, restartMs,
        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0), examples);
  }

  private final java.util.concurrent.atomic.AtomicLong unexpectedErrors = new java.util.concurrent.atomic.AtomicLong();
  private final List<String> unexpectedExamples = java.util.Collections.synchronizedList(new ArrayList<>());

  /**
   * Starts and stops a server once on a scratch directory: the JVM writes the class-data-sharing
   * archive when it exits normally, which a killed server never does.
   */
  private void makeClassDataArchive(Path root, List<String> jvmArgs) throws Exception {
    Path scratch = root.resolve("cds-warmup");
    try (StrataServerProcess s =
        StrataServerProcess.start(scratch.resolve("data"), "127.0.0.1:0", serverSettings(), 512, jvmArgs,
            root.resolve("cds-warmup.log"), 120_000)) {
      current = s;
    }
    BenchDirs.deleteRecursively(scratch);
  }

  /** The keys writer {@code w} owns. */
  List<String> keysOf(int w) {
    List<String> out = new ArrayList<>();
    for (int k = 0; k < options.keysPerWriter(); k++) {
      out.add("w" + w + "-k" + k);
    }
    return out;
  }

  /** Runs the writers until the kill; returns what each one did. */
  private List<AcknowledgedModel.WriterLog> writeAndKill(
      StrataServerProcess server, ManagedChannel channel, AcknowledgedModel model, KillMode mode, SplittableRandom random, int cycle)
      throws Exception {
    AtomicBoolean killed = new AtomicBoolean();
    List<AcknowledgedModel.WriterLog> logs = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < options.writers(); w++) {
      AcknowledgedModel.WriterLog wl = new AcknowledgedModel.WriterLog();
      logs.add(wl);
      int writer = w;
      SplittableRandom r = random.split();
      List<String> keys = keysOf(writer);
      Thread t =
          new Thread(
              () -> {
                DocumentServiceGrpc.DocumentServiceBlockingStub docs = DocumentServiceGrpc.newBlockingStub(channel);
                for (int b = 0; !killed.get(); b++) {
                  List<Mutation> batch = batch(r, keys, writer, cycle, b);
                  try {
                    docs.withDeadlineAfter(20, TimeUnit.SECONDS)
                        .write(
                            WriteRequest.newBuilder()
                                .setCollection(COLLECTION)
                                .setDurability(Durability.DURABILITY_SYNC)
                                .addAllMutations(batch)
                                .build());
                    wl.acknowledged.add(batch);
                    wl.acknowledgedMutations += batch.size();
                  } catch (StatusRuntimeException e) {
                    if (killed.get()) {
                      wl.inFlight = batch; // sent; the kill may or may not have let it through
                      return;
                    }
                    if (e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                      wl.refused++; // back-pressure: not applied, the model ignores it
                      continue;
                    }
                    unexpected("cycle " + cycle + ": writer " + writer + " got " + e.getStatus() + " before the kill");
                    return;
                  }
                }
              },
              "torture-writer-" + w);
      threads.add(t);
    }
    threads.forEach(Thread::start);
    long writeMs = 50 + random.nextLong(Math.max(1, options.maxWriteMsPerCycle() - 50));
    Thread.sleep(writeMs);
    try {
      switch (mode) {
        case RANDOM -> {}
        case FLUSH -> {
          FlushServiceGrpc.newStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
              .flush(FlushRequest.getDefaultInstance(), new IgnoringObserver<>());
          Thread.sleep(random.nextInt(15));
        }
        case COMPACTION -> {
          AdminServiceGrpc.newStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
              .compact(CompactRequest.newBuilder().setForceFullMerge(true).build(), new IgnoringObserver<>());
          Thread.sleep(random.nextInt(40));
        }
      }
    } finally {
      killed.set(true);
      server.kill();
    }
    for (Thread t : threads) {
      t.join(60_000);
      if (t.isAlive()) {
        unexpected("cycle " + cycle + ": " + t.getName() + " did not stop within 60 s of the kill");
      }
    }
    return logs;
  }

  private void unexpected(String what) {
    unexpectedErrors.incrementAndGet();
    if (unexpectedExamples.size() < 20) {
      unexpectedExamples.add(what);
    }
    log.println("torture: " + what);
  }

  /** One batch of 1..8 distinct keys of a writer: 75% puts (a new, unique document), 25% deletes. */
  private static List<Mutation> batch(SplittableRandom r, List<String> keys, int writer, int cycle, int b) {
    int n = 1 + r.nextInt(8);
    Map<String, Mutation> out = new LinkedHashMap<>();
    while (out.size() < n) {
      String key = keys.get(r.nextInt(keys.size()));
      if (out.containsKey(key)) {
        continue;
      }
      if (r.nextInt(4) == 0) {
        out.put(key, Mutation.newBuilder().setDeleteId(key).build());
      } else {
        out.put(key, Mutation.newBuilder().setPut(AcknowledgedModel.document(key, "c" + cycle + "-w" + writer + "-b" + b)).build());
      }
    }
    return new ArrayList<>(out.values());
  }

  /** Every document of the collection at the head, by id. */
  static Map<String, Document> scan(ManagedChannel channel) {
    Map<String, Document> out = new HashMap<>();
    Iterator<ScanResponse> it =
        DocumentServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .scan(ScanRequest.newBuilder().setCollection(COLLECTION).build());
    while (it.hasNext()) {
      for (Document d : it.next().getDocumentsList()) {
        out.put(d.getId(), d);
      }
    }
    return out;
  }

  /** A response observer for calls whose answer the kill cuts off. */
  private static final class IgnoringObserver<T> implements io.grpc.stub.StreamObserver<T> {
    @Override
    public void onNext(T value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  static {
    // Keep the harness's own output readable: the channel logs every kill as a broken connection.
    java.util.logging.Logger.getLogger("io.grpc").setLevel(java.util.logging.Level.SEVERE);
  }

}
