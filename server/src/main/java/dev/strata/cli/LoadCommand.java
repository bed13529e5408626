package dev.strata.cli;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.CreateOrGetCollectionResponse;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.WriteRequest;
import dev.strata.client.StrataClient;
import dev.strata.client.Tickets;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.GZIPInputStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "load",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Load a JSON Lines file (one JSON object per line; .gz is decompressed) into a collection.",
      "",
      "With schema flags, the collection is created first (or checked to have that schema); without, it must exist. Documents are sent in atomic batches; at the end the fork is flushed, the ticket awaited, and the snapshot that holds the documents is printed."
    })
final class LoadCommand extends ClientCommand {
  @Parameters(paramLabel = "FILE", description = "A .jsonl or .jsonl.gz file; '-' reads stdin.")
  String file;

  @Option(
      names = {"-c", "--collection"},
      required = true,
      paramLabel = "NAME",
      description = "The collection to load into.")
  String collection;

  @Option(
      names = "--id-field",
      defaultValue = "id",
      paramLabel = "FIELD",
      description = "The JSON field that holds the document id (default ${DEFAULT-VALUE}).")
  String idField;

  @Mixin SchemaOptions schema;

  @Option(
      names = "--batch-size",
      defaultValue = "500",
      paramLabel = "N",
      description = "Documents per Write (1..10000, default ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--batch-bytes",
      defaultValue = "2MiB",
      converter = StrataCli.SizeConverter.class,
      paramLabel = "SIZE",
      description = "Also end a batch at this many bytes (default ${DEFAULT-VALUE}).")
  long batchBytes;

  @Option(
      names = "--parallel",
      defaultValue = "4",
      paramLabel = "N",
      description =
          "Batches in flight at once (default ${DEFAULT-VALUE}). A batch that repeats an id of a"
              + " batch in flight waits for it, so the last line of an id always wins.")
  int parallel;

  @Option(
      names = "--async",
      description = "Acknowledge batches after the WAL append, not after its fsync (DURABILITY_ASYNC).")
  boolean async;

  @Option(
      names = "--skip-invalid",
      description =
          "Skip lines that are not valid JSON objects or do not fit the schema (reported on stderr)"
              + " instead of stopping at the first one.")
  boolean skipInvalid;

  @Option(names = "--no-flush", description = "Do not flush and await a snapshot at the end.")
  boolean noFlush;

  @Option(names = "--no-progress", description = "No progress bar (a summary is printed anyway).")
  boolean noProgress;

  @Option(
      names = "--await-timeout",
      defaultValue = "10m",
      converter = StrataCli.DurationConverter.class,
      paramLabel = "DURATION",
      description = "How long to wait for the final snapshot (default ${DEFAULT-VALUE}).")
  Duration awaitTimeout;

  @Override
  int run(StrataClient c) throws Exception {
    if (batchSize < 1 || batchSize > 10_000) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--batch-size must be 1..10000: " + batchSize);
    }
    if (parallel < 1 || parallel > 64) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--parallel must be 1..64: " + parallel);
    }
    Input input = open();
    List<FieldSchema> fields;
    if (!schema.isEmpty()) {
      CreateOrGetCollectionResponse r = c.createOrGetCollection(fork(), collection, schema.fields());
      fields = r.getCollection().getFieldsList();
      if (!json()) {
        err().printf(
            "%s collection %s on fork %s: %s%n",
            r.getCreated() ? "created" : "using existing",
            collection,
            fork(),
            Views.schema(r.getCollection()));
        err().flush();
      }
    } else {
      Collection col = c.getCollection(fork(), collection, null);
      fields = col.getFieldsList();
    }
    Documents docs = new Documents(idField, fields);

    Pipeline p = new Pipeline(c);
    long start = System.nanoTime();
    ProgressBar bar = noProgress || !isTerminal() ? null : progressBar(input.totalBytes);
    boolean progressLines = !noProgress && bar == null;
    long nextLine = System.nanoTime() + PROGRESS_LINE_NANOS;
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(input.stream, StandardCharsets.UTF_8), 1 << 16)) {
      List<Mutation> batch = new ArrayList<>(batchSize);
      Set<String> ids = new HashSet<>();
      long bytes = 0;
      long lineNo = 0;
      long firstLine = 1;
      long skipped = 0;
      String line;
      while ((line = reader.readLine()) != null) {
        lineNo++;
        long lineBytes = utf8Length(line) + 1L;
        if (line.isBlank()) {
          continue;
        }
        Document d;
        try {
          d = docs.parse(line);
        } catch (IllegalArgumentException e) {
          if (skipInvalid) {
            if (++skipped <= 10) {
              err().println("skipped " + input.name + ":" + lineNo + ": " + e.getMessage());
              err().flush();
            }
            continue;
          }
          p.drain();
          throw new CliException(
              input.name + ":" + lineNo + ": " + e.getMessage()
                  + " (" + Format.count(p.docs.get()) + " documents before it were loaded;"
                  + " --skip-invalid skips bad lines)");
        }
        batch.add(Mutation.newBuilder().setPut(d).build());
        ids.add(d.getId());
        bytes += lineBytes;
        if (batch.size() >= batchSize || bytes >= batchBytes) {
          p.submit(batch, ids, bytes, firstLine, lineNo);
          batch = new ArrayList<>(batchSize);
          ids = new HashSet<>();
          bytes = 0;
          firstLine = lineNo + 1;
          tick(bar, p, start);
          if (progressLines && System.nanoTime() >= nextLine) {
            nextLine = System.nanoTime() + PROGRESS_LINE_NANOS;
            progressLine(p, start, input.totalBytes);
          }
        }
      }
      if (!batch.isEmpty()) {
        p.submit(batch, ids, bytes, firstLine, lineNo);
      }
      p.drain();
      tick(bar, p, start);
      skippedLines = skipped;
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    double secs = Math.max(1e-9, took.toNanos() / 1e9);
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("collection", collection);
    summary.put("fork", fork());
    summary.put("documents", p.docs.get());
    summary.put("bytes", p.bytes.get());
    summary.put("batches", p.batches.get());
    summary.put("retries", p.retries.get());
    summary.put("skippedLines", skippedLines);
    summary.put("lastLsn", p.lastLsn.get());
    summary.put("seconds", Math.round(secs * 1000) / 1000.0);
    summary.put("docsPerSecond", Math.round(p.docs.get() / secs));
    summary.put("mibPerSecond", Math.round(p.bytes.get() / secs / (1 << 20) * 100) / 100.0);
    if (!json()) {
      out().printf(
          Locale.ROOT,
          "loaded %s documents (%s) into %s on fork %s in %s: %s docs/s, %.1f MiB/s%n",
          Format.count(p.docs.get()),
          Format.bytes(p.bytes.get()),
          collection,
          fork(),
          Format.elapsed(took),
          Format.count(Math.round(p.docs.get() / secs)),
          p.bytes.get() / secs / (1 << 20));
      if (skippedLines > 0) {
        out().println("skipped " + Format.count(skippedLines) + " invalid lines");
      }
      out().flush();
    }
    if (!noFlush) {
      long t0 = System.nanoTime();
      FlushResponse f = c.flush(fork(), false);
      Snapshot s = c.awaitFlushBlocking(f.getTicket(), awaitTimeout);
      Duration flushTook = Duration.ofNanos(System.nanoTime() - t0);
      summary.put("ticket", Tickets.format(f.getTicket()));
      summary.put("snapshotId", s.getId());
      summary.put("flushSeconds", Math.round(flushTook.toNanos() / 1e6) / 1000.0);
      if (!json()) {
        out().printf(
            "flushed: ticket %s resolved in %s%n", Tickets.format(f.getTicket()), Format.elapsed(flushTook));
        out().println("snapshot " + s.getId());
      }
    }
    if (json()) {
      printJson(summary);
    }
    out().flush();
    return 0;
  }

  private static long utf8Length(String s) {
    long n = s.length();
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch >= 0x80) {
        n += ch < 0x800 || Character.isSurrogate(ch) ? 1 : 2;
      }
    }
    return n;
  }

  @Override
  StrataClient.RetryListener retryListener() {
    return (method, retry) -> retries.incrementAndGet();
  }

  private final AtomicLong retries = new AtomicLong();
  private long skippedLines;

  private static final long PROGRESS_LINE_NANOS = 10_000_000_000L;

  /** Whether stderr is an interactive terminal (then a progress bar, else a line every 10 s). */
  private static boolean isTerminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try { // JDK 22+: System.console() is non-null even when redirected
      return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 21: a console means a terminal
    }
  }

  private void progressLine(Pipeline p, long start, long total) {
    double secs = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
    err().printf(
        Locale.ROOT,
        "load %s: %s docs, %s%s, %s docs/s, %.1f MiB/s%n",
        collection,
        Format.count(p.docs.get()),
        Format.bytes(p.bytes.get()),
        total > 0 ? String.format(Locale.ROOT, " of %s (%d%%)", Format.bytes(total), p.bytes.get() * 100 / total) : "",
        Format.count(Math.round(p.docs.get() / secs)),
        p.bytes.get() / secs / (1 << 20));
    err().flush();
  }

  private void tick(ProgressBar bar, Pipeline p, long start) {
    if (bar == null) {
      return;
    }
    double secs = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
    bar.stepTo(p.bytes.get());
    bar.setExtraMessage(
        String.format(
            Locale.ROOT,
            " %s docs, %s docs/s%s",
            Format.count(p.docs.get()),
            Format.count(Math.round(p.docs.get() / secs)),
            p.retries.get() > 0 ? ", " + p.retries.get() + " retries" : ""));
  }

  private ProgressBar progressBar(long total) {
    return new ProgressBarBuilder()
        .setTaskName("load")
        .setInitialMax(total > 0 ? total : -1)
        .setUnit(" MiB", 1 << 20)
        .showSpeed(new java.text.DecimalFormat("0.0"))
        .setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(250)
        .setConsumer(new ConsoleProgressBarConsumer(System.err))
        .build();
  }

  /** Sends batches with at most {@code parallel} in flight, keeping per-id order. */
  private final class Pipeline {
    final StrataClient client;
    final Semaphore permits;
    final Set<String> inFlightIds = new HashSet<>();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final AtomicLong docs = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong batches = new AtomicLong();
    final AtomicLong retries = LoadCommand.this.retries;
    final AtomicLong lastLsn = new AtomicLong();

    Pipeline(StrataClient client) {
      this.client = client;
      this.permits = new Semaphore(parallel);
    }

    void submit(List<Mutation> batch, Set<String> ids, long size, long fromLine, long toLine)
        throws InterruptedException {
      rethrow();
      boolean conflict;
      synchronized (inFlightIds) {
        conflict = ids.stream().anyMatch(inFlightIds::contains);
      }
      if (conflict) {
        drain(); // an id of this batch is in flight: let it land first
      }
      permits.acquire();
      rethrow(); // a batch may have failed while we waited
      synchronized (inFlightIds) {
        inFlightIds.addAll(ids);
      }
      WriteRequest req =
          WriteRequest.newBuilder()
              .setFork(fork())
              .setCollection(collection)
              .addAllMutations(batch)
              .setDurability(async ? Durability.DURABILITY_ASYNC : Durability.DURABILITY_SYNC)
              .build();
      client
          .writeAsync(req)
          .whenComplete(
              (resp, err) -> {
                synchronized (inFlightIds) {
                  inFlightIds.removeAll(ids);
                }
                if (err != null) {
                  failure.compareAndSet(
                      null,
                      new BatchFailure(
                          "lines " + fromLine + "-" + toLine + " of " + file, err));
                } else {
                  docs.addAndGet(batch.size());
                  bytes.addAndGet(size);
                  batches.incrementAndGet();
                  lastLsn.accumulateAndGet(resp.getLsn(), Math::max);
                }
                permits.release();
              });
    }

    /** Waits until no batch is in flight, then rethrows the first failure. */
    void drain() throws InterruptedException {
      permits.acquire(parallel);
      permits.release(parallel);
      rethrow();
    }

    void rethrow() {
      Throwable t = failure.get();
      if (t instanceof BatchFailure bf) {
        throw bf.unwrap();
      }
    }
  }

  /** Carries which lines a failed batch held. */
  private static final class BatchFailure extends RuntimeException {
    BatchFailure(String where, Throwable cause) {
      super(where, cause);
    }

    RuntimeException unwrap() {
      Throwable c = getCause();
      if (c instanceof io.grpc.StatusRuntimeException sre) {
        io.grpc.Status st = sre.getStatus();
        String d = st.getDescription() == null ? "" : st.getDescription();
        // keep the status (for the exit code and one-line message) and add where it happened
        io.grpc.StatusRuntimeException withWhere =
            st.withDescription(d + (d.isEmpty() ? "" : " ") + "(batch of " + getMessage() + ")")
                .asRuntimeException(sre.getTrailers());
        return withWhere;
      }
      return c instanceof RuntimeException re ? re : new RuntimeException(c);
    }
  }

  // ------------------------------------------------------------------ input

  private record Input(String name, InputStream stream, long totalBytes) {}

  private Input open() throws IOException {
    if (file.equals("-")) {
      InputStream in = new BufferedInputStream(System.in, 1 << 16);
      return new Input("stdin", maybeGunzip(in), -1);
    }
    Path path = Path.of(file);
    if (!Files.isRegularFile(path)) {
      throw new NoSuchFileException(file, null, "no such file");
    }
    long size = Files.size(path);
    InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16);
    long total = size;
    boolean gz = isGzip(path);
    if (gz) {
      long isize = gzipUncompressedSize(path);
      total = isize >= size ? isize : -1; // ISIZE is mod 2^32: only trust it when plausible
    }
    return new Input(file, gz ? new GZIPInputStream(in, 1 << 16) : in, total);
  }

  private static InputStream maybeGunzip(InputStream in) throws IOException {
    in.mark(2);
    int b1 = in.read();
    int b2 = in.read();
    in.reset();
    return b1 == 0x1f && b2 == 0x8b ? new GZIPInputStream(in, 1 << 16) : new FilterInputStream(in) {};
  }

  private static boolean isGzip(Path p) throws IOException {
    try (InputStream in = Files.newInputStream(p)) {
      return in.read() == 0x1f && in.read() == 0x8b;
    }
  }

  /** The ISIZE trailer of a gzip file: the uncompressed size mod 2^32. */
  private static long gzipUncompressedSize(Path p) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "r")) {
      if (raf.length() < 18) {
        return -1;
      }
      raf.seek(raf.length() - 4);
      byte[] b = new byte[4];
      raf.readFully(b);
      return (b[0] & 0xffL) | (b[1] & 0xffL) << 8 | (b[2] & 0xffL) << 16 | (b[3] & 0xffL) << 24;
    }
  }
}
