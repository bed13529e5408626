package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.manifest.CatalogConflictException;
import dev.strata.manifest.ForkCatalog;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Snapshot tags (SPEC §4): names pinned on snapshots, kept in the fork catalog. A tagged snapshot
 * is never expired by retention; a tag registered while a retention pass runs goes through the
 * {@link RetentionGate}, so it never names a snapshot that is being deleted.
 *
 * <p>Thread-safe: the catalog serializes its own updates; reads use its in-memory snapshot.
 */
final class Tags {
  /** Tag names: {@code [A-Za-z0-9][A-Za-z0-9._-]{0,127}}. */
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private final ForkCatalog catalog;
  private final RetentionGate gate;

  Tags(ForkCatalog catalog, RetentionGate gate) {
    this.catalog = catalog;
    this.gate = gate;
  }

  /**
   * The snapshot id a reference names: a tag, or a snapshot id as it is.
   *
   * @throws StrataException INVALID_ARGUMENT if empty
   */
  static String resolve(ForkCatalog catalog, String idOrTag) {
    if (idOrTag == null || idOrTag.isEmpty()) {
      throw StrataException.invalid("a snapshot id or tag is required");
    }
    String target = catalog.current().tags().get(idOrTag);
    return target != null ? target : idOrTag;
  }

  /** See {@link #resolve(ForkCatalog, String)}. */
  String resolve(String idOrTag) {
    return resolve(catalog, idOrTag);
  }

  /**
   * Pins {@code tag} on a snapshot (moving it if it exists).
   *
   * @param exists whether a snapshot id names a retained snapshot of an open fork
   *
   * @throws StrataException INVALID_ARGUMENT (bad tag name), NOT_FOUND (no such snapshot, or it
   *     is expiring), IO_ERROR (the catalog could not be saved)
   */
  void tag(String snapshotIdOrTag, String tag, Predicate<String> exists) {
    if (tag == null || !TAG.matcher(tag).matches()) {
      throw StrataException.invalid("tag must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got '" + tag + "'");
    }
    String id = resolve(snapshotIdOrTag);
    gate.protect(id);
    try {
      if (!exists.test(id)) {
        throw StrataException.notFound("snapshot '" + snapshotIdOrTag + "' does not exist");
      }
      catalog.putTag(tag, id);
    } catch (IOException | CatalogConflictException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot save tag '" + tag + "': " + e.getMessage(), e);
    } finally {
      gate.unprotect(id);
    }
  }

  /**
   * Removes a tag.
   *
   * @throws StrataException NOT_FOUND if there is no such tag; IO_ERROR if the catalog could not
   *     be saved
   */
  void delete(String tag) {
    try {
      catalog.removeTag(tag);
    } catch (CatalogConflictException e) {
      throw StrataException.notFound("tag '" + tag + "' does not exist");
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot delete tag '" + tag + "': " + e.getMessage(), e);
    }
  }

  /** Removes every tag on a snapshot of fork {@code forkId} (a drop). */
  void deleteAllOfFork(String forkId) throws IOException, CatalogConflictException {
    for (Map.Entry<String, String> t : catalog.current().tags().entrySet()) {
      if (forkId.equals(Fork.forkIdOf(t.getValue()))) {
        catalog.removeTag(t.getKey());
      }
    }
  }

  /** Every tag, tag name to snapshot id. */
  Map<String, String> all() {
    return catalog.current().tags();
  }

  /** The tags pinned on {@code snapshotId}, sorted. */
  List<String> of(String snapshotId) {
    List<String> out = new ArrayList<>();
    catalog.current().tags().forEach((t, id) -> {
      if (id.equals(snapshotId)) {
        out.add(t);
      }
    });
    return out;
  }
}
