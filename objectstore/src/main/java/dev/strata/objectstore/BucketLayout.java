package dev.strata.objectstore;

import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The keys the tier writes under its prefix. Every key that a writer creates carries the writer's
 * generation (8 hex digits, as Neon's layer and index keys do), so two writers never write the
 * same key, and a restarted writer never overwrites what an earlier incarnation left.
 *
 * <pre>{@code
 * <prefix>/generations/<gen>                                  WriterGeneration (who holds the prefix)
 * <prefix>/catalog/<version, 20 digits>-<gen>.catalog         a fork catalog version (file format)
 * <prefix>/segments/<segment hex>-<gen>.bundle                one segment: SST + Lucene files + index
 * <prefix>/forks/<fork id>/manifests/<seq, 20 digits>-<gen>.manifest   UploadedManifest (the commit)
 * <prefix>/forks/<fork id>/dropped-<gen>.marker               empty: the writer dropped the fork
 * }</pre>
 *
 * Names sort as numbers (zero-padded), so a listing is in seq/version order. Immutable and
 * thread-safe.
 */
public record BucketLayout(String prefix) {
  static final String GENERATIONS = "generations/";
  static final String CATALOG = "catalog/";
  static final String SEGMENTS = "segments/";
  static final String FORKS = "forks/";
  static final String MANIFEST_SUFFIX = ".manifest";
  static final String BUNDLE_SUFFIX = ".bundle";
  static final String CATALOG_SUFFIX = ".catalog";
  static final String DROPPED_MARKER_SUFFIX = ".marker";

  public BucketLayout {
    prefix = ObjectStoreConfig.normalizePrefix(prefix);
  }

  /** A key relative to the bucket for {@code rel}, a key relative to the prefix. */
  public String key(String rel) {
    return prefix.isEmpty() ? rel : prefix + "/" + rel;
  }

  /** The part of {@code key} after the prefix. */
  public String relative(String key) {
    return prefix.isEmpty() ? key : key.substring(prefix.length() + 1);
  }

  /** A generation as it appears in keys: 8 lowercase hex digits. */
  public static String gen(long generation) {
    return String.format(Locale.ROOT, "%08x", generation);
  }

  public String generationsPrefix() {
    return key(GENERATIONS);
  }

  public String generationKey(long generation) {
    return key(GENERATIONS + gen(generation));
  }

  public String catalogPrefix() {
    return key(CATALOG);
  }

  public String catalogKey(long version, long generation) {
    return key(CATALOG + String.format(Locale.ROOT, "%020d", version) + "-" + gen(generation) + CATALOG_SUFFIX);
  }

  public String segmentsPrefix() {
    return key(SEGMENTS);
  }

  /** A bundle key relative to the prefix (as {@code UploadedManifest.segment_keys} records it). */
  public static String bundleRelKey(String segmentHex, long generation) {
    return SEGMENTS + segmentHex + "-" + gen(generation) + BUNDLE_SUFFIX;
  }

  public String manifestsPrefix(String forkId) {
    return key(FORKS + forkId + "/manifests/");
  }

  public String manifestKey(String forkId, long seq, long generation) {
    return manifestsPrefix(forkId) + String.format(Locale.ROOT, "%020d", seq) + "-" + gen(generation) + MANIFEST_SUFFIX;
  }

  /**
   * The drop marker of a fork: written (empty) by the writer that dropped the fork, after the first
   * catalog version without it was uploaded. Bucket GC deletes a fork's manifests only when it has
   * one, never for a fork merely absent from this writer's catalog (a restore of one fork onto the
   * prefix must not collect the others).
   */
  public String droppedMarkerKey(String forkId, long generation) {
    return key(FORKS + forkId + "/dropped-" + gen(generation) + DROPPED_MARKER_SUFFIX);
  }

  /** True if {@code key} is a drop marker ({@link #droppedMarkerKey}). */
  static boolean isDroppedMarkerKey(String key) {
    return key.endsWith(DROPPED_MARKER_SUFFIX) && key.substring(key.lastIndexOf('/') + 1).startsWith("dropped-");
  }

  /** The fork id in a key under {@code forks/}, or empty if {@code key} is not under it. */
  Optional<String> forkIdOf(String key) {
    String rel = relative(key);
    if (!rel.startsWith(FORKS)) {
      return Optional.empty();
    }
    String[] parts = rel.split("/");
    return parts.length < 3 ? Optional.empty() : Optional.of(parts[1]);
  }

  /** The seq of a manifest key ({@code .../<seq>-<gen>.manifest}), or empty if it is not one. */
  public static OptionalLong seqOfManifestKey(String key) {
    return numberBeforeGen(key, MANIFEST_SUFFIX, 10);
  }

  /** The version of a catalog key, or empty if it is not one. */
  public static OptionalLong versionOfCatalogKey(String key) {
    return numberBeforeGen(key, CATALOG_SUFFIX, 10);
  }

  /** The generation of any key this layout makes ({@code ...-<gen>.<suffix>} or {@code generations/<gen>}). */
  public static OptionalLong generationOf(String key) {
    String name = key.substring(key.lastIndexOf('/') + 1);
    int dot = name.indexOf('.');
    String stem = dot < 0 ? name : name.substring(0, dot);
    int dash = stem.lastIndexOf('-');
    String g = stem.substring(dash + 1);
    if (g.length() != 8) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(g, 16));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  private static OptionalLong numberBeforeGen(String key, String suffix, int radix) {
    if (!key.endsWith(suffix)) {
      return OptionalLong.empty();
    }
    String name = key.substring(key.lastIndexOf('/') + 1, key.length() - suffix.length());
    int dash = name.lastIndexOf('-');
    if (dash <= 0) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(name.substring(0, dash), radix));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }
}
