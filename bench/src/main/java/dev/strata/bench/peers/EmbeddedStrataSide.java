package dev.strata.bench.peers;

import dev.strata.bench.BenchDirs;
import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.server.ApiConversions;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Strata in-process: a {@link StrataEngine} with default options in a scratch directory, the corpus
 * written to {@code main}/{@code packages} and flushed. Searches call {@link Fork#search} directly:
 * what the server does for a {@code Search} RPC minus gRPC and protobuf. Deleted by {@link #close()}.
 */
public final class EmbeddedStrataSide implements AutoCloseable {
  private final Path dir;
  private final StrataEngine engine;
  private final Fork fork;

  /** Opens an engine under {@code root} and loads the first {@code count} replicas (writes of 500, ASYNC, then a flush). */
  public EmbeddedStrataSide(Path root, Corpus corpus, long count) throws Exception {
    this.dir = BenchDirs.create(root, "strata-bench-engine-");
    this.engine = StrataEngine.open(dir, LocalVfs.INSTANCE, EngineOptions.builder().build());
    this.fork = engine.fork(StrataEngine.MAIN);
    fork.createOrGetCollection(Corpus.COLLECTION, ApiConversions.schema(Corpus.SCHEMA));
    List<Mutation> batch = new ArrayList<>();
    for (long i = 0; i < count; i++) {
      batch.add(new Mutation.Put(corpus.replica(i).engine()));
      if (batch.size() == 500 || i == count - 1) {
        fork.write(Corpus.COLLECTION, batch, Durability.ASYNC);
        batch = new ArrayList<>();
      }
    }
    if (!fork.flushAndWait(600_000)) {
      throw new IllegalStateException("the in-process engine did not flush within 10 minutes");
    }
  }

  /** Segments of the head snapshot. */
  public int segmentCount() {
    return fork.stats().segmentCount();
  }

  /**
   * Search clients: a random query of {@code queries}, top 10 by score, over the head snapshot, each
   * hit's document decoded (as the raw Lucene side decodes its stored field).
   */
  public ClosedLoop.ClientFactory search(List<String> queries) {
    return index -> (SplittableRandom rnd) -> {
      List<SearchHit> hits =
          fork.search(Corpus.COLLECTION, SearchQuery.of(queries.get(rnd.nextInt(queries.size())), 10), null).hits();
      for (SearchHit h : hits) {
        h.document();
      }
      return hits.size();
    };
  }

  /** Closes the engine and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      engine.close();
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }
}
