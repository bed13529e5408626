package dev.strata.engine.segment;

import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Private working directories of background jobs (compactions), under {@code <dataDir>/tmp}.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>Each job gets its own directory, {@code <kind>-<random UUID>}, made with an exclusive
 *       create: no two jobs can ever share one, and no one can guess it in advance (the seed bug of
 *       issue #5 was concurrent merges deleting each other's temp directories).
 *   <li>Only the job that created a directory deletes it, on success and on failure; leftovers of
 *       a crash are removed by {@link #deleteAll} at open, before any job can start.
 * </ol>
 *
 * <p>Thread-safe: stateless; the file system arbitrates.
 */
final class JobDirectories {
  private static final Logger log = LoggerFactory.getLogger(JobDirectories.class);

  private final Path tmpDir;
  private final Vfs vfs;

  JobDirectories(Path tmpDir, Vfs vfs) {
    this.tmpDir = tmpDir;
    this.vfs = vfs;
  }

  /**
   * Creates a job's private directory (invariant 1).
   *
   * @throws IOException if it cannot be created (a name collision included)
   */
  Path create(String kind) throws IOException {
    vfs.createDirectories(tmpDir);
    Path dir = tmpDir.resolve(kind + "-" + UUID.randomUUID());
    vfs.createDirectory(dir);
    return dir;
  }

  /**
   * Deletes every job directory: call at open only (invariant 2).
   *
   * @return how many were removed
   * @throws IOException if one cannot be deleted
   */
  int deleteAll() throws IOException {
    if (!vfs.exists(tmpDir)) {
      return 0;
    }
    List<Path> leftovers = vfs.list(tmpDir);
    for (Path p : leftovers) {
      vfs.deleteRecursively(p);
    }
    if (!leftovers.isEmpty()) {
      vfs.syncDirectory(tmpDir);
      log.info("deleted {} job directories left by a crash: {}", leftovers.size(), leftovers);
    }
    return leftovers.size();
  }
}
