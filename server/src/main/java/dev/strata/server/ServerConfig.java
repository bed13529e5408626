package dev.strata.server;

import dev.strata.engine.EngineOptions;
import dev.strata.engine.MemoryBudget;
import dev.strata.objectstore.ObjectStoreConfig;
import dev.strata.wal.WalOptions;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Every setting of a Strata server, with its documented default (docs/operations.md lists them).
 * Immutable and thread-safe.
 *
 * <p>Sources, lowest precedence first: built-in defaults, the config file (Java {@code
 * .properties} with the dotted keys below), {@code STRATA_*} environment variables (the key in
 * upper case with '.' replaced by '_': {@code l0.max_bytes} → {@code STRATA_L0_MAX_BYTES}), and
 * explicit overrides (the flags of {@code strata serve}). A later source replaces a key of an
 * earlier one; tokens are merged by label.
 *
 * <p>Units: sizes are bytes, or a number with {@code K}/{@code KiB}, {@code M}/{@code MiB}, {@code
 * G}/{@code GiB} (all binary); durations are milliseconds, or a number with {@code ms}, {@code s},
 * {@code m} or {@code h}. Tokens: {@code auth.token.<label>=<role>:<secret>} (env {@code
 * STRATA_AUTH_TOKEN_<LABEL>}); the label names the client in logs, the secret is never logged.
 */
public final class ServerConfig {

  /** Prefix of token keys: {@code auth.token.<label>}. */
  public static final String TOKEN_PREFIX = "auth.token.";

  /** Prefix of environment variables. */
  public static final String ENV_PREFIX = "STRATA_";

  private static final Pattern LABEL = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

  /**
   * A ratio setting: a plain non-negative number.
   *
   * @throws IllegalArgumentException naming the value if it is not one
   */
  private static double ratio(String value) {
    try {
      double d = Double.parseDouble(value.trim());
      if (d < 0 || Double.isNaN(d) || Double.isInfinite(d)) {
        throw new NumberFormatException();
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("retention.max_space_amplification must be a number ≥ 0, got '" + value + "'");
    }
  }

  /** One configuration key: its name, default and meaning (the table of docs/operations.md). */
  public record Key(String name, String defaultValue, String meaning) {
    /** The environment variable that sets this key. */
    public String envName() {
      return ENV_PREFIX + name.toUpperCase(Locale.ROOT).replace('.', '_');
    }
  }

  /** Every fixed key, in documentation order. */
  public static final List<Key> KEYS =
      List.of(
          new Key("data_dir", "./strata-data", "the data directory (created if missing)"),
          new Key("listen", "127.0.0.1:7700", "host:port to listen on; port 0 picks a free port"),
          new Key("tls.cert_file", "", "PEM certificate chain; TLS is on when set (with tls.key_file)"),
          new Key("tls.key_file", "", "PEM private key (PKCS#8) of tls.cert_file"),
          new Key("limits.max_message_bytes", "16MiB", "largest request message accepted"),
          new Key("limits.max_mutations_per_write", "10000", "mutations in one Write"),
          new Key("limits.max_document_bytes", "1MiB", "encoded size of one document"),
          new Key("limits.max_id_bytes", "512", "UTF-8 bytes of a document id (at most 512)"),
          new Key("limits.max_fields_per_document", "1000", "fields of one document"),
          new Key("search.max_query_bytes", "32KiB", "UTF-8 bytes of a Search query string; longer ones are refused before parsing"),
          new Key("memory.budget", "1GiB", "memory the server sizes itself to: L0 of all forks 1/4 (writers stall there), block cache 1/8, Lucene indexing 1/8, the rest heap headroom and the JVM; bin/strata gives the JVM -Xmx of 3/4 of it"),
          new Key("l0.max_bytes", "64MiB", "rotate the active L0 buffer at this size"),
          new Key("flush.interval", "1s", "rotate when this long passed with data in L0; 0 or off disables"),
          new Key("max_pending_flushes", "2", "flush permits per fork (frozen L0 buffers in flight)"),
          new Key("write_stall_timeout", "10s", "how long a write waits for a flush permit before RESOURCE_EXHAUSTED"),
          new Key("flush.stream_timeout", "120s", "time limit of one attempt to write a segment"),
          new Key("flush.max_retries", "5", "retries of a failed flush before the fork turns read-only"),
          new Key("flush.retry_backoff", "100ms", "first retry delay of a failed flush (doubles, at most 5 s)"),
          new Key("flush.threads", "auto", "threads writing segments, shared by all forks (auto = cores, at least 2)"),
          new Key("compaction.enabled", "true", "merge segments in the background (the Compact RPC works either way)"),
          new Key("compaction.max_segments", "16", "cap on segments per fork head; past it the cheapest adjacent window is merged"),
          new Key("compaction.merge_factor", "4", "adjacent segments of one size tier that merge into one"),
          new Key("compaction.floor_segment_bytes", "2MiB", "segments smaller than this count as this size when tiers are formed"),
          new Key("compaction.max_merged_segment_bytes", "5GiB", "background compaction never writes a bigger segment"),
          new Key("compaction.max_concurrent", "auto", "compactions at once over all forks (auto = cores / 2, at least 1)"),
          new Key("compaction.write_rate", "64MiB", "bytes per second all compactions may write together; 0 = unlimited"),
          new Key("compaction.stop_writes_segments", "48", "head segments at which writers wait for compaction (last-resort stall)"),
          new Key("retention.snapshots", "100", "snapshots each fork keeps at least"),
          new Key("retention.min_age", "1h", "and every snapshot younger than this"),
          new Key("retention.interval", "30s", "how often expired snapshots and unreferenced segments are deleted"),
          new Key("retention.max_bytes", "0", "space bound: retained segment bytes past which the oldest untagged, non-base snapshots expire early (0 = off)"),
          new Key("retention.max_space_amplification", "4", "space bound as a ratio to the live data (the heads' segments); 0 = off"),
          new Key("cache.block_bytes", "auto", "RocksDB block cache; auto = 1/8 of memory.budget (128MiB of the default)"),
          new Key("wal.sync_interval", "200ms", "fsync period for ASYNC writes"),
          new Key("wal.segment_bytes", "64MiB", "size at which a WAL segment file is rolled"),
          new Key("shutdown.grace_period", "30s", "bound on a graceful shutdown: in-flight calls, then the final flush"),
          new Key("server.threads", "32", "threads for calls that wait on I/O or a permit (flush, forks, tags, compaction, verify), and as many for stalled writes"),
          new Key("server.read_threads", "auto", "threads for long reads: search, scan, diff, large BatchGets (auto = cores, at least 2)"),
          new Key("server.write_threads", "auto", "threads appending writes to the WALs (auto = 2 x cores, at least 4)"),
          new Key("log.level", "INFO", "root log level (TRACE, DEBUG, INFO, WARN, ERROR)"),
          new Key("metrics.listen", "auto", "host:port of the Prometheus /metrics endpoint; auto = listen host, listen port + 1 (0 if that is 0); off disables"),
          new Key("storage.bucket", "", "S3 bucket of the object-storage tier; empty = tier off (the default)"),
          new Key("storage.prefix", "", "key prefix inside the bucket (one writer per prefix)"),
          new Key("storage.endpoint", "", "S3 endpoint URL, e.g. http://127.0.0.1:9000; empty = AWS's endpoint for storage.region"),
          new Key("storage.region", "us-east-1", "signing region"),
          new Key("storage.access_key", "", "access key id; empty = the AWS SDK's default credential chain (AWS_ACCESS_KEY_ID, profile, instance role)"),
          new Key("storage.secret_key", "", "secret of storage.access_key (never logged)"),
          new Key("storage.path_style", "false", "address the bucket as endpoint/bucket/key (most self-hosted S3 look-alikes need true)"),
          new Key("storage.lease", "30s", "a writer generation without a heartbeat for this long may be taken over by another server"),
          new Key("storage.upload_threads", "2", "threads uploading segments and manifests, shared by all forks"),
          new Key("storage.retry_backoff", "200ms", "first delay after a failed upload (doubles, at most 30 s)"),
          new Key("storage.delete_grace", "1h", "bucket GC deletes an object this long after it first found no retained manifest naming it"),
          new Key("storage.cache_bytes", "0", "local disk for uploaded segments no read holds; beyond it the least recently used are evicted and fetched back on demand; 0 = keep every segment local"));

  private static final Map<String, Key> BY_NAME = new LinkedHashMap<>();

  static {
    for (Key k : KEYS) {
      BY_NAME.put(k.name(), k);
    }
  }

  /** A bearer token: a label for logs, the role it grants, and the secret itself. */
  public record Token(String label, Role role, String secret) {
    @Override
    public String toString() {
      return "Token[" + label + ", " + role.configName() + "]";
    }
  }

  /**
   * Request limits (INVALID_ARGUMENT above them, RESOURCE_EXHAUSTED above the message size).
   *
   * @param maxMessageBytes largest request message, bytes ({@code limits.max_message_bytes})
   * @param maxMutationsPerWrite mutations of one Write
   * @param maxDocumentBytes encoded size of one document, bytes
   * @param maxIdBytes UTF-8 bytes of a document id
   * @param maxFieldsPerDocument fields of one document
   * @param maxQueryBytes UTF-8 bytes of a Search query string ({@code search.max_query_bytes}),
   *     checked before the query is parsed
   */
  public record Limits(
      int maxMessageBytes,
      int maxMutationsPerWrite,
      int maxDocumentBytes,
      int maxIdBytes,
      int maxFieldsPerDocument,
      int maxQueryBytes) {}

  private final Map<String, String> raw;
  private final Path dataDir;
  private final String listenHost;
  private final int listenPort;
  private final List<Token> tokens;
  private final Path tlsCertFile;
  private final Path tlsKeyFile;
  private final Limits limits;
  private final long l0MaxBytes;
  private final long flushIntervalMs;
  private final int maxPendingFlushes;
  private final long writeStallTimeoutMs;
  private final long flushStreamTimeoutMs;
  private final int flushMaxRetries;
  private final long flushRetryBackoffMs;
  private final int flushThreads;
  private final MemoryBudget memory;
  private final dev.strata.engine.compaction.CompactionOptions compaction;
  private final dev.strata.engine.retention.RetentionOptions retention;
  private final long walSyncIntervalMs;
  private final long walSegmentBytes;
  private final long shutdownGraceMs;
  private final int serverThreads;
  private final int readThreads;
  private final int writeThreads;
  private final String logLevel;
  private final String metricsHost;
  private final int metricsPort;
  private final boolean logLevelExplicit;
  private final ObjectStoreConfig objectStore;
  private final long segmentCacheBytes;

  private ServerConfig(Map<String, String> raw, Map<String, Token> tokens, java.util.Set<String> explicitKeys) {
    this.raw = Collections.unmodifiableMap(new TreeMap<>(raw));
    List<String> problems = new ArrayList<>();
    ConfigParser p = new ConfigParser(raw, problems);
    this.dataDir = Path.of(p.string("data_dir"));
    String[] hostPort = p.hostPort("listen");
    this.listenHost = hostPort[0];
    this.listenPort = Integer.parseInt(hostPort[1]);
    String cert = p.string("tls.cert_file");
    String key = p.string("tls.key_file");
    if (cert.isEmpty() != key.isEmpty()) {
      problems.add("tls.cert_file and tls.key_file must be set together");
    }
    this.tlsCertFile = cert.isEmpty() ? null : Path.of(cert);
    this.tlsKeyFile = key.isEmpty() ? null : Path.of(key);
    this.limits =
        new Limits(
            (int) p.bytes("limits.max_message_bytes", 1024, Integer.MAX_VALUE),
            (int) p.integer("limits.max_mutations_per_write", 1, Integer.MAX_VALUE),
            (int) p.bytes("limits.max_document_bytes", 1, Integer.MAX_VALUE),
            (int) p.integer("limits.max_id_bytes", 1, dev.strata.engine.model.Document.MAX_ID_BYTES),
            (int) p.integer("limits.max_fields_per_document", 1, Integer.MAX_VALUE),
            (int) p.bytes("search.max_query_bytes", 1, Integer.MAX_VALUE));
    this.l0MaxBytes = p.bytes("l0.max_bytes", 1024, Long.MAX_VALUE);
    this.flushIntervalMs = p.duration("flush.interval", true);
    this.maxPendingFlushes = (int) p.integer("max_pending_flushes", 1, 1024);
    this.writeStallTimeoutMs = p.duration("write_stall_timeout", false);
    this.flushStreamTimeoutMs = Math.max(1, p.duration("flush.stream_timeout", false));
    this.flushMaxRetries = (int) p.integer("flush.max_retries", 0, 1000);
    this.flushRetryBackoffMs = p.duration("flush.retry_backoff", false);
    String threads = p.string("flush.threads");
    this.flushThreads =
        threads.equalsIgnoreCase("auto")
            ? Math.max(2, Runtime.getRuntime().availableProcessors())
            : (int) p.integer("flush.threads", 1, 1024);
    MemoryBudget budget = MemoryBudget.defaults();
    try {
      budget = MemoryBudget.of(p.bytes("memory.budget", MemoryBudget.MIN_TOTAL_BYTES, Long.MAX_VALUE));
      String cache = p.string("cache.block_bytes");
      if (!cache.equalsIgnoreCase("auto")) {
        budget = budget.withBlockCacheBytes(p.bytes("cache.block_bytes", 1, Long.MAX_VALUE));
      }
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    this.memory = budget;
    dev.strata.engine.compaction.CompactionOptions copts = null;
    String enabled = p.string("compaction.enabled").toLowerCase(Locale.ROOT);
    if (!enabled.equals("true") && !enabled.equals("false")) {
      problems.add("compaction.enabled must be true or false, got '" + enabled + "'");
    }
    String concurrent = p.string("compaction.max_concurrent");
    int maxConcurrent =
        concurrent.equalsIgnoreCase("auto")
            ? Math.max(1, Runtime.getRuntime().availableProcessors() / 2)
            : (int) p.integer("compaction.max_concurrent", 1, 1024);
    try {
      copts =
          new dev.strata.engine.compaction.CompactionOptions(
              enabled.equals("true"),
              (int) p.integer("compaction.max_segments", 2, 100_000),
              (int) p.integer("compaction.merge_factor", 2, 1000),
              p.bytes("compaction.floor_segment_bytes", 1, Long.MAX_VALUE),
              p.bytes("compaction.max_merged_segment_bytes", 1, Long.MAX_VALUE),
              maxConcurrent,
              p.bytes("compaction.write_rate", 0, Long.MAX_VALUE),
              (int) p.integer("compaction.stop_writes_segments", 3, 1_000_000),
              dev.strata.engine.compaction.CompactionOptions.defaults().checkIntervalMs());
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    this.compaction = copts;
    dev.strata.engine.retention.RetentionOptions ropts = null;
    try {
      ropts =
          new dev.strata.engine.retention.RetentionOptions(
              (int) p.integer("retention.snapshots", 1, Integer.MAX_VALUE),
              p.duration("retention.min_age", false),
              Math.max(1, p.duration("retention.interval", false)),
              p.bytes("retention.max_bytes", 0, Long.MAX_VALUE),
              ratio(p.string("retention.max_space_amplification")));
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    this.retention = ropts;
    this.walSyncIntervalMs = Math.max(1, p.duration("wal.sync_interval", false));
    this.walSegmentBytes = p.bytes("wal.segment_bytes", 4096, Long.MAX_VALUE);
    this.shutdownGraceMs = p.duration("shutdown.grace_period", false);
    this.serverThreads = (int) p.integer("server.threads", 2, 4096);
    int cores = Runtime.getRuntime().availableProcessors();
    this.readThreads =
        p.string("server.read_threads").equalsIgnoreCase("auto")
            ? Math.max(2, cores)
            : (int) p.integer("server.read_threads", 1, 4096);
    this.writeThreads =
        p.string("server.write_threads").equalsIgnoreCase("auto")
            ? Math.max(4, 2 * cores)
            : (int) p.integer("server.write_threads", 1, 4096);
    String level = p.string("log.level").toUpperCase(Locale.ROOT);
    if (!List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF").contains(level)) {
      problems.add("log.level must be TRACE, DEBUG, INFO, WARN, ERROR or OFF, got '" + level + "'");
    }
    this.logLevel = level;
    this.logLevelExplicit = explicitKeys.contains("log.level");
    String metrics = p.string("metrics.listen");
    if (metrics.equalsIgnoreCase("off")) {
      this.metricsHost = null;
      this.metricsPort = -1;
    } else if (metrics.equalsIgnoreCase("auto")) {
      this.metricsHost = listenHost;
      this.metricsPort = listenPort == 0 || listenPort == 65535 ? 0 : listenPort + 1;
    } else {
      String[] mhp = p.hostPort("metrics.listen");
      this.metricsHost = mhp[0];
      this.metricsPort = Integer.parseInt(mhp[1]);
    }
    this.objectStore = objectStore(p, problems);
    this.segmentCacheBytes = p.bytes("storage.cache_bytes", 0, Long.MAX_VALUE);
    if (segmentCacheBytes > 0 && objectStore == null) {
      problems.add("storage.cache_bytes needs the object-storage tier (storage.bucket): evicted segments are fetched from it");
    }
    this.tokens = List.copyOf(tokens.values());
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("invalid configuration: " + String.join("; ", problems));
    }
  }

  /** The object-storage tier's settings ({@code storage.*}), or null when it is off (no bucket). */
  private static ObjectStoreConfig objectStore(ConfigParser p, List<String> problems) {
    String bucket = p.string("storage.bucket").strip();
    if (bucket.isEmpty()) {
      return null;
    }
    String path = p.string("storage.path_style").strip().toLowerCase(Locale.ROOT);
    if (!path.equals("true") && !path.equals("false")) {
      problems.add("storage.path_style must be true or false, got '" + path + "'");
    }
    String endpoint = p.string("storage.endpoint").strip();
    try {
      return new ObjectStoreConfig(
          endpoint.isEmpty() ? null : URI.create(endpoint), p.string("storage.region").strip(), bucket,
          p.string("storage.prefix"), p.string("storage.access_key").strip(), p.string("storage.secret_key").strip(),
          path.equals("true"), p.duration("storage.lease", false), (int) p.integer("storage.upload_threads", 1, 256),
          Math.max(1, p.duration("storage.retry_backoff", false)), p.duration("storage.delete_grace", false));
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
      return null;
    }
  }

  /** The object-storage tier's settings, or null when it is off ({@code storage.bucket} empty). */
  public ObjectStoreConfig objectStore() {
    return objectStore;
  }

  /**
   * {@code storage.cache_bytes}: the local segment cache's budget in bytes (0: every segment stays
   * local). Only with the tier on.
   */
  public long segmentCacheBytes() {
    return segmentCacheBytes;
  }

  /** The built-in defaults. */
  public static ServerConfig defaults() {
    return load(null, Map.of(), Map.of());
  }

  /**
   * Loads the configuration from its sources.
   *
   * @param fileOrNull a {@code .properties} file, or null for none
   * @param env the environment ({@code System.getenv()}); only {@code STRATA_*} variables that name
   *     a key are read, others are ignored
   * @param overrides explicit values by key (null values are ignored)
   * @throws IllegalArgumentException naming every unknown key or bad value
   * @throws java.io.UncheckedIOException if the file cannot be read
   */
  public static ServerConfig load(Path fileOrNull, Map<String, String> env, Map<String, String> overrides) {
    Map<String, String> values = new LinkedHashMap<>();
    for (Key k : KEYS) {
      values.put(k.name(), k.defaultValue());
    }
    Map<String, Token> tokens = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    java.util.Set<String> fileKeys = new java.util.HashSet<>();
    if (fileOrNull != null) {
      Properties props = new Properties();
      try (Reader r = Files.newBufferedReader(fileOrNull, StandardCharsets.UTF_8)) {
        props.load(r);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("cannot read config file " + fileOrNull + ": " + e.getMessage(), e);
      }
      Map<String, String> fromFile = new TreeMap<>();
      props.forEach((k, v) -> fromFile.put(String.valueOf(k).strip(), String.valueOf(v).strip()));
      apply(fromFile, "config file " + fileOrNull, values, tokens, problems);
      fileKeys.addAll(fromFile.keySet());
    }
    Map<String, String> fromEnv = new TreeMap<>();
    for (Map.Entry<String, String> e : env.entrySet()) {
      String name = e.getKey();
      if (name.startsWith(ENV_PREFIX + "AUTH_TOKEN_")) {
        String label = name.substring((ENV_PREFIX + "AUTH_TOKEN_").length()).toLowerCase(Locale.ROOT);
        fromEnv.put(TOKEN_PREFIX + label, e.getValue());
        continue;
      }
      for (Key k : KEYS) {
        if (k.envName().equals(name)) {
          fromEnv.put(k.name(), e.getValue());
        }
      }
    }
    apply(fromEnv, "environment", values, tokens, problems);
    Map<String, String> fromOverrides = new TreeMap<>();
    overrides.forEach(
        (k, v) -> {
          if (v != null) {
            fromOverrides.put(k, v);
          }
        });
    apply(fromOverrides, "overrides", values, tokens, problems);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
    java.util.Set<String> explicit = new java.util.HashSet<>(fileKeys);
    for (Map<String, String> src : List.of(fromEnv, fromOverrides)) {
      explicit.addAll(src.keySet());
    }
    return new ServerConfig(values, tokens, explicit);
  }

  private static void apply(
      Map<String, String> source,
      String sourceName,
      Map<String, String> values,
      Map<String, Token> tokens,
      List<String> problems) {
    TreeSet<String> unknown = new TreeSet<>();
    for (Map.Entry<String, String> e : source.entrySet()) {
      String key = e.getKey();
      String value = e.getValue().strip();
      if (key.startsWith(TOKEN_PREFIX)) {
        String label = key.substring(TOKEN_PREFIX.length());
        if (!LABEL.matcher(label).matches()) {
          problems.add(sourceName + ": token label '" + label + "' must match " + LABEL.pattern());
          continue;
        }
        int colon = value.indexOf(':');
        if (colon < 0 || colon == value.length() - 1) {
          problems.add(sourceName + ": " + key + " must be <role>:<secret> (role admin, writer or reader)");
          continue;
        }
        try {
          Role role = Role.parse(value.substring(0, colon));
          tokens.put(label, new Token(label, role, value.substring(colon + 1)));
        } catch (IllegalArgumentException ex) {
          problems.add(sourceName + ": " + key + ": " + ex.getMessage());
        }
      } else if (BY_NAME.containsKey(key)) {
        values.put(key, value);
      } else {
        unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) {
      problems.add(
          sourceName + ": unknown configuration key" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown)
              + " (known keys: " + String.join(", ", BY_NAME.keySet()) + ", " + TOKEN_PREFIX + "<label>)");
    }
  }


  // ---------------------------------------------------------------- accessors

  /** The data directory. */
  public Path dataDir() {
    return dataDir;
  }

  /** The host (name or address) to listen on. */
  public String listenHost() {
    return listenHost;
  }

  /** The port to listen on; 0 picks a free one. */
  public int listenPort() {
    return listenPort;
  }

  /** Configured bearer tokens, in label order of their sources; empty means no authentication. */
  public List<Token> tokens() {
    return tokens;
  }

  /** True when TLS is configured. */
  public boolean tlsEnabled() {
    return tlsCertFile != null;
  }

  /** PEM certificate chain, or null. */
  public Path tlsCertFile() {
    return tlsCertFile;
  }

  /** PEM private key, or null. */
  public Path tlsKeyFile() {
    return tlsKeyFile;
  }

  /** Request limits. */
  public Limits limits() {
    return limits;
  }

  /** Bound on a graceful shutdown, ms. */
  public long shutdownGraceMs() {
    return shutdownGraceMs;
  }

  /** Threads of the pool for calls that wait on I/O or a permit, and of the stalled-write pool. */
  public int serverThreads() {
    return serverThreads;
  }

  /** Threads of the pool for long reads (search, scan, diff, large BatchGets). */
  public int readThreads() {
    return readThreads;
  }

  /** Threads appending writes to the WALs. */
  public int writeThreads() {
    return writeThreads;
  }

  /** The root log level. */
  public String logLevel() {
    return logLevel;
  }

  /** True if {@code log.level} was set by a source, not left at its default. */
  public boolean logLevelExplicit() {
    return logLevelExplicit;
  }

  /** Host of the metrics endpoint, or null if {@code metrics.listen} is off. */
  public String metricsHost() {
    return metricsHost;
  }

  /** Port of the metrics endpoint (0 = any free port), or -1 if off. */
  public int metricsPort() {
    return metricsPort;
  }

  /** The memory budget ({@code memory.budget}, with an explicit {@code cache.block_bytes} applied). */
  public MemoryBudget memoryBudget() {
    return memory;
  }

  /** Write-stall timeout, ms (also the permit wait of Flush). */
  public long writeStallTimeoutMs() {
    return writeStallTimeoutMs;
  }

  /** The engine options these settings describe. */
  public EngineOptions engineOptions() {
    return EngineOptions.builder()
        .l0MaxBytes(l0MaxBytes)
        .flushIntervalMs(flushIntervalMs)
        .maxPendingFlushes(maxPendingFlushes)
        .writeStallTimeoutMs(writeStallTimeoutMs)
        .streamTimeoutMs(flushStreamTimeoutMs)
        .flushMaxRetries(flushMaxRetries)
        .retryBackoffMs(flushRetryBackoffMs)
        .streamThreads(flushThreads)
        .memory(memory)
        .wal(WalOptions.builder().syncIntervalMs(walSyncIntervalMs).segmentBytes(walSegmentBytes).build())
        .compaction(compaction)
        .retention(retention)
        .build();
  }

  /** Every key with its effective value (token secrets left out), for the startup log. */
  public Map<String, String> effectiveValues() {
    Map<String, String> out = new LinkedHashMap<>(raw);
    for (Token t : tokens) {
      out.put(TOKEN_PREFIX + t.label(), t.role().configName() + ":<secret>");
    }
    if (!out.getOrDefault("storage.secret_key", "").isEmpty()) {
      out.put("storage.secret_key", "<secret>");
    }
    return out;
  }

  @Override
  public String toString() {
    return "ServerConfig" + effectiveValues();
  }
}
