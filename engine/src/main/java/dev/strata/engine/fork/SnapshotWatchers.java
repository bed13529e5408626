package dev.strata.engine.fork;

import dev.strata.manifest.proto.Manifest;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is told about each snapshot a fork publishes ({@code WatchSnapshots} streams, tests). Called
 * on the fork's finalizer in publication order, so a watcher must return quickly; a failing watcher
 * does not stop the others or the publication.
 *
 * <p>Thread-safe: a copy-on-write list (registrations are rare, notifications frequent).
 */
final class SnapshotWatchers {
  private static final Logger log = LoggerFactory.getLogger(SnapshotWatchers.class);

  private final String forkName;
  private final CopyOnWriteArrayList<Consumer<Manifest>> watchers = new CopyOnWriteArrayList<>();

  SnapshotWatchers(String forkName) {
    this.forkName = forkName;
  }

  /** Registers {@code watcher}; the returned action unregisters it. */
  Runnable add(Consumer<Manifest> watcher) {
    watchers.add(watcher);
    return () -> watchers.remove(watcher);
  }

  /** Tells every watcher about {@code published}. */
  void announce(Manifest published) {
    for (Consumer<Manifest> w : watchers) {
      try {
        w.accept(published);
      } catch (RuntimeException e) {
        log.warn("fork={} snapshot watcher failed: {}", forkName, e.toString());
      }
    }
  }
}
