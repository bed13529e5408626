package dev.strata.objectstore;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SegmentStoreOptions;
import dev.strata.engine.segment.WrittenSegment;
import dev.strata.manifest.CatalogSnapshot;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ForkState;
import dev.strata.manifest.ManifestCodec;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.objectstore.proto.UploadedManifest;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code strata restore}: builds a data directory from a bucket, holding one fork as of one uploaded
 * snapshot, which a server then opens like any other. Writes, in this order:
 *
 * <ol>
 *   <li>every segment the snapshot names: its bundle downloaded, each file checked (CRC32C), the
 *       Lucene files put in place, the SST ingested into RocksDB, and the segment checked end to end
 *       against the manifest's checksum ({@link SegmentStore#check});
 *   <li>the manifest file, byte for byte as the source published it, under its own seq;
 *   <li>an empty WAL segment that starts at the snapshot's covered LSN + 1, so the fork's next
 *       write continues the source's LSN sequence (tickets stay comparable);
 *   <li>the fork catalog with that fork (and the tags that name the snapshot); the engine creates
 *       {@code main} if the restored fork is another one.
 * </ol>
 *
 * With {@code lazy} only steps 2 to 4 run: the segments stay in the bucket and a server with the
 * tier fetches them on demand ({@link BucketSegmentSource}).
 *
 * <p>A restore that fails part way leaves a directory the next attempt refuses (it is not empty):
 * delete it and run again. Not thread-safe (one restore per target directory).
 */
public final class SnapshotRestore {
  private static final Logger log = LoggerFactory.getLogger(SnapshotRestore.class);

  private SnapshotRestore() {}

  /**
   * What a restore did.
   *
   * @param forkName the fork restored
   * @param forkId its id (unchanged from the source)
   * @param snapshotId the snapshot restored
   * @param seq its seq
   * @param coveredLsn its covered LSN
   * @param segments segments restored
   * @param bytesDownloaded bundle bytes read from the bucket
   * @param elapsedMs wall time, ms
   */
  public record Report(
      String forkName, String forkId, String snapshotId, long seq, long coveredLsn, int segments, long bytesDownloaded,
      long elapsedMs) {}

  /**
   * Restores fork {@code forkName} as of {@code snapshotId} (or its newest uploaded snapshot) from
   * {@code store} under {@code prefix} into {@code dataDir}, which must be missing or empty.
   *
   * @throws IllegalArgumentException if the data directory is not empty, or the fork or snapshot is
   *     not in the bucket (the message lists what is there)
   * @throws IOException if the bucket cannot be read, an object is corrupt, or a file cannot be
   *     written
   */
  public static Report restore(ObjectStore store, String prefix, Path dataDir, String forkName, String snapshotId, Vfs vfs)
      throws IOException {
    return restore(store, prefix, dataDir, forkName, snapshotId, vfs, false);
  }

  /**
   * As {@link #restore(ObjectStore, String, Path, String, String, Vfs)}; with {@code lazy}, no
   * segment is downloaded: only the manifest, the WAL start and the catalog are written, and a
   * server started on the directory with the tier ({@code storage.*}) opens the segments as remote
   * and fetches each on demand into its local cache ({@code storage.cache_bytes}).
   */
  public static Report restore(
      ObjectStore store, String prefix, Path dataDir, String forkName, String snapshotId, Vfs vfs, boolean lazy)
      throws IOException {
    long start = System.nanoTime();
    BucketLayout layout = new BucketLayout(prefix);
    requireEmpty(dataDir);
    CatalogSnapshot catalog = newestCatalog(store, layout);
    ForkEntry fork = catalog.byName(forkName).orElseThrow(() -> new IllegalArgumentException(
        "fork '" + forkName + "' is not in the uploaded catalog; forks there: "
            + catalog.forks().stream().map(ForkEntry::name).sorted().toList()));
    TreeMap<Long, String> manifests = manifestKeys(store, layout, fork.forkId());
    if (manifests.isEmpty()) {
      throw new IllegalArgumentException("fork '" + forkName + "' has no uploaded snapshot yet");
    }
    long seq = snapshotId == null ? manifests.lastKey() : seqOf(snapshotId, manifests);
    String key = manifests.get(seq);
    UploadedManifest up;
    try {
      up = UploadedManifest.parseFrom(store.get(key).orElseThrow(() -> new IOException(key + " vanished")));
    } catch (InvalidProtocolBufferException e) {
      throw new IOException(key + " is not an uploaded manifest: " + e.getMessage(), e);
    }
    byte[] manifestFile = up.getManifestFile().toByteArray();
    Manifest m = ManifestCodec.decode(manifestFile, Path.of(key));
    if (snapshotId != null && !m.getId().equals(snapshotId)) {
      throw new IllegalArgumentException("snapshot '" + snapshotId + "' is not in the bucket (seq " + seq + " is " + m.getId() + ")");
    }
    if (!m.getForkId().equals(fork.forkId())) {
      throw new IOException(key + " belongs to fork " + m.getForkId() + ", not " + fork.forkId());
    }

    vfs.createDirectories(dataDir);
    long bytes = 0;
    if (!lazy) {
      Path work = dataDir.resolve("tmp").resolve("restore");
      vfs.createDirectories(work);
      try (SegmentStore segments = SegmentStore.open(dataDir, SegmentStoreOptions.defaults().withVfs(vfs))) {
        for (SegmentRef ref : m.getSegmentsList()) {
          bytes += restoreSegment(store, layout, up.getSegmentKeysMap(), ref, segments, vfs, work);
        }
      }
      vfs.deleteRecursively(dataDir.resolve("tmp"));
    } else {
      for (SegmentRef ref : m.getSegmentsList()) {
        if (!up.getSegmentKeysMap().containsKey(ref.getSegmentId())) {
          throw new IOException("the uploaded manifest does not say where segment " + ref.getSegmentId() + " is");
        }
      }
    }

    Path manifestDir = ManifestStore.directoryFor(dataDir, fork.forkId());
    writeDurably(vfs, manifestDir, String.format(Locale.ROOT, "%020d%s", m.getSeq(), ManifestStore.FILE_SUFFIX), manifestFile);
    Path walDir = manifestDir.resolveSibling("wal");
    writeDurably(vfs, walDir, String.format(Locale.ROOT, "%020d.wal", m.getCoveredLsn() + 1), new byte[0]);
    try (ForkCatalog cat = ForkCatalog.open(vfs, ForkCatalog.directoryFor(dataDir))) {
      cat.put(new ForkEntry(fork.forkId(), fork.name(), fork.baseSnapshotId(), ForkState.ACTIVE, fork.createTimeMs()));
      for (Map.Entry<String, String> t : catalog.tags().entrySet()) {
        if (t.getValue().equals(m.getId())) {
          cat.putTag(t.getKey(), t.getValue());
        }
      }
    } catch (dev.strata.manifest.CatalogConflictException e) {
      throw new IOException("writing the restored catalog failed: " + e.getMessage(), e);
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    Report r = new Report(fork.name(), fork.forkId(), m.getId(), m.getSeq(), m.getCoveredLsn(), m.getSegmentsCount(), bytes, ms);
    log.info("restored {}", r);
    return r;
  }

  private static long restoreSegment(
      ObjectStore store, BucketLayout layout, Map<String, String> keys, SegmentRef ref, SegmentStore segments, Vfs vfs, Path work)
      throws IOException {
    String rel = keys.get(ref.getSegmentId());
    if (rel == null) {
      throw new IOException("the uploaded manifest does not say where segment " + ref.getSegmentId() + " is");
    }
    long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
    Path bundle = work.resolve(ref.getSegmentId() + BucketLayout.BUNDLE_SUFFIX);
    if (!store.getToFile(layout.key(rel), bundle)) {
      throw new IOException("segment bundle " + layout.key(rel) + " named by the manifest is missing from the bucket");
    }
    long size = Files.size(bundle);
    boolean hasSst = SegmentBundle.unpack(bundle, id, segments, vfs);
    Files.delete(bundle);
    if (hasSst) {
      segments.ingest(new WrittenSegment(id, ref.getDocCount(), ref.getTombstoneCount(), ref.getSizeBytes(),
          ref.getMinLsn(), ref.getMaxLsn(), ref.getChecksum(), segments.stagedSstPath(id)));
    }
    Optional<String> problem = segments.check(id, ref.getChecksum());
    if (problem.isPresent()) {
      throw new IOException("restored segment " + ref.getSegmentId() + " fails its check: " + problem.get());
    }
    return size;
  }

  /** The newest catalog version in the bucket (for a version, the highest generation). */
  static CatalogSnapshot newestCatalog(ObjectStore store, BucketLayout layout) throws IOException {
    String best = null;
    long bestVersion = -1;
    long bestGen = -1;
    for (ObjectStore.ObjectInfo o : store.list(layout.catalogPrefix())) {
      OptionalLong v = BucketLayout.versionOfCatalogKey(o.key());
      OptionalLong g = BucketLayout.generationOf(o.key());
      if (v.isPresent() && g.isPresent()
          && (v.getAsLong() > bestVersion || (v.getAsLong() == bestVersion && g.getAsLong() > bestGen))) {
        best = o.key();
        bestVersion = v.getAsLong();
        bestGen = g.getAsLong();
      }
    }
    if (best == null) {
      throw new IllegalArgumentException("no fork catalog under " + layout.catalogPrefix() + ": nothing was uploaded there");
    }
    String key = best;
    return ForkCatalog.decode(store.get(key).orElseThrow(() -> new IOException(key + " vanished")), Path.of(key));
  }

  /** seq -> manifest key of a fork (for a seq, the highest generation's). */
  static TreeMap<Long, String> manifestKeys(ObjectStore store, BucketLayout layout, String forkId) throws IOException {
    TreeMap<Long, String> out = new TreeMap<>();
    TreeMap<Long, Long> gens = new TreeMap<>();
    for (ObjectStore.ObjectInfo o : store.list(layout.manifestsPrefix(forkId))) {
      OptionalLong s = BucketLayout.seqOfManifestKey(o.key());
      OptionalLong g = BucketLayout.generationOf(o.key());
      if (s.isPresent() && g.isPresent() && g.getAsLong() > gens.getOrDefault(s.getAsLong(), -1L)) {
        out.put(s.getAsLong(), o.key());
        gens.put(s.getAsLong(), g.getAsLong());
      }
    }
    return out;
  }

  private static long seqOf(String snapshotId, TreeMap<Long, String> manifests) {
    int dash = snapshotId.lastIndexOf('-');
    try {
      long seq = Long.parseLong(snapshotId.substring(dash + 1));
      if (manifests.containsKey(seq)) {
        return seq;
      }
    } catch (NumberFormatException e) {
      // not a snapshot id of this engine's form: reported below
    }
    throw new IllegalArgumentException("snapshot '" + snapshotId + "' is not in the bucket; uploaded seqs of this fork: "
        + manifests.firstKey() + ".." + manifests.lastKey() + " (" + manifests.size() + " snapshots)");
  }

  private static void requireEmpty(Path dataDir) throws IOException {
    if (Files.exists(dataDir)) {
      try (Stream<Path> s = Files.list(dataDir)) {
        if (s.findAny().isPresent()) {
          throw new IllegalArgumentException("data directory " + dataDir + " is not empty: restore only into an empty or new one");
        }
      }
    }
  }

  private static void writeDurably(Vfs vfs, Path dir, String name, byte[] bytes) throws IOException {
    vfs.createDirectories(dir);
    try (WritableFile f = vfs.create(dir.resolve(name))) {
      f.write(ByteBuffer.wrap(bytes));
      f.sync();
    }
    vfs.syncDirectory(dir);
    vfs.syncDirectory(dir.getParent());
  }
}
