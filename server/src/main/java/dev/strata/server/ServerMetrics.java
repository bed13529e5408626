package dev.strata.server;

import dev.strata.engine.MemoryBudget;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.SegmentStore;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import dev.strata.objectstore.ObjectStorageTier;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The server's Prometheus metrics (SPEC §7), served as text on {@code GET /metrics} of {@code
 * metrics.listen} by the Prometheus Java client's {@link HTTPServer}. Two histograms are recorded
 * as things happen (write RPC latency, flush rotate-to-publish time); everything else is read from
 * the engine at scrape time through callbacks, so a scrape costs one pass over the open forks and
 * no file is read. Names follow Prometheus conventions (base units: seconds, bytes; counters end in
 * {@code _total}); every per-fork series has a {@code fork} label.
 *
 * <p>Thread-safe. Owned by {@link StrataServer}, which {@link #close closes} it at shutdown.
 */
final class ServerMetrics implements AutoCloseable {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram writeSeconds;
  /** {@code writeSeconds}' data point of each fork name seen. */
  private final Map<String, DistributionDataPoint> writeByFork = new ConcurrentHashMap<>();
  private final Histogram flushSeconds;
  private volatile HTTPServer http;

  /**
   * Registers every metric; callbacks read {@code engine} at scrape time and report nothing while
   * it is not serving.
   */
  ServerMetrics(Supplier<StrataEngine> engine) {
    writeSeconds =
        Histogram.builder()
            .name("strata_write_duration_seconds")
            .help("Write RPC latency from request to acknowledgement (durability included)")
            .unit(Unit.SECONDS)
            .labelNames("fork")
            .register(registry);
    flushSeconds =
        Histogram.builder()
            .name("strata_flush_duration_seconds")
            .help("Flush time from rotate to the publication of its snapshot")
            .unit(Unit.SECONDS)
            .labelNames("fork")
            .register(registry);
    gauge(engine, "strata_l0_bytes", "Bytes in the active L0 buffer (memtable)", f -> f.stats().activeL0Bytes());
    gauge(engine, "strata_frozen_l0_bytes", "Bytes in frozen L0 buffers waiting for their flush", f -> f.stats().frozenL0Bytes());
    gauge(engine, "strata_pending_flushes", "Flushes rotated but not yet published", f -> f.stats().pendingFlushes());
    gauge(engine, "strata_segments", "Segments in the fork's head snapshot", f -> f.stats().segmentCount());
    gauge(engine, "strata_snapshots", "Retained snapshots of the fork", Fork::retainedSnapshotCount);
    gauge(engine, "strata_compaction_backlog_segments", "Segments the merge policy still has to merge",
        (e, f) -> e.compactions().policy().backlog(f.headSegmentSizes()));
    gauge(engine, "strata_write_amplification", "Bytes written by flushes and compactions per byte flushed",
        f -> f.stats().writeAmplification());
    GaugeWithCallback.builder()
        .name("strata_segment_bytes")
        .help("Bytes of segments the fork's retained snapshots refer to, by kind: exclusive (only this"
            + " fork), shared (with other forks), reclaimable (in no fork's head; freed as old snapshots expire)")
        .unit(Unit.BYTES)
        .labelNames("fork", "kind")
        .callback(
            cb ->
                ifServing(
                    engine,
                    e -> {
                      for (Map.Entry<String, StrataEngine.SegmentUsage> u : e.segmentUsage().entrySet()) {
                        cb.call(u.getValue().exclusiveBytes(), u.getKey(), "exclusive");
                        cb.call(u.getValue().sharedBytes(), u.getKey(), "shared");
                        cb.call(u.getValue().reclaimableBytes(), u.getKey(), "reclaimable");
                      }
                    }))
        .register(registry);
    counter(engine, "strata_flushes", "Flushes published", f -> f.stats().flushesPublished());
    counter(engine, "strata_compactions", "Compactions published", f -> f.stats().compactionsPublished());
    counter(engine, "strata_write_stall_seconds", "Time writers waited for a flush permit",
        f -> f.stats().stallTimeMs() / 1000.0);
    counter(engine, "strata_compaction_stalls", "Times writers waited for compaction (last-resort stall)",
        f -> f.stats().compactionStalls());
    counter(engine, "strata_compaction_stall_seconds", "Time writers waited for compaction",
        f -> f.stats().compactionStallMs() / 1000.0);
    counter(engine, "strata_flush_written_bytes", "Bytes of segments written by flushes", f -> f.stats().flushBytesWritten());
    counter(engine, "strata_compaction_written_bytes", "Bytes of segments written by compactions",
        f -> f.stats().compactionBytesWritten());
    GaugeWithCallback.builder()
        .name("strata_compactions_running")
        .help("Compaction jobs merging right now, over all forks")
        .callback(cb -> ifServing(engine, e -> cb.call(e.compactions().runningJobs())))
        .register(registry);
    serverCounter(engine, "strata_snapshots_expired", "Snapshots deleted by retention", StrataEngine::snapshotsExpired);
    serverCounter(engine, "strata_segments_collected", "Segments found unreferenced by garbage collection",
        StrataEngine::segmentsCollected);
    serverCounter(engine, "strata_compaction_failures", "Compaction jobs that failed (retried later)",
        e -> e.compactions().failureCount());
    GaugeWithCallback.builder()
        .name("strata_segment_deletions_pending")
        .help("Obsolete segments waiting for the background deleter")
        .callback(cb -> ifServing(engine, e -> cb.call(e.segments().deletionStats().pending())))
        .register(registry);
    gauge(engine, "strata_segments_over_cap", "Head segments above compaction.max_segments",
        (e, f) -> Math.max(0, f.stats().segmentCount() - e.options().compaction().maxSegments()));
    serverGauge(engine, "strata_retained_segment_bytes", "Bytes of the segments retained snapshots refer to (last retention pass)",
        e -> e.spaceUsage().retainedBytes());
    serverGauge(engine, "strata_live_segment_bytes", "Bytes of the segments the forks' heads refer to (last retention pass)",
        e -> e.spaceUsage().liveBytes());
    serverGauge(engine, "strata_retention_bound_bytes", "Retention's space bound in bytes (0 = none)",
        e -> e.spaceUsage().boundBytes() == Long.MAX_VALUE ? 0 : e.spaceUsage().boundBytes());
    serverCounter(engine, "strata_snapshots_expired_for_space", "Snapshots the space bound expired early",
        e -> e.spaceUsage().expiredForSpaceTotal());
    shareGauge(engine, "strata_memory_share_bytes",
        "The memory budget (memory.budget) and its shares: total, l0 (all forks), block_cache, lucene",
        e -> {
          MemoryBudget b = e.options().memory();
          return Map.of("total", b.totalBytes(), "l0", b.l0Bytes(), "block_cache", b.blockCacheBytes(),
              "lucene", b.luceneBytes());
        });
    shareGauge(engine, "strata_memory_used_bytes",
        "Memory in use now: l0 (L0 of all forks, against its share), block_cache, heap (Java heap incl. garbage)",
        e -> {
          StrataEngine.MemoryUsage m = e.memoryUsage();
          return Map.of("l0", m.l0Bytes(), "block_cache", m.blockCacheBytes(), "heap", m.heapUsedBytes());
        });
    serverCounter(engine, "strata_memory_stalls", "Times writers waited because L0 of all forks reached its share",
        e -> e.memoryUsage().l0Stalls());
    serverCounter(engine, "strata_memory_stall_seconds", "Time writers waited for L0 of all forks to fall below its share",
        e -> e.memoryUsage().l0StallMs() / 1000.0);
    serverCounter(engine, "strata_segments_deleted", "Obsolete segments whose files were deleted",
        e -> e.segments().deletionStats().deleted());
    serverCounter(engine, "strata_segment_deletion_failures",
        "Obsolete-segment deletions that failed (the next open's orphan sweep finishes them)",
        e -> e.segments().deletionStats().failed());
  }

  /** A server-wide gauge in bytes with one series per {@code share} label. */
  private void shareGauge(
      Supplier<StrataEngine> engine, String name, String help, Function<StrataEngine, Map<String, Long>> shares) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .unit(Unit.BYTES)
        .labelNames("share")
        .callback(cb -> ifServing(engine, e -> shares.apply(e).forEach((share, bytes) -> cb.call(bytes, share))))
        .register(registry);
  }

  private void serverGauge(Supplier<StrataEngine> engine, String name, String help, ToDoubleFunction<StrataEngine> value) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> ifServing(engine, e -> cb.call(value.applyAsDouble(e))))
        .register(registry);
  }

  private void serverCounter(
      Supplier<StrataEngine> engine, String name, String help, java.util.function.ToDoubleFunction<StrataEngine> value) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> ifServing(engine, e -> cb.call(value.applyAsDouble(e))))
        .register(registry);
  }

  private static void ifServing(Supplier<StrataEngine> engine, java.util.function.Consumer<StrataEngine> body) {
    StrataEngine e = serving(engine);
    if (e != null) {
      body.accept(e);
    }
  }

  private interface ForkValue {
    double of(StrataEngine engine, Fork fork);
  }

  private void gauge(Supplier<StrataEngine> engine, String name, String help, java.util.function.ToDoubleFunction<Fork> value) {
    gauge(engine, name, help, (e, f) -> value.applyAsDouble(f));
  }

  private void gauge(Supplier<StrataEngine> engine, String name, String help, ForkValue value) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames("fork")
        .callback(cb -> perFork(engine, value, cb::call))
        .register(registry);
  }

  private void counter(Supplier<StrataEngine> engine, String name, String help, java.util.function.ToDoubleFunction<Fork> value) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames("fork")
        .callback(cb -> perFork(engine, (e, f) -> value.applyAsDouble(f), cb::call))
        .register(registry);
  }

  /** Where a per-fork callback sends one fork's value. */
  private interface Sink {
    void call(double value, String... labels);
  }

  private static void perFork(Supplier<StrataEngine> engine, ForkValue value, Sink sink) {
    ifServing(
        engine,
        e -> {
          for (Fork f : e.openForks()) {
            sink.call(value.of(e, f), f.name());
          }
        });
  }

  private static StrataEngine serving(Supplier<StrataEngine> engine) {
    try {
      return engine.get();
    } catch (RuntimeException e) {
      return null; // starting or stopped: no per-engine series
    }
  }

  /**
   * Adds the object-storage tier's series (once, after the tier started): upload lag per fork in
   * snapshots and bytes, and bytes uploaded. Absent while the tier is off.
   */
  void registerUploads(ObjectStorageTier tier) {
    GaugeWithCallback.builder()
        .name("strata_upload_lag_snapshots")
        .help("Retained snapshots published locally and not yet in object storage")
        .labelNames("fork")
        .callback(cb -> tier.lag().forEach((fork, lag) -> cb.call(lag.snapshotsPending(), fork)))
        .register(registry);
    GaugeWithCallback.builder()
        .name("strata_upload_lag_bytes")
        .help("Bytes of segments those snapshots name that are not yet in object storage")
        .unit(Unit.BYTES)
        .labelNames("fork")
        .callback(cb -> tier.lag().forEach((fork, lag) -> cb.call(lag.bytesPending(), fork)))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_uploaded_bytes")
        .help("Segment bundle bytes uploaded to object storage since the server started")
        .unit(Unit.BYTES)
        .callback(cb -> cb.call(tier.bytesUploaded()))
        .register(registry);
  }

  /**
   * Adds the local segment cache's series (once, with the tier on): resident and pinned bytes,
   * fetches, fetched bytes, fetch failures and evictions.
   */
  void registerSegmentCache(SegmentStore segments) {
    GaugeWithCallback.builder()
        .name("strata_segment_cache_resident_bytes")
        .help("Bytes of uploaded segments on local disk (storage.cache_bytes bounds them when no read holds one)")
        .unit(Unit.BYTES)
        .callback(cb -> cb.call(segments.cacheStats().residentBytes()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("strata_segment_cache_pinned_bytes")
        .help("Bytes of those segments a read holds now")
        .unit(Unit.BYTES)
        .callback(cb -> cb.call(segments.cacheStats().pinnedBytes()))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_segment_cache_fetches")
        .help("Segment downloads from object storage (reads of evicted or never-local segments)")
        .callback(cb -> cb.call(segments.cacheStats().misses()))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_segment_cache_fetch_failures")
        .help("Segment downloads that failed (the read got UNAVAILABLE)")
        .callback(cb -> cb.call(segments.cacheStats().downloadFailures()))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_segment_cache_fetched_bytes")
        .help("Bytes downloaded from object storage into the segment cache")
        .unit(Unit.BYTES)
        .callback(cb -> cb.call(segments.cacheStats().downloadedBytes()))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_segment_cache_evictions")
        .help("Segments evicted from local disk")
        .callback(cb -> cb.call(segments.cacheStats().evictions()))
        .register(registry);
  }

  /** Records one acknowledged (or failed) write of {@code fork} that took {@code nanos}. */
  void observeWrite(String fork, long nanos) {
    // One data point per fork, looked up without building a label array per write.
    writeByFork.computeIfAbsent(fork, f -> writeSeconds.labelValues(f)).observe(nanos / 1e9);
  }

  /**
   * Registers the server's own pools ({@link CallExecutors}): queued and running calls per pool,
   * and calls skipped because their deadline passed (or they were cancelled) while queued.
   */
  void registerPools(CallExecutors exec) {
    Map<String, ThreadPoolExecutor> pools =
        Map.of("read", exec.reads, "write", exec.appends, "write-stall", exec.stalls, "rpc", exec.blocking);
    GaugeWithCallback.builder()
        .name("strata_server_pool_queued")
        .help("Calls waiting for a thread of the server's bounded pool (refused with SERVER_BUSY past 1024)")
        .labelNames("pool")
        .callback(cb -> pools.forEach((name, p) -> cb.call(p.getQueue().size(), name)))
        .register(registry);
    GaugeWithCallback.builder()
        .name("strata_server_pool_active")
        .help("Threads of the server's bounded pool running a call now")
        .labelNames("pool")
        .callback(cb -> pools.forEach((name, p) -> cb.call(p.getActiveCount(), name)))
        .register(registry);
    CounterWithCallback.builder()
        .name("strata_server_calls_expired_in_queue")
        .help("Calls whose deadline passed or that were cancelled while they waited for a pool thread (never run)")
        .callback(cb -> cb.call(exec.expiredWhileQueued()))
        .register(registry);
  }

  /** Records one published flush of {@code fork} that took {@code millis} from rotate. */
  void observeFlush(String fork, long millis) {
    flushSeconds.labelValues(fork).observe(millis / 1000.0);
  }

  /**
   * Serves {@code /metrics} on {@code address} (port 0 picks one).
   *
   * @throws IOException if the port cannot be bound
   */
  void start(InetSocketAddress address) throws IOException {
    http =
        HTTPServer.builder()
            .hostname(address.getHostString())
            .port(address.getPort())
            .registry(registry)
            .buildAndStart();
  }

  /** The bound port, or -1 if not serving. */
  int port() {
    HTTPServer h = http;
    return h == null ? -1 : h.getPort();
  }

  /** The registry (for tests that read metrics without HTTP). */
  PrometheusRegistry registry() {
    return registry;
  }

  /** Stops the HTTP endpoint; idempotent. */
  @Override
  public void close() {
    HTTPServer h = http;
    http = null;
    if (h != null) {
      h.stop();
    }
  }
}
