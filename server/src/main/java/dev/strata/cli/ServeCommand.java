package dev.strata.cli;

import dev.strata.server.ServerConfig;
import dev.strata.server.StrataServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Run a Strata server until SIGTERM/Ctrl-C (then: stop accepting, finish calls, flush every fork, close).",
      "",
      "Defaults: data in ./strata-data, listening on 127.0.0.1:7700. Settings come from defaults < --config FILE < STRATA_* environment < these flags; any key can also be set with --set KEY=VALUE (see docs/operations.md for the keys)."
    })
final class ServeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "A .properties file with configuration keys.")
  Path config;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory (key data_dir; default ./strata-data).")
  String dataDir;

  @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Address to listen on (key listen; default 127.0.0.1:7700; port 0 picks one).")
  String listen;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "TLS certificate chain (key tls.cert_file).")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "TLS private key, PKCS#8 (key tls.key_file).")
  String tlsKey;

  @Option(names = "--l0-max-bytes", paramLabel = "SIZE", description = "Rotate the L0 buffer at this size (key l0.max_bytes; default 64MiB).")
  String l0MaxBytes;

  @Option(names = "--flush-interval", paramLabel = "DURATION", description = "Flush L0 data this old (key flush.interval; default 1s; off disables).")
  String flushInterval;

  @Option(names = "--max-pending-flushes", paramLabel = "N", description = "Flush permits per fork (key max_pending_flushes; default 2).")
  String maxPendingFlushes;

  @Option(names = "--write-stall-timeout", paramLabel = "DURATION", description = "Wait for a permit before RESOURCE_EXHAUSTED (key write_stall_timeout; default 10s).")
  String writeStallTimeout;

  @Option(names = "--flush-threads", paramLabel = "N", description = "Segment-writing threads (key flush.threads; default auto).")
  String flushThreads;

  @Option(names = "--flush-max-retries", paramLabel = "N", description = "Retries of a failed flush before read-only (key flush.max_retries; default 5).")
  String flushMaxRetries;

  @Option(names = "--wal-sync-interval", paramLabel = "DURATION", description = "fsync period of ASYNC writes (key wal.sync_interval; default 200ms).")
  String walSyncInterval;

  @Option(names = "--wal-segment-bytes", paramLabel = "SIZE", description = "WAL segment size (key wal.segment_bytes; default 64MiB).")
  String walSegmentBytes;

  @Option(names = "--cache-bytes", paramLabel = "SIZE", description = "RocksDB block cache (key cache.block_bytes; default auto: 1/8 of memory.budget).")
  String cacheBytes;

  @Option(names = "--memory-budget", paramLabel = "SIZE", description = "Memory the server sizes itself to: L0, block cache, Lucene, heap (key memory.budget; default 1GiB).")
  String memoryBudget;

  @Option(names = "--max-message-bytes", paramLabel = "SIZE", description = "Largest request (key limits.max_message_bytes; default 16MiB).")
  String maxMessageBytes;

  @Option(names = "--shutdown-grace", paramLabel = "DURATION", description = "Bound on a graceful shutdown (key shutdown.grace_period; default 30s).")
  String shutdownGrace;

  @Option(names = "--server-threads", paramLabel = "N", description = "RPC threads (key server.threads; default 32).")
  String serverThreads;

  @Option(names = "--log-level", paramLabel = "LEVEL", description = "TRACE, DEBUG, INFO, WARN or ERROR (key log.level; default INFO).")
  String logLevel;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "Any configuration key, e.g. --set auth.token.ci=writer:s3cret. Repeatable.")
  Map<String, String> set = new LinkedHashMap<>();

  /** The overrides map handed to ServerConfig.load: --set first, then the named flags. */
  Map<String, String> overrides() {
    Map<String, String> o = new LinkedHashMap<>(set);
    put(o, "data_dir", dataDir);
    put(o, "listen", listen);
    put(o, "tls.cert_file", tlsCert);
    put(o, "tls.key_file", tlsKey);
    put(o, "l0.max_bytes", l0MaxBytes);
    put(o, "flush.interval", flushInterval);
    put(o, "max_pending_flushes", maxPendingFlushes);
    put(o, "write_stall_timeout", writeStallTimeout);
    put(o, "flush.threads", flushThreads);
    put(o, "flush.max_retries", flushMaxRetries);
    put(o, "wal.sync_interval", walSyncInterval);
    put(o, "wal.segment_bytes", walSegmentBytes);
    put(o, "cache.block_bytes", cacheBytes);
    put(o, "memory.budget", memoryBudget);
    put(o, "limits.max_message_bytes", maxMessageBytes);
    put(o, "shutdown.grace_period", shutdownGrace);
    put(o, "server.threads", serverThreads);
    put(o, "log.level", logLevel);
    return o;
  }

  private static void put(Map<String, String> m, String key, String v) {
    if (v != null) {
      m.put(key, v);
    }
  }

  @Override
  public Integer call() throws Exception {
    ServerConfig cfg;
    try {
      cfg = ServerConfig.load(config, System.getenv(), overrides());
    } catch (IllegalArgumentException e) {
      throw new CliException("invalid configuration: " + e.getMessage(), StrataCli.EXIT_USAGE);
    }
    StrataServer server;
    try {
      server = StrataServer.start(cfg); // also installs the SIGTERM/Ctrl-C hook
    } catch (IllegalArgumentException e) {
      throw new CliException("cannot start: " + e.getMessage(), StrataCli.EXIT_USAGE);
    } catch (IOException e) {
      throw new CliException("cannot start: " + e.getMessage(), StrataCli.EXIT_FAILED);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        "strata: serving on %s:%d (data directory %s); stop with Ctrl-C or SIGTERM%n",
        cfg.listenHost(), server.port(), cfg.dataDir().toAbsolutePath().normalize());
    out.flush();
    server.awaitTermination();
    return 0;
  }
}
