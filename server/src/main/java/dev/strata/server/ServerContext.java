package dev.strata.server;

import dev.strata.api.v1.Snapshot;
import dev.strata.engine.StrataEngine;
import dev.strata.objectstore.ObjectStorageTier;
import dev.strata.objectstore.S3ObjectStore;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * What every service needs: the serving state (and through it the engine), the configuration, the
 * document-count cache, the live snapshot watches, per-fork counters the engine does not keep, and
 * the server's bounded pools ({@link CallExecutors}). Thread-safe.
 */
final class ServerContext {
  final ServingState state;
  final ServerConfig config;
  final CollectionCounts counts = new CollectionCounts();
  /** Fork ids known to be dropped (FORK_DROPPED vs. an id that never existed). */
  final DroppedForkIds droppedForks = new DroppedForkIds();
  final SnapshotWatches watches;
  /** Where calls run beyond the transport threads (the bounded pools). */
  final CallExecutors exec;
  /** The open WatchChanges streams. */
  final ChangeFeedStreams feeds;
  final long startTimeMs = System.currentTimeMillis();
  /** The Prometheus metrics; the server starts their endpoint once the engine serves. */
  final ServerMetrics metrics;

  /** The object-storage tier once started, or null (off, or before the engine serves). */
  volatile ObjectStorageTier tier;
  /**
   * The bucket client the engine's segment cache fetches through (tier on only); opened before the
   * engine, closed after it.
   */
  volatile S3ObjectStore segmentSource;

  /** RESOURCE_EXHAUSTED answers per fork name, since start. */
  private final Map<String, LongAdder> stalledRequests = new ConcurrentHashMap<>();

  ServerContext(ServingState state, ServerConfig config, CallExecutors exec, ScheduledExecutorService scheduler) {
    this.state = state;
    this.config = config;
    this.exec = exec;
    this.watches = new SnapshotWatches(this, scheduler);
    this.feeds = new ChangeFeedStreams(this, scheduler);
    this.metrics = new ServerMetrics(state::engine);
  }

  /**
   * The object-storage tier.
   *
   * @throws ApiError FAILED_PRECONDITION if it is off
   */
  ObjectStorageTier requireTier() {
    ObjectStorageTier t = tier;
    if (t == null) {
      throw ApiError.of(io.grpc.Status.Code.FAILED_PRECONDITION, null,
          "the object-storage tier is off on this server (set storage.bucket): level UPLOADED cannot be reached");
    }
    return t;
  }

  /** The engine (UNAVAILABLE while starting or stopped). */
  StrataEngine engine() {
    return state.engine();
  }

  /** Runs {@code body}, counting a back-pressure refusal against {@code fork}. */
  <T> T countingStalls(String fork, Supplier<T> body) {
    try {
      return body.get();
    } catch (StrataException e) {
      if (e.kind() == StrataException.Kind.RESOURCE_EXHAUSTED) {
        countStall(fork);
      }
      throw e;
    }
  }

  /** Counts a back-pressure refusal (RESOURCE_EXHAUSTED) against {@code fork}. */
  void countStall(String fork) {
    stalledRequests.computeIfAbsent(fork, k -> new LongAdder()).increment();
  }

  /** RESOURCE_EXHAUSTED answers for {@code fork} since start. */
  long stalledRequests(String fork) {
    LongAdder a = stalledRequests.get(fork);
    return a == null ? 0 : a.sum();
  }

  /** The API view of a manifest: tags from the catalog, document counts when cheap. */
  Snapshot snapshotView(Manifest m) {
    StrataEngine e = engine();
    return ApiConversions.snapshot(m, e.tagsOf(m.getId()), counts.ifCheap(e, m));
  }

  /** The API view of a manifest with exact document counts. */
  Snapshot snapshotView(Manifest m, Map<String, Long> docCounts) {
    return ApiConversions.snapshot(m, engine().tagsOf(m.getId()), docCounts);
  }

  /** The API view of a fork. */
  dev.strata.api.v1.Fork forkView(Fork f) {
    return ApiConversions.fork(f, baseForkName(f));
  }

  private String baseForkName(Fork f) {
    String base = f.entry().baseSnapshotId();
    if (base.isEmpty()) {
      return "";
    }
    String baseForkId = Resolver.forkIdOf(base);
    Optional<Fork> owner = engine().forkById(baseForkId);
    if (owner.isPresent()) {
      return owner.get().name();
    }
    // The base fork was dropped: its id is "<name>-<16 hex digits>".
    int dash = baseForkId.lastIndexOf('-');
    return dash > 0 ? baseForkId.substring(0, dash) : baseForkId;
  }

  /** The names of every open fork. */
  List<String> forkNames() {
    List<String> out = new ArrayList<>();
    for (Fork f : engine().openForks()) {
      out.add(f.name());
    }
    return out;
  }
}
