package dev.strata.objectstore;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.objectstore.proto.WriterGeneration;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writer generations on one prefix, after Neon's generation numbers, without conditional PUTs
 * (s3proxy and several S3 look-alikes ignore {@code If-None-Match}).
 *
 * <ul>
 *   <li><b>Acquire</b> (server start): list {@code generations/}; if the newest record belongs to
 *       another data directory and its heartbeat is younger than {@code storage.lease}, refuse
 *       ({@link WriterFencedException}: a live writer holds the prefix). Otherwise write generation
 *       max + 1 and list again: a higher one means another server raced us, and we refuse too.
 *       A restart of the same data directory (same node id, and RocksDB's LOCK means one process
 *       per data directory) takes over its own earlier generation at once.
 *   <li><b>Heartbeat</b>: the record is rewritten every lease / 3.
 *   <li><b>Check</b> before every manifest and catalog upload (the commits): if a higher
 *       generation exists, this writer was superseded and stops for good.
 * </ul>
 *
 * Every key a writer creates carries its generation ({@link BucketLayout}), so even a write that
 * slips between a check and a takeover never replaces another generation's object; readers take,
 * for a seq, the manifest of the highest generation. Thread-safe.
 */
public final class WriterFence {
  private static final Logger log = LoggerFactory.getLogger(WriterFence.class);
  static final String NODE_FILE = "objectstore-node";

  private final ObjectStore store;
  private final BucketLayout layout;
  private final String location;
  private final long generation;
  private final WriterGeneration record;
  private final LongSupplier clockMs;
  private volatile String fencedBy;

  private WriterFence(ObjectStore store, BucketLayout layout, String location, WriterGeneration record, LongSupplier clockMs) {
    this.store = store;
    this.layout = layout;
    this.location = location;
    this.generation = record.getGeneration();
    this.record = record;
    this.clockMs = clockMs;
  }

  /**
   * Takes the next generation on the prefix for the data directory {@code dataDir}.
   *
   * @throws WriterFencedException if a live writer of another data directory holds the prefix
   * @throws IOException if the bucket cannot be read or written
   */
  public static WriterFence acquire(
      ObjectStore store, BucketLayout layout, String location, Path dataDir, long leaseMs, LongSupplier clockMs)
      throws IOException {
    String node = nodeId(dataDir);
    OptionalLong newest = newestGeneration(store, layout);
    long now = clockMs.getAsLong();
    if (newest.isPresent()) {
      Optional<WriterGeneration> holder = read(store, layout, newest.getAsLong());
      if (holder.isPresent() && !holder.get().getNodeId().equals(node)) {
        WriterGeneration h = holder.get();
        long age = now - h.getHeartbeatTimeMs();
        if (age < leaseMs) {
          throw new WriterFencedException(String.format(
              "%s is held by another live writer: generation %d of %s (pid %d, data directory %s), last heartbeat %d ms ago"
                  + " (lease %d ms). Two servers must not write one prefix: stop that server, or give this one another"
                  + " storage.prefix; if that server is gone, its lease expires %d ms after its last heartbeat.",
              location, h.getGeneration(), h.getHost(), h.getPid(), h.getDataDir(), age, leaseMs, leaseMs));
        }
        log.warn("{}: taking over from generation {} of {} (last heartbeat {} ms ago, lease {} ms)",
            location, h.getGeneration(), h.getHost(), age, leaseMs);
      }
    }
    long gen = newest.orElse(0) + 1;
    WriterGeneration rec = WriterGeneration.newBuilder()
        .setGeneration(gen)
        .setNodeId(node)
        .setHost(hostName())
        .setPid(ProcessHandle.current().pid())
        .setDataDir(dataDir.toAbsolutePath().toString())
        .setStartTimeMs(now)
        .setHeartbeatTimeMs(now)
        .build();
    store.put(layout.generationKey(gen), rec.toByteArray());
    WriterFence fence = new WriterFence(store, layout, location, rec, clockMs);
    fence.check();
    log.info("{}: writing as generation {}", location, gen);
    return fence;
  }

  /** This writer's generation (1, 2, ...). */
  public long generation() {
    return generation;
  }

  /** Why this writer was fenced, or null while it may write. */
  public String fencedBy() {
    return fencedBy;
  }

  /**
   * Rewrites this writer's record with the current time (the lease), after checking it was not
   * superseded.
   *
   * @throws WriterFencedException if a higher generation exists
   * @throws IOException if the bucket cannot be read or written
   */
  public void heartbeat() throws IOException {
    check();
    store.put(layout.generationKey(generation), record.toBuilder().setHeartbeatTimeMs(clockMs.getAsLong()).build().toByteArray());
  }

  /**
   * Fails if a higher generation exists (one LIST request). Once fenced, always fenced.
   *
   * @throws WriterFencedException if this writer was superseded
   * @throws IOException if the bucket cannot be listed
   */
  public void check() throws IOException {
    String why = fencedBy;
    if (why == null) {
      OptionalLong newest = newestGeneration(store, layout);
      if (newest.isPresent() && newest.getAsLong() > generation) {
        Optional<WriterGeneration> h = read(store, layout, newest.getAsLong());
        why = String.format(
            "%s was taken over by generation %d%s; this server (generation %d) stopped uploading. Restart it on"
                + " another storage.prefix, or stop the other server and restart this one.",
            location, newest.getAsLong(),
            h.map(g -> " of " + g.getHost() + " (data directory " + g.getDataDir() + ")").orElse(""), generation);
        fencedBy = why;
        log.error(why);
      }
    }
    if (why != null) {
      throw new WriterFencedException(why);
    }
  }

  static OptionalLong newestGeneration(ObjectStore store, BucketLayout layout) throws IOException {
    OptionalLong max = OptionalLong.empty();
    for (ObjectStore.ObjectInfo o : store.list(layout.generationsPrefix())) {
      OptionalLong g = BucketLayout.generationOf(o.key());
      if (g.isPresent() && (max.isEmpty() || g.getAsLong() > max.getAsLong())) {
        max = g;
      }
    }
    return max;
  }

  private static Optional<WriterGeneration> read(ObjectStore store, BucketLayout layout, long gen) throws IOException {
    Optional<byte[]> bytes = store.get(layout.generationKey(gen));
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(WriterGeneration.parseFrom(bytes.get()));
    } catch (InvalidProtocolBufferException e) {
      throw new IOException("generation record " + layout.generationKey(gen) + " is corrupt: " + e.getMessage(), e);
    }
  }

  /** The data directory's random node id ({@code <data>/objectstore-node}), created on first use. */
  static String nodeId(Path dataDir) throws IOException {
    Path f = dataDir.resolve(NODE_FILE);
    if (Files.exists(f)) {
      return Files.readString(f, StandardCharsets.UTF_8).strip();
    }
    String id = UUID.randomUUID().toString();
    Files.createDirectories(dataDir);
    Path tmp = dataDir.resolve(NODE_FILE + ".tmp");
    Files.writeString(tmp, id + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE, StandardOpenOption.SYNC);
    Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return id;
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return ManagementFactory.getRuntimeMXBean().getName();
    }
  }
}
