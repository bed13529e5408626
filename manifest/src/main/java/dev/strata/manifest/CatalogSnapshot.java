package dev.strata.manifest;

import java.util.Collections;
import java.util.TreeMap;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One immutable version of the {@link ForkCatalog}: every fork, unique by id and by name.
 * Thread-safe; lookups are O(1) and do no I/O.
 */
public final class CatalogSnapshot {

  /** The catalog before its first change: version 0, no forks. */
  public static final CatalogSnapshot EMPTY = new CatalogSnapshot(0, List.of(), Map.of());

  private final long version;
  private final List<ForkEntry> forks;
  private final Map<String, ForkEntry> byId;
  private final Map<String, ForkEntry> byName;
  private final Map<String, String> tags;

  /**
   * @throws IllegalArgumentException if two entries share an id or a name
   */
  CatalogSnapshot(long version, Collection<ForkEntry> entries, Map<String, String> tags) {
    this.version = version;
    this.tags = Collections.unmodifiableMap(new TreeMap<>(tags));
    Map<String, ForkEntry> ids = new HashMap<>();
    Map<String, ForkEntry> names = new HashMap<>();
    for (ForkEntry e : entries) {
      if (ids.putIfAbsent(e.forkId(), e) != null) {
        throw new IllegalArgumentException("fork id '" + e.forkId() + "' appears twice");
      }
      if (names.putIfAbsent(e.name(), e) != null) {
        throw new IllegalArgumentException("fork name '" + e.name() + "' appears twice");
      }
    }
    List<ForkEntry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparing(ForkEntry::name));
    this.forks = List.copyOf(sorted);
    this.byId = Map.copyOf(ids);
    this.byName = Map.copyOf(names);
  }

  /** The version: 0 for the empty catalog, then one more per change; the file name's number. */
  public long version() {
    return version;
  }

  /** Every fork, sorted by name. */
  public List<ForkEntry> forks() {
    return forks;
  }

  /** Number of forks. */
  public int size() {
    return forks.size();
  }

  /** The fork with id {@code forkId}. */
  public Optional<ForkEntry> byId(String forkId) {
    return Optional.ofNullable(byId.get(forkId));
  }

  /** The fork named {@code name}. */
  public Optional<ForkEntry> byName(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** The next version with {@code entry} added or replacing the entry with its id. */
  CatalogSnapshot with(ForkEntry entry) {
    List<ForkEntry> next = new ArrayList<>(forks);
    next.removeIf(e -> e.forkId().equals(entry.forkId()));
    next.add(entry);
    return new CatalogSnapshot(version + 1, next, tags);
  }

  /** The next version without the entry with id {@code forkId}. */
  CatalogSnapshot without(String forkId) {
    List<ForkEntry> next = new ArrayList<>(forks);
    next.removeIf(e -> e.forkId().equals(forkId));
    return new CatalogSnapshot(version + 1, next, tags);
  }

  /** Snapshot tags, tag name to snapshot id, sorted by tag. */
  public Map<String, String> tags() {
    return tags;
  }

  /** The next version with {@code tag} pointing at {@code snapshotId}. */
  CatalogSnapshot withTag(String tag, String snapshotId) {
    Map<String, String> next = new TreeMap<>(tags);
    next.put(tag, snapshotId);
    return new CatalogSnapshot(version + 1, forks, next);
  }

  /** The next version without {@code tag}. */
  CatalogSnapshot withoutTag(String tag) {
    Map<String, String> next = new TreeMap<>(tags);
    next.remove(tag);
    return new CatalogSnapshot(version + 1, forks, next);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CatalogSnapshot other && version == other.version && forks.equals(other.forks)
        && tags.equals(other.tags);
  }

  @Override
  public int hashCode() {
    return Objects.hash(version, forks, tags);
  }

  @Override
  public String toString() {
    return "CatalogSnapshot{version=" + version + ", forks=" + forks + ", tags=" + tags + "}";
  }
}
