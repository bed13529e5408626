package dev.strata.bench.peers;

import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.StatsResponse;
import dev.strata.api.v1.WriteRequest;
import dev.strata.client.RetryPolicy;
import dev.strata.client.StrataClient;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Strata side over real gRPC: a {@link StrataServerProcess} and, per load client, its own
 * {@link StrataClient} (its own channel, so its own HTTP/2 connection, as PostgreSQL's clients have
 * their own connections). The read workloads use fork {@code main}, collection {@code packages};
 * each ingest run writes to collection {@code ingest} of a new fork made from {@code main}, dropped
 * after the run.
 */
public final class StrataGrpcSide implements AutoCloseable {
  private static final long CALL_TIMEOUT_MS = 60_000;

  private final StrataServerProcess server;
  private final StrataClient admin;

  /** Connects to a started server and creates collection {@code packages} on {@code main}. */
  public StrataGrpcSide(StrataServerProcess server) {
    this.server = server;
    // loads ride out long write stalls: as many attempts as the client allows, within 5 minutes
    this.admin =
        StrataClient.builder(server.target())
            .deadline(Duration.ofMinutes(5))
            .retryPolicy(RetryPolicy.DEFAULT.withMaxAttempts(RetryPolicy.MAX_ATTEMPTS_CAP))
            .build();
    admin.createOrGetCollection("main", Corpus.COLLECTION, Corpus.SCHEMA);
  }

  /** The server. */
  public StrataServerProcess server() {
    return server;
  }

  /** The harness's own client (set-up, forks, stats). */
  public StrataClient admin() {
    return admin;
  }

  /**
   * Writes replicas {@code [from, to)} into {@code main}/{@code packages} in writes of 500
   * documents (ASYNC durability, {@code threads} writers), then flushes and waits for the snapshot.
   */
  public void load(Corpus corpus, long from, long to, int threads) throws Exception {
    ChunkedLoader.run(from, to, 500, threads, () -> (start, end) -> {
      WriteRequest.Builder w = WriteRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
          .setDurability(Durability.DURABILITY_ASYNC);
      for (long i = start; i < end; i++) {
        w.addMutations(Mutation.newBuilder().setPut(corpus.replica(i).proto()));
      }
      admin.write(w.build()); // back-pressure is retried by the channel (RetryPolicy)
    });
    admin.flush("main", true, Duration.ofMinutes(10));
  }

  /** Creates the fork an ingest run writes to (from {@code main}'s head) and its collection. */
  public void createIngestFork(String fork) {
    admin.createFork(CreateForkRequest.newBuilder().setName(fork).setFromFork("main").build());
    admin.createOrGetCollection(fork, "ingest", Corpus.SCHEMA);
  }

  /** Drops a fork (drain timeout 120 s). */
  public void dropFork(String fork) {
    admin.dropFork(fork, Duration.ofSeconds(120));
  }

  /**
   * Ingest clients: each writes {@code batchDocs} new documents per {@code Write}, SYNC durability,
   * to {@code fork}/{@code ingest}; documents are corpus replicas in the order of {@code sequence}.
   */
  public ClosedLoop.ClientFactory ingest(Corpus corpus, String fork, int batchDocs, AtomicLong sequence) {
    return clientFactory((c, rnd) -> {
      long first = sequence.getAndAdd(batchDocs);
      WriteRequest.Builder w = WriteRequest.newBuilder().setFork(fork).setCollection("ingest")
          .setDurability(Durability.DURABILITY_SYNC);
      for (int k = 0; k < batchDocs; k++) {
        w.addMutations(Mutation.newBuilder().setPut(corpus.replica(first + k).proto()));
      }
      c.documents().withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).write(w.build());
      return batchDocs;
    });
  }

  /** Point reads on {@code main}/{@code packages}, ids uniformly among the first {@code idCount} replicas. */
  public ClosedLoop.ClientFactory get(Corpus corpus, long idCount) {
    return clientFactory((c, rnd) -> {
      GetRequest req = GetRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
          .setId(corpus.replica(rnd.nextLong(idCount)).id()).build();
      return c.documents().withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).get(req).hasDocument() ? 1 : 0;
    });
  }

  /** Searches on {@code main}/{@code packages}: a random query of {@code queries}, top 10 by score. */
  public ClosedLoop.ClientFactory search(List<String> queries) {
    return clientFactory((c, rnd) -> {
      SearchRequest req = SearchRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
          .setQuery(queries.get(rnd.nextInt(queries.size()))).setLimit(10).build();
      return c.documents().withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS).search(req).getHitsCount();
    });
  }

  /**
   * BatchGets on {@code main}/{@code packages}: {@code ids} distinct ids per call, uniformly among
   * the first {@code idCount} replicas; returns the documents found.
   */
  public ClosedLoop.ClientFactory batchGet(Corpus corpus, long idCount, int ids) {
    return clientFactory((c, rnd) -> {
      BatchGetRequest.Builder req = BatchGetRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
          .addAllIds(corpus.distinctIds(rnd, idCount, ids));
      int found = 0;
      for (BatchGetResult r : c.documents().withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
          .batchGet(req.build()).getResultsList()) {
        found += r.getFound() ? 1 : 0;
      }
      return found;
    });
  }

  /**
   * BatchGet as {@link #batchGet}, the response decoded field by field as PostgreSQL's JDBC client
   * decodes its rows ({@link FieldDecodingBatchGet}) instead of into the generated classes.
   */
  public ClosedLoop.ClientFactory batchGetFieldDecoded(Corpus corpus, long idCount, int ids) {
    return clientFactory((c, rnd) -> {
      BatchGetRequest req = BatchGetRequest.newBuilder().setFork("main").setCollection(Corpus.COLLECTION)
          .addAllIds(corpus.distinctIds(rnd, idCount, ids)).build();
      DocumentServiceGrpc.DocumentServiceBlockingStub stub = c.documents();
      return ClientCalls.blockingUnaryCall(stub.getChannel(), FieldDecodingBatchGet.METHOD,
          stub.getCallOptions().withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS), req);
    });
  }

  /**
   * The gRPC ceiling: the standard health check ({@code grpc.health.v1.Health/Check}, service
   * ""), the cheapest RPC the server has. It passes the same server interceptors as Strata's RPCs.
   */
  public ClosedLoop.ClientFactory ping() {
    return ping(server.target());
  }

  /**
   * Health checks of any gRPC server at {@code target}, with exactly the client code of {@link
   * #ping()} (a {@link StrataClient} channel, the blocking stub): the bare echo server's side.
   */
  public static ClosedLoop.ClientFactory ping(String target) {
    return clientFactory(target, (c, rnd) -> {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(c.channel())
          .withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? 1 : 0;
    });
  }

  /** Creates fork {@code name} from {@code main}'s head (no flush first); returns the RPC's wall time in ms. */
  public double timeCreateFork(String name) {
    long t0 = System.nanoTime();
    admin.createFork(CreateForkRequest.newBuilder().setName(name).setFromFork("main").build());
    return (System.nanoTime() - t0) / 1e6;
  }

  /** Drops fork {@code name}; returns the RPC's wall time in ms. */
  public double timeDropFork(String name) {
    long t0 = System.nanoTime();
    admin.dropFork(name, Duration.ofSeconds(120));
    return (System.nanoTime() - t0) / 1e6;
  }

  /** Segments of {@code main}'s head snapshot. */
  public long mainSegments() {
    StatsResponse s = admin.stats(List.of("main"));
    return s.getForksList().isEmpty() ? -1 : s.getForks(0).getSegmentCount();
  }

  private interface Call {
    int call(StrataClient c, SplittableRandom rnd);
  }

  private ClosedLoop.ClientFactory clientFactory(Call call) {
    return clientFactory(server.target(), call);
  }

  private static ClosedLoop.ClientFactory clientFactory(String target, Call call) {
    return index -> {
      StrataClient c = StrataClient.connect(target, null, false);
      return new ClosedLoop.Client() {
        @Override
        public int call(SplittableRandom rnd) {
          return call.call(c, rnd);
        }

        @Override
        public void close() {
          c.close();
        }
      };
    };
  }

  /** Closes the harness's client and stops the server (graceful). */
  @Override
  public void close() {
    try {
      admin.close();
    } finally {
      server.close();
    }
  }
}
