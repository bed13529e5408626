package dev.strata.manifest;

import java.nio.file.Path;
import java.util.List;

/**
 * What opening a {@link ManifestStore} or {@link ForkCatalog} found and changed on disk, for the
 * recovery log. Immutable and thread-safe.
 *
 * @param deletedTempFiles temp files of publishes that never reached their final name (deleted)
 * @param movedAsideFiles bad head files renamed to {@code *.corrupt-*} under {@link
 *     CorruptionPolicy#MOVE_ASIDE}, newest first
 * @param ignoredFiles files whose names are neither final nor temp names (left alone, logged),
 *     including earlier {@code *.corrupt-*} files
 */
public record OpenReport(
    List<Path> deletedTempFiles, List<Path> movedAsideFiles, List<Path> ignoredFiles) {

  public OpenReport {
    deletedTempFiles = List.copyOf(deletedTempFiles);
    movedAsideFiles = List.copyOf(movedAsideFiles);
    ignoredFiles = List.copyOf(ignoredFiles);
  }

  /** True if open changed nothing on disk. */
  public boolean isClean() {
    return deletedTempFiles.isEmpty() && movedAsideFiles.isEmpty();
  }
}
