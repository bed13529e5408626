package dev.strata.bench.memory;

import static dev.strata.bench.Results.json;

import dev.strata.api.v1.Durability;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.MemoryStats;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.WriteRequest;
import dev.strata.bench.peers.Corpus;
import dev.strata.bench.peers.QuerySet;
import dev.strata.client.RetryPolicy;
import dev.strata.client.StrataClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;

/**
 * A mixed soak against a running server, watching its resident memory (issue #12: "RSS flat in a
 * 10-minute mixed soak"). The server is started separately, the way an operator starts it ({@code
 * bin/strata serve}, so its JVM gets the options the launcher derives from {@code memory.budget});
 * this process only drives load and reads {@code /proc/<pid>/status}.
 *
 * <p>Load, for {@code --seconds}: {@code --writers} threads write corpus replicas under new ids to
 * {@code main}/{@code packages} in SYNC writes of {@code --batch} documents, at most {@code --rate}
 * documents per second together; {@code --readers} threads alternate a point Get of a written id
 * and a search of {@code bench/queries.txt}. Every {@code --sample} seconds a sample records the
 * server's VmRSS and VmHWM, the documents written, and {@code Stats.memory} (L0, block cache, heap).
 *
 * <p>The summary says whether RSS is flat: the mean RSS of the last third of the samples against
 * the middle third (growth in MiB, and MiB per minute over that span). Units: bytes as named, MiB
 * in the printed table, seconds. Usage: {@code MemorySoak --server HOST:PORT --pid PID [--seconds
 * 600] [--writers 2] [--readers 2] [--batch 100] [--rate 2000] [--sample 5] [--corpus FILE] [--out
 * PREFIX]}.
 */
public final class MemorySoak {

  /** One sample. Bytes, and seconds since the start. */
  public record Sample(
      double seconds, long rssBytes, long hwmBytes, long rssAnonBytes, long rssFileBytes, long docsWritten,
      long l0Bytes, long blockCacheBytes, long heapUsedBytes, long heapMaxBytes, long l0Stalls) {}

  /** The run: its settings, samples, and the flatness summary. */
  public record Report(
      String server, long pid, double seconds, int writers, int readers, int batch, double rate,
      List<Sample> samples, long rssMaxBytes, double rssMiddleMib, double rssLastMib, double growthMibPerMin,
      long docsWritten, long reads, long errors, String firstError) {}

  private MemorySoak() {}

  public static void main(String[] args) throws Exception {
    String server = null;
    long pid = -1;
    double seconds = 600;
    int writers = 2;
    int readers = 2;
    int batch = 100;
    double rate = 2000;
    double sample = 5;
    Path corpusFile = Corpus.defaultPath();
    String out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--server" -> server = args[++i];
        case "--pid" -> pid = Long.parseLong(args[++i]);
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        case "--writers" -> writers = Integer.parseInt(args[++i]);
        case "--readers" -> readers = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--rate" -> rate = Double.parseDouble(args[++i]);
        case "--sample" -> sample = Double.parseDouble(args[++i]);
        case "--corpus" -> corpusFile = Paths.get(args[++i]);
        case "--out" -> out = args[++i];
        default -> {
          System.err.println("usage: MemorySoak --server HOST:PORT --pid PID [--seconds S] [--writers N] [--readers N]"
              + " [--batch DOCS] [--rate DOCS_PER_S] [--sample S] [--corpus FILE] [--out PREFIX]");
          System.exit(2);
        }
      }
    }
    if (server == null || pid <= 0) {
      System.err.println("--server and --pid are required");
      System.exit(2);
    }
    Report r = run(server, pid, seconds, writers, readers, batch, rate, sample, Corpus.load(corpusFile, 0));
    System.out.println(markdown(r));
    if (out != null) {
      Path json = Paths.get(out + ".json");
      if (json.getParent() != null) {
        Files.createDirectories(json.getParent());
      }
      Files.writeString(json, json(r), StandardCharsets.UTF_8);
      StringBuilder csv = new StringBuilder(
          "seconds,rss_mib,hwm_mib,rss_anon_mib,rss_file_mib,docs_written,l0_mib,block_cache_mib,heap_used_mib,heap_max_mib,l0_stalls\n");
      for (Sample s : r.samples()) {
        csv.append(String.format(Locale.ROOT, "%.1f,%.1f,%.1f,%.1f,%.1f,%d,%.1f,%.1f,%.1f,%.1f,%d%n", s.seconds(),
            mib(s.rssBytes()), mib(s.hwmBytes()), mib(s.rssAnonBytes()), mib(s.rssFileBytes()), s.docsWritten(), mib(s.l0Bytes()), mib(s.blockCacheBytes()), mib(s.heapUsedBytes()),
            mib(s.heapMaxBytes()), s.l0Stalls()));
      }
      Files.writeString(Paths.get(out + ".csv"), csv, StandardCharsets.UTF_8);
      System.out.println("JSON and CSV: " + out + ".{json,csv}");
    }
  }

  static Report run(String server, long pid, double seconds, int writers, int readers, int batch, double rate,
      double sampleSeconds, Corpus corpus) throws Exception {
    List<String> queries = QuerySet.load(QuerySet.defaultPath());
    AtomicLong written = new AtomicLong();
    AtomicLong reads = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicReference<String> firstError = new AtomicReference<>();
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    try (StrataClient admin =
        StrataClient.builder(server)
            .deadline(Duration.ofMinutes(2))
            .retryPolicy(RetryPolicy.DEFAULT.withMaxAttempts(RetryPolicy.MAX_ATTEMPTS_CAP))
            .build()) {
      admin.createOrGetCollection("main", Corpus.COLLECTION, Corpus.SCHEMA);
      List<Thread> threads = new ArrayList<>();
      double perWriter = rate / Math.max(1, writers);
      for (int w = 0; w < writers; w++) {
        int writer = w;
        threads.add(new Thread(() -> {
          long next = System.nanoTime();
          while (System.nanoTime() < end) {
            WriteRequest.Builder req = WriteRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
                .setDurability(Durability.DURABILITY_SYNC);
            long first = written.getAndAdd(batch);
            for (int k = 0; k < batch; k++) {
              req.addMutations(Mutation.newBuilder().setPut(corpus.replica(first + k).proto()));
            }
            try {
              admin.write(req.build());
            } catch (RuntimeException e) {
              count(errors, firstError, e);
            }
            next += (long) (batch / perWriter * 1e9);
            sleepUntil(next);
          }
        }, "soak-writer-" + writer));
      }
      for (int r = 0; r < readers; r++) {
        int reader = r;
        threads.add(new Thread(() -> {
          SplittableRandom rnd = new SplittableRandom(1000 + reader);
          while (System.nanoTime() < end) {
            try {
              long known = Math.max(1, written.get() - 1000);
              if (rnd.nextBoolean()) {
                admin.documents().get(GetRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
                    .setId(corpus.replica(rnd.nextLong(known)).id()).build());
              } else {
                admin.search(SearchRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
                    .setQuery(queries.get(rnd.nextInt(queries.size()))).setLimit(10).build());
              }
              reads.incrementAndGet();
            } catch (RuntimeException e) {
              count(errors, firstError, e);
            }
          }
        }, "soak-reader-" + r));
      }
      threads.forEach(Thread::start);
      List<Sample> samples = new ArrayList<>();
      long nextSample = start;
      while (System.nanoTime() < end) {
        sleepUntil(nextSample);
        nextSample += (long) (sampleSeconds * 1e9);
        Sample s = sample(admin, pid, (System.nanoTime() - start) / 1e9, written.get());
        samples.add(s);
        log(String.format(Locale.ROOT,
            "t=%4.0f s  RSS %6.1f MiB (anon %6.1f, file %6.1f)  L0 %5.1f MiB  heap %6.1f / %6.1f MiB  docs %,d",
            s.seconds(), mib(s.rssBytes()), mib(s.rssAnonBytes()), mib(s.rssFileBytes()), mib(s.l0Bytes()), mib(s.heapUsedBytes()), mib(s.heapMaxBytes()),
            s.docsWritten()));
      }
      for (Thread t : threads) {
        t.join(120_000);
      }
      samples.add(sample(admin, pid, (System.nanoTime() - start) / 1e9, written.get()));
      return summarize(server, pid, seconds, writers, readers, batch, rate, samples, written.get(), reads.get(),
          errors.get(), firstError.get());
    }
  }

  private static Report summarize(String server, long pid, double seconds, int writers, int readers, int batch,
      double rate, List<Sample> samples, long docs, long reads, long errors, String firstError) {
    int n = samples.size();
    List<Sample> middle = samples.subList(n / 3, 2 * n / 3);
    List<Sample> last = samples.subList(2 * n / 3, n);
    double mid = mean(middle);
    double lst = mean(last);
    double minutes = (mean(last, Sample::seconds) - mean(middle, Sample::seconds)) / 60;
    long max = samples.stream().mapToLong(Sample::rssBytes).max().orElse(0);
    return new Report(server, pid, seconds, writers, readers, batch, rate, samples, max, mid, lst,
        minutes > 0 ? (lst - mid) / minutes : Double.NaN, docs, reads, errors, firstError);
  }

  private static double mean(List<Sample> s) {
    return mean(s, x -> mib(x.rssBytes()));
  }

  private static double mean(List<Sample> s, ToDoubleFunction<Sample> f) {
    return s.stream().mapToDouble(f).average().orElse(Double.NaN);
  }

  private static Sample sample(StrataClient admin, long pid, double seconds, long docs) throws IOException {
    long[] rss = procStatus(pid);
    MemoryStats m = admin.stats(List.of()).getMemory();
    return new Sample(seconds, rss[0], rss[1], rss[2], rss[3], docs, m.getL0Bytes(), m.getBlockCacheBytes(), m.getHeapUsedBytes(),
        m.getHeapMaxBytes(), m.getL0StallsTotal());
  }

  /**
   * VmRSS, VmHWM, RssAnon (heap, native allocations) and RssFile (mapped files: Lucene's mmapped
   * segments, the JDK's own files) of {@code pid}, bytes, from {@code /proc/<pid>/status}; -1 where
   * the kernel does not report one.
   */
  static long[] procStatus(long pid) throws IOException {
    long[] out = {-1, -1, -1, -1};
    String[] names = {"VmRSS:", "VmHWM:", "RssAnon:", "RssFile:"};
    for (String line : Files.readAllLines(Paths.get("/proc", Long.toString(pid), "status"))) {
      for (int i = 0; i < names.length; i++) {
        if (line.startsWith(names[i])) {
          out[i] = kib(line) * 1024;
        }
      }
    }
    return out;
  }

  private static long kib(String line) {
    return Long.parseLong(line.replaceAll("[^0-9]", ""));
  }

  private static void count(AtomicLong errors, AtomicReference<String> first, RuntimeException e) {
    errors.incrementAndGet();
    first.compareAndSet(null, e.toString());
  }

  private static void sleepUntil(long nanoTime) {
    long left = nanoTime - System.nanoTime();
    if (left > 0) {
      try {
        Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static double mib(long bytes) {
    return bytes / (1024.0 * 1024);
  }

  static String markdown(Report r) {
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT,
        "%nMemorySoak against %s (pid %d): %.0f s, %d writers (SYNC, %d docs/write, %.0f docs/s offered), %d readers%n%n",
        r.server(), r.pid(), r.seconds(), r.writers(), r.batch(), r.rate(), r.readers()));
    s.append("| docs written | reads | errors | RSS max MiB | RSS mean, middle third MiB | RSS mean, last third MiB"
        + " | growth MiB/min |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    s.append(String.format(Locale.ROOT, "| %,d | %,d | %d | %.0f | %.0f | %.0f | %.1f |%n", r.docsWritten(), r.reads(),
        r.errors(), mib(r.rssMaxBytes()), r.rssMiddleMib(), r.rssLastMib(), r.growthMibPerMin()));
    if (r.firstError() != null) {
      s.append("\nfirst error: ").append(r.firstError()).append('\n');
    }
    return s.toString();
  }

  private static void log(String msg) {
    System.err.println("[MemorySoak " + LocalTime.now().withNano(0) + "] " + msg);
  }
}
