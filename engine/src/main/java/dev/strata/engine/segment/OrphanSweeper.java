package dev.strata.engine.segment;

import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery's sweep of segments no manifest refers to (LevelDB's {@code DeleteObsoleteFiles} at
 * open): run after the manifests are loaded and before any flush runs (a segment being written or
 * ingested but not yet published is in no manifest and would be deleted). It covers every state a
 * crash can leave:
 *
 * <ul>
 *   <li>crash during a segment write: a partial directory (staging SST and/or Lucene files), no
 *       keys → the directory is deleted;
 *   <li>crash after ingest but before publication: directory + key range → both go;
 *   <li>crash inside ingest after RocksDB's MANIFEST edit but before the staging cleanup: same,
 *       and for a kept segment only the leftover {@code staging/} directory is removed;
 *   <li>crash during an obsolete-segment deletion (key range first, then directory), or a deletion
 *       that failed: a directory without keys, or — if the un-logged range tombstone was lost —
 *       keys whose SST was already dropped or not; found by the directory listing and by the key
 *       listing (keys without a directory).
 * </ul>
 *
 * Segments with a held handle are never touched (reported as skipped); an orphan that was acquired
 * and released is retired from the {@link SegmentHandles} table first.
 *
 * <p>Runs on the opening thread; thread-safe with respect to concurrent handle use.
 */
final class OrphanSweeper {
  private static final Logger log = LoggerFactory.getLogger(OrphanSweeper.class);

  private final SegmentLayout layout;
  private final Vfs vfs;
  private final SegmentDb db;
  private final SegmentHandles handles;

  OrphanSweeper(SegmentLayout layout, Vfs vfs, SegmentDb db, SegmentHandles handles) {
    this.layout = layout;
    this.vfs = vfs;
    this.db = db;
    this.handles = handles;
  }

  /**
   * Segment ids that have a directory under {@code <dataDir>/segments}, from its listing (names
   * that are not 16 lowercase hex digits are ignored). Sorted.
   *
   * @throws IOException if the directory cannot be listed
   */
  SortedSet<Long> segmentIdsOnDisk() throws IOException {
    SortedSet<Long> ids = new TreeSet<>();
    List<Path> children;
    try {
      children = vfs.list(layout.segmentsDir());
    } catch (NoSuchFileException e) {
      return ids;
    }
    for (Path p : children) {
      long id = SegmentFormat.parseHex(p.getFileName().toString());
      if (id >= 0) {
        ids.add(id);
      }
    }
    return ids;
  }

  /**
   * Deletes every segment not in {@code keep} (see the class comment).
   *
   * @throws IOException if a listing or a deletion fails
   */
  OrphanCleanup sweep(Set<Long> keep) throws IOException {
    SortedSet<Long> dirs = segmentIdsOnDisk();
    SortedSet<Long> ranges = db.segmentIdsWithKeys();
    SortedSet<Long> dirsRemoved = new TreeSet<>();
    SortedSet<Long> rangesRemoved = new TreeSet<>();
    SortedSet<Long> stagingRemoved = new TreeSet<>();
    SortedSet<Long> skipped = new TreeSet<>();
    SortedSet<Long> candidates = new TreeSet<>(dirs);
    candidates.addAll(ranges);
    for (long id : candidates) {
      if (keep.contains(id)) {
        if (dirs.contains(id) && vfs.exists(layout.stagingDir(id))) {
          vfs.deleteRecursively(layout.stagingDir(id));
          stagingRemoved.add(id);
        }
        continue;
      }
      SharedSegment state = handles.retireForSweep(id);
      if (state == SegmentHandles.IN_USE) {
        skipped.add(id);
        continue;
      }
      try {
        if (state != null) {
          state.closeReader();
        }
        if (ranges.contains(id)) {
          db.deleteKeyRange(id);
          rangesRemoved.add(id);
        }
        if (dirs.contains(id)) {
          vfs.deleteRecursively(layout.segmentDir(id));
          dirsRemoved.add(id);
        }
      } finally {
        if (state != null) {
          handles.forget(state);
        }
      }
    }
    if (!dirsRemoved.isEmpty()) {
      vfs.syncDirectory(layout.segmentsDir());
    }
    OrphanCleanup result = new OrphanCleanup(dirsRemoved, rangesRemoved, stagingRemoved, skipped);
    if (!result.isEmpty() || !skipped.isEmpty()) {
      log.info(
          "orphan segments removed: directories {}, key ranges {}, staging dirs {}, skipped in use {}",
          hexAll(dirsRemoved), hexAll(rangesRemoved), hexAll(stagingRemoved), hexAll(skipped));
    }
    return result;
  }

  private static List<String> hexAll(Set<Long> ids) {
    List<String> out = new ArrayList<>(ids.size());
    for (long id : ids) {
      out.add(SegmentFormat.hex(id));
    }
    return out;
  }
}
