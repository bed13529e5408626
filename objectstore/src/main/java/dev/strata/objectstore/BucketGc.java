package dev.strata.objectstore;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.RetainedSnapshot;
import dev.strata.manifest.CatalogSnapshot;
import dev.strata.objectstore.proto.UploadedManifest;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Garbage collection across the bucket, after Quickwit's and Neon's deferred deletes: an object is
 * deleted only once it has been unreferenced for {@code storage.delete_grace} continuously, so a
 * reader on another node (a restore in progress) is not cut off.
 *
 * <ul>
 *   <li><b>Manifests</b> of a fork open here whose snapshot is no longer retained locally (expired
 *       by retention) are unreferenced; the newest uploaded manifest of a fork (its resume point)
 *       and every manifest above it are never touched. Manifests of a fork with a drop marker
 *       ({@link BucketLayout#droppedMarkerKey}, written by the writer that dropped it) are
 *       unreferenced too, except a snapshot that a fork of the catalog was created from (its base)
 *       or that a tag names; the marker itself goes once none of the fork's manifests is left.
 *       Manifests of other forks this server does not have open (never known here, e.g. after a
 *       restore of one fork onto the prefix) are left alone: another lineage may need them.
 *   <li><b>Bundles</b> that no remaining manifest object names are unreferenced, except those this
 *       process uploaded for snapshots still waiting for their manifest. This is what removes the
 *       bundles a crash left between a segment upload and its manifest.
 *   <li><b>Catalog</b> versions older than the newest two are unreferenced.
 * </ul>
 *
 * The grace clock is kept in memory: a restart starts it again for every candidate (later, never
 * earlier, deletion). Passes run one at a time on the tier's upload pool and check the fence first:
 * a fenced writer deletes nothing. Not thread-safe: confined to the pass that runs it.
 */
final class BucketGc {
  private static final Logger log = LoggerFactory.getLogger(BucketGc.class);

  /** What a pass did. */
  record Pass(int manifestsDeleted, int bundlesDeleted, int catalogsDeleted, int candidatesWaiting) {}

  private final ObjectStorageTier tier;
  private final StrataEngine engine;
  private final LongSupplier clockMs;
  /** Key -> when a pass first found it unreferenced (ms); removed when referenced again or deleted. */
  private final Map<String, Long> unreferencedSince = new HashMap<>();
  /** Parsed manifest objects (immutable once written), by key. */
  private final Map<String, UploadedManifest> parsed = new HashMap<>();

  BucketGc(ObjectStorageTier tier, StrataEngine engine, LongSupplier clockMs) {
    this.tier = tier;
    this.engine = engine;
    this.clockMs = clockMs;
  }

  Pass run() throws IOException {
    tier.fence().check();
    long now = clockMs.getAsLong();
    long grace = tier.config().deleteGraceMs();
    BucketLayout layout = tier.layout();
    ObjectStore store = tier.store();
    Set<String> candidates = new HashSet<>();

    // Manifests.
    Map<String, Set<Long>> retained = new HashMap<>();
    Map<String, Long> watermark = new HashMap<>();
    Set<Long> localSegments = new HashSet<>();
    for (Fork f : engine.openForks()) {
      OptionalLong w = tier.watermark(f);
      if (w.isEmpty()) {
        continue; // not resumed yet: its manifests are not judged this pass
      }
      Set<Long> seqs = new HashSet<>();
      for (RetainedSnapshot r : f.retainedSnapshots()) {
        seqs.add(r.seq());
      }
      retained.put(f.id(), seqs);
      watermark.put(f.id(), w.getAsLong());
      localSegments.addAll(f.referencedSegments());
    }
    List<ObjectStore.ObjectInfo> forkObjects = store.list(layout.key(BucketLayout.FORKS));
    CatalogSnapshot catalog = engine.catalogSnapshot();
    Map<String, String> droppedMarkers = droppedForks(forkObjects, catalog);
    Set<String> protectedSnapshots = new HashSet<>(catalog.tags().values());
    catalog.forks().forEach(e -> protectedSnapshots.add(e.baseSnapshotId()));
    Set<String> remaining = new HashSet<>();
    Set<String> forksWithManifests = new HashSet<>();
    int manifestsDeleted = 0;
    for (ObjectStore.ObjectInfo o : forkObjects) {
      if (!o.key().endsWith(BucketLayout.MANIFEST_SUFFIX)) {
        continue;
      }
      String forkId = layout.relative(o.key()).split("/")[1];
      OptionalLong seq = BucketLayout.seqOfManifestKey(o.key());
      Set<Long> keep = retained.get(forkId);
      boolean unreferenced;
      if (droppedMarkers.containsKey(forkId)) {
        unreferenced = seq.isPresent() && !protectedSnapshots.contains(Fork.snapshotId(forkId, seq.getAsLong()));
      } else {
        unreferenced = keep != null && seq.isPresent() && !keep.contains(seq.getAsLong())
            && seq.getAsLong() < watermark.get(forkId);
      }
      if (unreferenced && due(o.key(), now, grace, candidates)) {
        store.delete(o.key());
        unreferencedSince.remove(o.key());
        parsed.remove(o.key());
        manifestsDeleted++;
      } else {
        remaining.add(o.key());
        forksWithManifests.add(forkId);
        if (!unreferenced) {
          unreferencedSince.remove(o.key());
        }
      }
    }
    // A drop marker goes with the last of its fork's manifests (no grace of its own: it names
    // nothing a reader could need).
    for (Map.Entry<String, String> m : droppedMarkers.entrySet()) {
      if (!forksWithManifests.contains(m.getKey())) {
        store.delete(m.getValue());
      }
    }

    // Bundles: named by a remaining manifest, or uploaded here for a snapshot still in flight.
    Set<String> named = new HashSet<>();
    for (String key : remaining) {
      UploadedManifest um = parsed.get(key);
      if (um == null) {
        byte[] bytes = store.get(key).orElse(null);
        if (bytes == null) {
          continue; // deleted meanwhile by nobody but us: impossible with one writer; skip
        }
        try {
          um = UploadedManifest.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
          throw new IOException(key + " is not an uploaded manifest; bucket GC stops: " + e.getMessage(), e);
        }
        parsed.put(key, um);
      }
      um.getSegmentKeysMap().values().forEach(rel -> named.add(layout.key(rel)));
    }
    named.addAll(tier.bundleKeysOf(localSegments));
    int bundlesDeleted = 0;
    for (ObjectStore.ObjectInfo o : store.list(layout.segmentsPrefix())) {
      if (named.contains(o.key())) {
        unreferencedSince.remove(o.key());
      } else if (due(o.key(), now, grace, candidates)) {
        store.delete(o.key());
        unreferencedSince.remove(o.key());
        bundlesDeleted++;
      }
    }

    // Catalog versions: the newest two stay.
    TreeMap<Long, String> catalogs = new TreeMap<>();
    for (ObjectStore.ObjectInfo o : store.list(layout.catalogPrefix())) {
      BucketLayout.versionOfCatalogKey(o.key()).ifPresent(v -> catalogs.merge(v, o.key(), (a, b) -> a.compareTo(b) > 0 ? a : b));
    }
    int catalogsDeleted = 0;
    while (catalogs.size() > 2) {
      String key = catalogs.pollFirstEntry().getValue();
      if (due(key, now, grace, candidates)) {
        store.delete(key);
        unreferencedSince.remove(key);
        catalogsDeleted++;
      }
    }
    unreferencedSince.keySet().retainAll(candidates); // forget what vanished or came back
    Pass p = new Pass(manifestsDeleted, bundlesDeleted, catalogsDeleted, unreferencedSince.size());
    if (manifestsDeleted + bundlesDeleted + catalogsDeleted > 0) {
      log.info("bucket GC: deleted {} manifests, {} bundles, {} catalog versions; {} more unreferenced, waiting for"
          + " their grace", manifestsDeleted, bundlesDeleted, catalogsDeleted, p.candidatesWaiting());
    }
    return p;
  }

  /**
   * Fork id -> drop marker key, for every fork with a drop marker that the catalog does not list
   * (fork ids are never reused, so a listed one would be a bug elsewhere: its marker is ignored).
   */
  private Map<String, String> droppedForks(List<ObjectStore.ObjectInfo> forkObjects, CatalogSnapshot catalog) {
    Map<String, String> dropped = new HashMap<>();
    for (ObjectStore.ObjectInfo o : forkObjects) {
      if (BucketLayout.isDroppedMarkerKey(o.key())) {
        tier.layout().forkIdOf(o.key()).ifPresent(id -> {
          if (catalog.byId(id).isPresent()) {
            log.warn("bucket GC: fork {} is in the catalog but has a drop marker ({}); its manifests stay", id, o.key());
          } else {
            dropped.put(id, o.key());
          }
        });
      }
    }
    return dropped;
  }

  /** Records {@code key} as unreferenced; true once it has been for {@code grace} ms. */
  private boolean due(String key, long now, long grace, Set<String> candidates) {
    candidates.add(key);
    long since = unreferencedSince.computeIfAbsent(key, k -> now);
    return now - since >= grace;
  }
}
