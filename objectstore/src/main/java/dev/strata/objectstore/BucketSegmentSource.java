package dev.strata.objectstore;

import dev.strata.engine.segment.RemoteSegmentSource;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.vfs.Vfs;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's {@link RemoteSegmentSource} over a bucket: a segment is fetched as its {@link
 * SegmentBundle} ({@code <prefix>/segments/<hex>-<gen>.bundle}; when several generations uploaded
 * it, the newest, since all hold the same checked content), downloaded next to the target, checked
 * file by file (CRC32C) and unpacked. Knows nothing of the engine's forks, so the server builds it
 * before the engine opens (a data directory whose manifests name segments evicted before a
 * restart, or never fetched, opens with them remote).
 *
 * <p>Thread-safe: the bundle keys found are cached in a concurrent map; each fetch works in its
 * own target directory.
 */
public final class BucketSegmentSource implements RemoteSegmentSource {
  private final ObjectStore store;
  private final BucketLayout layout;
  private final Vfs vfs;
  private final Map<Long, String> keys = new ConcurrentHashMap<>();

  /**
   * @param store the bucket (owned by the caller, who closes it after the engine)
   * @param prefix the tier's {@code storage.prefix}
   * @param vfs the file-system seam the unpacked files are written through
   */
  public BucketSegmentSource(ObjectStore store, String prefix, Vfs vfs) {
    this.store = store;
    this.layout = new BucketLayout(prefix);
    this.vfs = vfs;
  }

  /**
   * Downloads and unpacks segment {@code segmentId}'s bundle (one LIST the first time, then one
   * GET).
   *
   * @throws FileNotFoundException if the bucket holds no bundle of the segment
   * @throws IOException if the download fails or the bundle is corrupt
   */
  @Override
  public Fetched fetch(long segmentId, Path luceneTarget, Path sstTarget) throws IOException {
    String hex = SegmentStore.hex(segmentId);
    String key = keys.get(segmentId);
    if (key == null) {
      key = find(hex);
    }
    Path bundle = luceneTarget.resolveSibling(hex + BucketLayout.BUNDLE_SUFFIX);
    try {
      if (!store.getToFile(key, bundle)) {
        keys.remove(segmentId);
        throw new FileNotFoundException("segment bundle " + key + " is no longer in the bucket");
      }
      keys.put(segmentId, key);
      long downloaded = Files.size(bundle);
      SegmentBundle.Unpacked u = SegmentBundle.unpackTo(bundle, segmentId, luceneTarget, sstTarget, vfs);
      return new Fetched(u.hasSst(), u.bytes(), downloaded);
    } finally {
      Files.deleteIfExists(bundle);
    }
  }

  private String find(String hex) throws IOException {
    String best = null;
    long bestGen = -1;
    for (ObjectStore.ObjectInfo o : store.list(layout.key(BucketLayout.SEGMENTS + hex + "-"))) {
      OptionalLong g = BucketLayout.generationOf(o.key());
      if (o.key().endsWith(BucketLayout.BUNDLE_SUFFIX) && g.isPresent() && g.getAsLong() > bestGen) {
        best = o.key();
        bestGen = g.getAsLong();
      }
    }
    if (best == null) {
      throw new FileNotFoundException("no bundle of segment " + hex + " under " + layout.segmentsPrefix());
    }
    return best;
  }
}
