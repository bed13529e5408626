package dev.strata.engine.segment;

import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What {@link SegmentStore#deleteOrphans} removed, for recovery to report. Immutable.
 *
 * @param directoriesRemoved segments whose directory (staging SST and/or Lucene index) was deleted
 * @param keyRangesRemoved segments whose RocksDB key range was deleted
 * @param stagingDirsRemoved kept segments whose leftover {@code staging/} directory was deleted (a
 *     crash between ingest and the staging cleanup)
 * @param skippedInUse orphans left alone because a handle to them is held
 */
public record OrphanCleanup(
    SortedSet<Long> directoriesRemoved,
    SortedSet<Long> keyRangesRemoved,
    SortedSet<Long> stagingDirsRemoved,
    SortedSet<Long> skippedInUse) {

  /** Copies the sets (sorted, unmodifiable). */
  public OrphanCleanup {
    directoriesRemoved =
        Collections.unmodifiableSortedSet(new TreeSet<>(directoriesRemoved));
    keyRangesRemoved =
        Collections.unmodifiableSortedSet(new TreeSet<>(keyRangesRemoved));
    stagingDirsRemoved =
        Collections.unmodifiableSortedSet(new TreeSet<>(stagingDirsRemoved));
    skippedInUse =
        Collections.unmodifiableSortedSet(new TreeSet<>(skippedInUse));
  }

  /** True if nothing was removed. */
  public boolean isEmpty() {
    return directoriesRemoved.isEmpty()
        && keyRangesRemoved.isEmpty()
        && stagingDirsRemoved.isEmpty();
  }
}
