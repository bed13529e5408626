package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.FieldDef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongConsumer;

/**
 * The collections of one fork: name → schema and the LSN of the WAL record that defined it.
 *
 * <p>{@link #createOrGet} is atomic and idempotent under concurrency: the first caller for a new
 * name logs the definition to the WAL; every concurrent caller waits for that one creation and gets
 * the same collection, or {@code FAILED_PRECONDITION} naming how its schema differs. (Seed: a search
 * server whose non-atomic index create made concurrent first writes fail.)
 *
 * <p>Thread-safe: two concurrent maps, no lock.
 */
public final class CollectionRegistry {
  /** A collection as defined in the fork. */
  public record Collection(String name, CollectionSchema schema, long createdLsn) {}

  /**
   * What a create-or-get call did.
   *
   * @param created true for exactly one caller per collection: the one whose definition record is
   *     in the WAL
   */
  public record Defined(Collection collection, boolean created) {}

  /**
   * Logs a definition durably and returns its LSN, which it leaves <em>not</em> marked done: the
   * registry records the collection first and only then calls {@code done}, so no flush can cover
   * the definition's LSN without seeing the collection. If it fails after an LSN was assigned, it
   * marks that LSN done itself.
   */
  @FunctionalInterface
  interface DefinitionLog {
    long log(String name, CollectionSchema schema) throws IOException;
  }

  private static final long CREATE_WAIT_MS = 60_000;

  private final ConcurrentHashMap<String, Collection> byName = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, CompletableFuture<Collection>> creating =
      new ConcurrentHashMap<>();

  /** The collection, or null. */
  public Collection get(String name) {
    return byName.get(name);
  }

  /**
   * The collection.
   *
   * @throws StrataException NOT_FOUND naming the fork and collection
   */
  public Collection require(String forkName, String name) {
    Collection c = byName.get(name);
    if (c == null) {
      throw StrataException.notFound(
          "collection '" + name + "' does not exist on fork '" + forkName + "'");
    }
    return c;
  }

  /** All collections, by name. */
  public List<Collection> all() {
    List<Collection> out = new ArrayList<>(byName.values());
    out.sort(Comparator.comparing(Collection::name));
    return out;
  }

  /** The collections defined by WAL records with LSN ≤ {@code lsn}, by name. */
  public List<Collection> asOf(long lsn) {
    List<Collection> out = new ArrayList<>();
    for (Collection c : all()) {
      if (c.createdLsn() <= lsn) {
        out.add(c);
      }
    }
    return out;
  }

  /** Adds a definition read from a manifest or replayed from the WAL. */
  void restore(Collection c) {
    byName.putIfAbsent(c.name(), c);
  }

  /**
   * Returns the collection {@code name}, creating it with {@code schema} if it does not exist.
   * Creation is one step with respect to publication: the collection is recorded before {@code
   * done} marks its definition's LSN applied, and a flush reads the registry only after the
   * watermark reached its covered LSN.
   *
   * @param done marks the definition's LSN applied (the fork's watermark)
   * @throws StrataException FAILED_PRECONDITION if it exists with a different schema
   */
  Defined createOrGet(String forkName, String name, CollectionSchema schema, DefinitionLog log, LongConsumer done) {
    while (true) {
      Collection existing = byName.get(name);
      if (existing != null) {
        return new Defined(sameSchemaOrFail(forkName, existing, schema), false);
      }
      CompletableFuture<Collection> mine = new CompletableFuture<>();
      CompletableFuture<Collection> other = creating.putIfAbsent(name, mine);
      if (other != null) {
        try {
          return new Defined(sameSchemaOrFail(forkName, other.get(CREATE_WAIT_MS, TimeUnit.MILLISECONDS), schema), false);
        } catch (ExecutionException e) {
          continue; // the creator failed; try to create it ourselves
        } catch (TimeoutException e) {
          throw StrataException.of(
              StrataException.Kind.DEADLINE_EXCEEDED,
              "collection '" + name + "' is still being created; retry");
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
        }
      }
      try {
        existing = byName.get(name);
        if (existing != null) {
          mine.complete(existing);
          return new Defined(sameSchemaOrFail(forkName, existing, schema), false);
        }
        long lsn = log.log(name, schema);
        Collection created = new Collection(name, schema, lsn);
        try {
          byName.put(name, created);
        } finally {
          done.accept(lsn);
        }
        mine.complete(created);
        return new Defined(created, true);
      } catch (IOException | RuntimeException e) {
        mine.completeExceptionally(e);
        if (e instanceof StrataException se) {
          throw se;
        }
        throw StrataException.of(
            StrataException.Kind.IO_ERROR,
            "could not log the definition of collection '" + name + "': " + e.getMessage(),
            e);
      } finally {
        creating.remove(name, mine);
      }
    }
  }

  /**
   * A collection name held by a merge that will define it at a later LSN ({@link #reserve}):
   * concurrent creators of the name wait for {@link #release} and then see the merge's collection
   * (or, if the merge defined nothing, create it themselves).
   *
   * @param existing the collection if it already existed (then nothing is held)
   */
  record Reservation(String name, Collection existing, CompletableFuture<Collection> slot) {}

  /**
   * Holds the creation slot of {@code name} for a merge (waits for a creation in progress), or
   * returns the existing collection without holding anything. Pair with {@link #release}.
   *
   * @throws StrataException DEADLINE_EXCEEDED if another creation held it for a minute
   */
  Reservation reserve(String name) {
    while (true) {
      Collection existing = byName.get(name);
      if (existing != null) {
        return new Reservation(name, existing, null);
      }
      CompletableFuture<Collection> mine = new CompletableFuture<>();
      CompletableFuture<Collection> other = creating.putIfAbsent(name, mine);
      if (other == null) {
        existing = byName.get(name);
        if (existing != null) {
          creating.remove(name, mine);
          mine.complete(existing);
          return new Reservation(name, existing, null);
        }
        return new Reservation(name, null, mine);
      }
      try {
        other.get(CREATE_WAIT_MS, TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        // that creation failed: try again
      } catch (TimeoutException e) {
        throw StrataException.of(
            StrataException.Kind.DEADLINE_EXCEEDED, "collection '" + name + "' is still being created; retry");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
      }
    }
  }

  /**
   * Ends a {@link #reserve}: records {@code defined} (the merge's collection, at its commit LSN),
   * or, if null, lets waiting creators create the name themselves.
   */
  void release(Reservation r, Collection defined) {
    if (r.slot() == null) {
      return;
    }
    if (defined != null) {
      byName.put(r.name(), defined);
      r.slot().complete(defined);
    } else {
      r.slot().completeExceptionally(new IllegalStateException("the merge did not define collection " + r.name()));
    }
    creating.remove(r.name(), r.slot());
  }

  private static Collection sameSchemaOrFail(String forkName, Collection c, CollectionSchema wanted) {
    if (!c.schema().equals(wanted)) {
      throw StrataException.failedPrecondition(
          "collection '"
              + c.name()
              + "' on fork '"
              + forkName
              + "' exists with a different schema: "
              + c.schema().describeDifference(wanted));
    }
    return c;
  }

  /** The manifest form of a collection. */
  static CollectionDef toDef(Collection c) {
    CollectionDef.Builder b = CollectionDef.newBuilder().setName(c.name()).setCreatedLsn(c.createdLsn());
    for (FieldSpec f : c.schema().fields()) {
      b.addFields(
          FieldDef.newBuilder()
              .setName(f.name())
              .setKind(dev.strata.manifest.proto.FieldKind.valueOf("FIELD_KIND_" + f.kind().name()))
              .setAnalyzer(f.analyzer()));
    }
    return b.build();
  }

  /** A collection from its manifest form. */
  static Collection fromDef(CollectionDef d) {
    List<FieldSpec> specs = new ArrayList<>();
    for (FieldDef f : d.getFieldsList()) {
      String kind = f.getKind().name().substring("FIELD_KIND_".length());
      specs.add(new FieldSpec(f.getName(), FieldKind.valueOf(kind), f.getAnalyzer()));
    }
    return new Collection(d.getName(), new CollectionSchema(specs), d.getCreatedLsn());
  }
}
