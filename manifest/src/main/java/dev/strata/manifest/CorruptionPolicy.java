package dev.strata.manifest;

/**
 * What {@link ManifestStore#open} and {@link ForkCatalog#open} do when the newest file (the head)
 * fails its checks.
 *
 * <p>A published file was fsynced before it was renamed to its final name, so a bad head is never
 * the expected result of a crash: it means the storage lost or changed bytes. The default
 * therefore stops and names the file; falling back silently would resurrect an older state whose
 * successors' effects (WAL truncation, segment reclamation) may already have happened.
 */
public enum CorruptionPolicy {
  /** Open fails with a {@link ManifestCorruptionException} naming the file. The default. */
  FAIL,
  /**
   * Explicit operator repair: rename the bad head to {@code <name>.corrupt-<epoch ms>} (kept for
   * inspection, never read again), fsync the directory, log an error, report it in {@link
   * OpenReport#movedAsideFiles()}, and fall back to the next lower file, repeating while that one is
   * bad too. Files of an {@link ManifestCorruptionException.Kind#UNSUPPORTED_VERSION unsupported
   * version} are never moved: open fails for them under either policy.
   */
  MOVE_ASIDE
}
