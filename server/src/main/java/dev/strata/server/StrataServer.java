package dev.strata.server;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.SegmentCacheOptions;
import dev.strata.objectstore.BucketSegmentSource;
import dev.strata.objectstore.ObjectStorageTier;
import dev.strata.objectstore.S3ObjectStore;
import dev.strata.vfs.LocalVfs;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Strata gRPC server: the six {@code strata.v1} services over one {@link StrataEngine}, plus the
 * standard health service and server reflection, on grpc-netty-shaded.
 *
 * <h2>Life cycle</h2>
 *
 * {@link #start()} binds the port first, with health NOT_SERVING, then opens the engine (recovery
 * replays the WALs; Strata RPCs answer UNAVAILABLE meanwhile), then turns SERVING. {@link
 * #shutdown(Duration)}: health NOT_SERVING, stop accepting calls, end snapshot watches
 * (UNAVAILABLE), wait for calls in flight and cancel the rest, flush every fork with unpublished
 * writes and wait for the snapshots, close the engine — the whole bounded by the grace period.
 * Unflushed data is safe in the WALs whenever the bound cuts it short. A JVM shutdown hook (SIGTERM, Ctrl-C) runs the same
 * shutdown; a second signal, or the grace period plus ten seconds, halts the JVM at once.
 *
 * <h2>Threads</h2>
 *
 * Every call starts on a Netty event loop ({@code directExecutor()}: no hand-off). Calls that never
 * wait answer there; everything that can take long runs on the bounded pools of {@link
 * CallExecutors}, and nothing waits for the WAL's fsync or a flush: writes and flush waits answer
 * from their futures (docs/architecture.md, "Threads", has the table). {@code
 * strata-server-scheduler} checks snapshot watches. The pools and the scheduler are owned and
 * stopped here.
 *
 * <p>Thread-safe.
 */
public final class StrataServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StrataServer.class);

  /** Opens the engine; a seam for tests (e.g. to hold recovery back or add flush hooks). */
  @FunctionalInterface
  public interface EngineOpener {
    /** Opens (and recovers) the engine on {@code dataDir}. */
    StrataEngine open(Path dataDir, EngineOptions options) throws IOException;
  }

  /** The production opener: the local file system. */
  public static final EngineOpener LOCAL = (dir, options) -> StrataEngine.open(dir, LocalVfs.INSTANCE, options);

  private static final List<String> SERVICE_NAMES =
      List.of(
          CollectionServiceGrpc.SERVICE_NAME,
          DocumentServiceGrpc.SERVICE_NAME,
          FlushServiceGrpc.SERVICE_NAME,
          SnapshotServiceGrpc.SERVICE_NAME,
          ForkServiceGrpc.SERVICE_NAME,
          AdminServiceGrpc.SERVICE_NAME);

  /**
   * gRPC logs a client's oversized message (RESOURCE_EXHAUSTED, a client error) through
   * java.util.logging with a stack trace; keep that out of the log. Held strongly: JUL keeps
   * loggers weakly.
   */
  private static final java.util.logging.Logger GRPC_DEFRAME_LOG =
      java.util.logging.Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");

  static {
    GRPC_DEFRAME_LOG.setLevel(java.util.logging.Level.SEVERE);
  }

  private final ServerConfig config;
  private final EngineOpener opener;
  private final HealthStatusManager health = new HealthStatusManager();
  private final ServingState state = new ServingState(health, SERVICE_NAMES);
  private final CallLogInterceptor calls = new CallLogInterceptor();
  private final CallExecutors exec;
  private final ScheduledExecutorService scheduler;
  private final ServerContext ctx;
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean shutdownStarted = new AtomicBoolean();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private volatile Server server;
  private volatile Thread shutdownHook;

  /** A server that is not started yet. */
  public StrataServer(ServerConfig config) {
    this(config, LOCAL);
  }

  /** A server that opens its engine with {@code opener}. */
  public StrataServer(ServerConfig config, EngineOpener opener) {
    this.config = config;
    this.opener = opener;
    this.exec = new CallExecutors(config.readThreads(), config.writeThreads(), config.serverThreads());
    this.scheduler = Executors.newSingleThreadScheduledExecutor(CallExecutors.daemonThreads("strata-server-scheduler-"));
    this.ctx = new ServerContext(state, config, exec, scheduler);
    ctx.metrics.registerPools(exec);
  }

  /**
   * Starts a server with {@code config}: binds, recovers the data directory, serves, and installs
   * the SIGTERM hook. Returns once the server is SERVING.
   *
   * @throws IOException if the port cannot be bound or the data directory cannot be opened
   * @throws IllegalArgumentException if the configuration is refused (e.g. a non-loopback address
   *     without tokens)
   */
  public static StrataServer start(ServerConfig config) throws IOException {
    StrataServer s = new StrataServer(config);
    s.start();
    s.installShutdownHook();
    return s;
  }

  /**
   * Binds and serves, returning once the engine has recovered and the server is SERVING. The port
   * is bound (and {@link #port()} known) before recovery starts.
   */
  public void start() throws IOException {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("already started");
    }
    InetSocketAddress address = bindAddress(config);
    applyLogLevel(config);
    log.info("starting: {}", config);
    NettyServerBuilder b =
        config.tlsEnabled()
            ? NettyServerBuilder.forAddress(address, tls(config))
            : NettyServerBuilder.forAddress(address);
    // Handlers run on the event loops: each either answers at once or hands its work to a bounded
    // pool (CallExecutors); none waits for another thread.
    b.directExecutor()
        .maxInboundMessageSize(config.limits().maxMessageBytes())
        // Every service parses its requests inside the call (RequestParsing): a request that does
        // not parse gets INVALID_ARGUMENT through the interceptors below, not the transport's
        // UNKNOWN and a stack trace.
        .addService(RequestParsing.guard(new CollectionGrpcService(ctx).bindService()))
        .addService(RequestParsing.guard(DocumentGrpcService.definition(ctx)))
        .addService(RequestParsing.guard(new FlushGrpcService(ctx).bindService()))
        .addService(RequestParsing.guard(new SnapshotGrpcService(ctx).bindService()))
        .addService(RequestParsing.guard(new ForkGrpcService(ctx).bindService()))
        .addService(RequestParsing.guard(new AdminGrpcService(ctx).bindService()))
        .addService(RequestParsing.guard(health.getHealthService().bindService()))
        .addService(RequestParsing.guard(ProtoReflectionServiceV1.newInstance().bindService()))
        .addService(RequestParsing.guard(legacyReflection().bindService()))
        // Interceptors run in reverse order of addition: log first, then authenticate.
        .intercept(new AuthInterceptor(config.tokens()))
        .intercept(calls);
    Server s = b.build();
    try {
      s.start();
    } catch (IOException e) {
      stopThreads();
      terminated.countDown();
      throw new IOException("cannot listen on " + config.listenHost() + ":" + config.listenPort() + ": " + e.getMessage(), e);
    }
    server = s;
    log.info(
        "listening on {}:{}{}{}; recovering {}",
        config.listenHost(),
        port(),
        config.tlsEnabled() ? " (TLS)" : " (plaintext)",
        config.tokens().isEmpty() ? ", no authentication" : ", " + config.tokens().size() + " token(s)",
        config.dataDir().toAbsolutePath());
    long t0 = System.nanoTime();
    StrataEngine engine;
    try {
      engine = opener.open(config.dataDir(), engineOptions());
    } catch (IOException | RuntimeException e) {
      log.error("cannot open the data directory {}: {}", config.dataDir().toAbsolutePath(), e.toString());
      closeSegmentSource();
      state.stopped();
      s.shutdownNow();
      stopThreads();
      terminated.countDown();
      throw e;
    }
    if (config.objectStore() != null) {
      try {
        ctx.tier = ObjectStorageTier.start(engine, config.objectStore());
        ctx.metrics.registerUploads(ctx.tier);
        ctx.metrics.registerSegmentCache(engine.segments());
      } catch (IOException | RuntimeException e) {
        log.error("object-storage tier on {} cannot start: {}", config.objectStore().location(), e.getMessage());
        engine.close();
        closeSegmentSource();
        state.stopped();
        s.shutdownNow();
        stopThreads();
        terminated.countDown();
        throw e;
      }
    }
    engine.addFlushListener(f -> ctx.metrics.observeFlush(f.name(), f.lastFlushDurationMs()));
    state.serving(engine);
    if (config.metricsPort() >= 0) {
      try {
        ctx.metrics.start(new InetSocketAddress(config.metricsHost(), config.metricsPort()));
        log.info("metrics on http://{}:{}/metrics", config.metricsHost(), ctx.metrics.port());
      } catch (IOException e) {
        // Serving data matters more than serving numbers: say so loudly and go on.
        log.error("cannot serve metrics on {}:{}: {} (set metrics.listen, or off)",
            config.metricsHost(), config.metricsPort(), e.toString());
      }
    }
    log.info(
        "serving on {}:{} ({} fork(s), recovered in {} ms)",
        config.listenHost(),
        port(),
        engine.openForks().size(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
  }

  @SuppressWarnings("deprecation")
  private static io.grpc.BindableService legacyReflection() {
    // grpc.reflection.v1alpha, for clients (older grpcurl, grpc_cli) that do not speak v1 yet.
    return io.grpc.protobuf.services.ProtoReflectionService.newInstance();
  }

  /**
   * The address to bind.
   *
   * @throws IllegalArgumentException if it is not loopback and no tokens are configured
   */
  static InetSocketAddress bindAddress(ServerConfig config) throws UnknownHostException {
    InetAddress addr = InetAddress.getByName(config.listenHost());
    if (!addr.isLoopbackAddress() && config.tokens().isEmpty()) {
      throw new IllegalArgumentException(
          "refusing to listen on " + config.listenHost() + ":" + config.listenPort()
              + " without authentication: configure at least one token (auth.token.<label>=<role>:<secret>)"
              + " or listen on a loopback address such as 127.0.0.1");
    }
    return new InetSocketAddress(addr, config.listenPort());
  }

  private static ServerCredentials tls(ServerConfig config) throws IOException {
    for (Path p : List.of(config.tlsCertFile(), config.tlsKeyFile())) {
      if (!Files.isReadable(p)) {
        throw new IOException("TLS file " + p.toAbsolutePath() + " is missing or unreadable");
      }
    }
    return TlsServerCredentials.create(config.tlsCertFile().toFile(), config.tlsKeyFile().toFile());
  }

  private static void applyLogLevel(ServerConfig config) {
    if (!config.logLevelExplicit()) {
      return; // keep logback.xml's choice (STRATA_LOG_LEVEL / -Dstrata.log.level)
    }
    try {
      Object root = LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      if (root instanceof ch.qos.logback.classic.Logger l) {
        l.setLevel(ch.qos.logback.classic.Level.toLevel(config.logLevel()));
      }
    } catch (LinkageError e) {
      // Another SLF4J binding: its own configuration decides.
    }
  }

  /** The port the server listens on (the chosen one when configured with port 0). */
  public int port() {
    Server s = server;
    if (s == null) {
      throw new IllegalStateException("not started");
    }
    return s.getPort();
  }

  /** The port of the {@code /metrics} endpoint, or -1 if it is not serving. */
  public int metricsPort() {
    return ctx.metrics.port();
  }

  /** The server's configuration. */
  public ServerConfig config() {
    return config;
  }

  /** The engine, once recovered (tests and the CLI's diagnostics); null before. */
  public StrataEngine engine() {
    return state.engineOrNull();
  }

  /** Calls in flight now (open-ended streams excluded). */
  int inFlightCalls() {
    return calls.inFlight();
  }

  /** The bounded pools calls run on (tests saturate them). */
  CallExecutors callExecutors() {
    return exec;
  }

  /** Open WatchSnapshots streams. */
  int openWatches() {
    return ctx.watches.openCount();
  }

  /** Open WatchChanges streams. */
  int openChangeFeeds() {
    return ctx.feeds.openCount();
  }

  /** Waits until the server has shut down. */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  /** Waits until the server has shut down, at most {@code timeout}; true if it has. */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Graceful shutdown bounded by the configured {@code shutdown.grace_period}. */
  @Override
  public void close() {
    shutdown(Duration.ofMillis(config.shutdownGraceMs()));
  }

  /**
   * Graceful shutdown within {@code grace}: health NOT_SERVING, refuse new calls, end snapshot
   * watches, wait for calls in flight (cancel the rest), flush every fork with unpublished writes
   * (all at once) and wait for their snapshots, close the engine. Every write acknowledged before
   * is in a published snapshot or in a WAL. Idempotent; a concurrent caller waits for the first
   * one to finish.
   */
  public void shutdown(Duration grace) {
    if (!shutdownStarted.compareAndSet(false, true)) {
      try {
        terminated.await(grace.toMillis() + 10_000, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    long deadline = System.nanoTime() + grace.toNanos();
    log.info("shutting down (grace {} ms)", grace.toMillis());
    try {
      state.stopping();
      Server s = server;
      if (s != null) {
        s.shutdown();
      }
      ctx.watches.closeAll(Math.min(2000, remainingMs(deadline)));
      ctx.feeds.closeAll(Math.min(2000, remainingMs(deadline)));
      StrataEngine open = state.engineOrNull();
      if (open != null) {
        startFlushes(open); // so AwaitFlush and WAIT_FOR_FLUSHED calls in flight can finish
      }
      int left = calls.awaitIdle(remainingMs(deadline));
      if (left > 0 && s != null) {
        log.warn("shutdown: {} call(s) still in flight after the grace period; cutting them", left);
        s.shutdownNow(); // cancel them before the engine closes under them
      }
      StrataEngine engine = state.engineOrNull();
      if (engine != null) {
        // Not engine.flushAndClose(timeout): it flushes forks one after another, each with the
        // whole timeout, and waits the whole timeout on a fork that never had data (its ticket
        // of LSN 0 waits for a first snapshot that never comes). Same flush, one deadline:
        finalFlush(engine, deadline);
        awaitUploads(engine, deadline);
        closeTier();
        engine.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.warn("shutdown interrupted; the WALs keep what was not flushed");
    } catch (RuntimeException e) {
      log.warn("shutdown: {}; the WALs keep what was not flushed", e.toString());
    } finally {
      state.stopped();
      Server s = server;
      if (s != null) {
        try {
          // Let the last answers (e.g. the watches' UNAVAILABLE) reach the wire; only open-ended
          // streams such as health Watch are left to cut.
          s.awaitTermination(Math.min(1000, remainingMs(deadline)), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        s.shutdownNow();
        try {
          s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      closeTier();
      StrataEngine engine = state.engineOrNull();
      if (engine != null) {
        engine.close(); // idempotent; closes it if the flush above failed
      }
      closeSegmentSource(); // after the engine: its downloads have stopped
      ctx.metrics.close();
      stopThreads();
      removeShutdownHook();
      terminated.countDown();
      log.info("stopped");
    }
  }

  /** Rotates every writable fork at once, then waits for all their snapshots until the deadline. */
  private static void finalFlush(StrataEngine engine, long deadline) {
    List<CompletableFuture<?>> waits = new ArrayList<>();
    for (Fork f : engine.openForks()) {
      if (f.readOnlyReason() != null || f.isDropping() || !hasUnpublishedWrites(f)) {
        continue;
      }
      try {
        FlushTicket t = f.flush(Math.max(1, remainingMs(deadline)));
        waits.add(f.awaitTicket(t));
      } catch (RuntimeException e) {
        log.warn("shutdown: fork={} final flush not started: {}", f.name(), e.toString());
      }
    }
    for (CompletableFuture<?> w : waits) {
      try {
        w.get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        log.warn("shutdown: a final flush did not publish in time ({}); its writes stay in the WAL", e.toString());
      }
    }
  }

  /**
   * With the object-storage tier on: waits, until the deadline, for every fork's head to be
   * uploaded (what is not uploads at the next start).
   */
  private void awaitUploads(StrataEngine engine, long deadline) {
    ObjectStorageTier t = ctx.tier;
    if (t == null) {
      return;
    }
    for (Fork f : engine.openForks()) {
      f.head().ifPresent(h -> {
        try {
          t.awaitUploaded(f.id(), h.getSeq()).get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (Exception e) {
          log.warn("shutdown: fork={} snapshot seq {} not uploaded before the deadline ({}); the next start uploads it",
              f.name(), h.getSeq(), e.toString());
        }
      });
    }
  }

  /**
   * The engine options of the configuration plus, with the tier on, the segment cache over the
   * bucket ({@code storage.cache_bytes}): built before the engine opens, since a data directory
   * may name segments that are only in the bucket (evicted before a restart, or a lazy restore).
   */
  private EngineOptions engineOptions() {
    EngineOptions options = config.engineOptions();
    if (config.objectStore() == null) {
      return options;
    }
    S3ObjectStore bucket = S3ObjectStore.open(config.objectStore());
    ctx.segmentSource = bucket;
    return options.toBuilder()
        .segmentCache(SegmentCacheOptions.of(
            config.segmentCacheBytes(),
            new BucketSegmentSource(bucket, config.objectStore().prefix(), LocalVfs.INSTANCE)))
        .build();
  }

  private void closeSegmentSource() {
    S3ObjectStore b = ctx.segmentSource;
    ctx.segmentSource = null;
    if (b != null) {
      b.close();
    }
  }

  /** Stops the uploads (bounded); idempotent. */
  private void closeTier() {
    ObjectStorageTier t = ctx.tier;
    if (t != null) {
      t.close();
    }
  }

  /** Rotates every fork with unpublished writes if a flush permit is free; never waits. */
  private static void startFlushes(StrataEngine engine) {
    for (Fork f : engine.openForks()) {
      if (f.readOnlyReason() == null && !f.isDropping() && hasUnpublishedWrites(f)) {
        try {
          f.flush(0);
        } catch (RuntimeException e) {
          log.debug("shutdown: fork={} early flush skipped: {}", f.name(), e.toString());
        }
      }
    }
  }

  /** True if the fork's WAL holds writes its head snapshot does not cover yet. */
  static boolean hasUnpublishedWrites(Fork f) {
    long covered = f.head().map(m -> m.getCoveredLsn()).orElse(0L);
    return f.stats().walLastLsn() > covered;
  }

  private static long remainingMs(long deadlineNanos) {
    return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
  }

  private void stopThreads() {
    exec.shutdownNow();
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Installs the JVM shutdown hook (SIGTERM, SIGINT): a graceful {@link #close()}; a second signal
   * or the grace period plus 10 s halts the JVM (the WALs make that safe).
   */
  public void installShutdownHook() {
    Thread hook =
        new Thread(
            () -> {
              SignalEscalation.haltOnNextSignal();
              long boundMs = config.shutdownGraceMs() + 10_000;
              Thread watchdog =
                  new Thread(
                      () -> {
                        try {
                          Thread.sleep(boundMs);
                          log.error("shutdown took longer than {} ms: halting", boundMs);
                          Runtime.getRuntime().halt(1);
                        } catch (InterruptedException e) {
                          // finished in time
                        }
                      },
                      "strata-shutdown-watchdog");
              watchdog.setDaemon(true);
              watchdog.start();
              log.info("signal received: graceful shutdown (send it again to stop at once)");
              close();
              watchdog.interrupt();
            },
            "strata-shutdown");
    shutdownHook = hook;
    Runtime.getRuntime().addShutdownHook(hook);
  }

  private void removeShutdownHook() {
    Thread hook = shutdownHook;
    if (hook != null && Thread.currentThread() != hook) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is shutting down already
      }
    }
  }
}
