package dev.strata.client;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.AwaitFlushResponse;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.Collection;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CompactResponse;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.CreateOrGetCollectionResponse;
import dev.strata.api.v1.DeleteTagRequest;
import dev.strata.api.v1.DiffEntry;
import dev.strata.api.v1.DiffSnapshotsRequest;
import dev.strata.api.v1.DiffSnapshotsResponse;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.DropForkResponse;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.FlushLevel;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetForkRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.ListCollectionsResponse;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.ListForksResponse;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.ListSnapshotsResponse;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.StatsResponse;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WatchSnapshotsResponse;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ClientStreamTracer;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A connection to a Strata server: one {@link ManagedChannel} per client object, and the stubs of
 * the six services on it.
 *
 * <p>Every call made through the convenience methods gets a deadline ({@link
 * Builder#deadline(Duration)}, 30 s unless said otherwise; long operations such as {@link
 * #compact}, {@link #verify} and {@link #dropFork} get longer ones). The channel retries calls by
 * itself, through gRPC's service-config retry policy ({@link RetryPolicy}): back-pressure ({@code
 * RESOURCE_EXHAUSTED} with the server's {@code grpc-retry-pushback-ms}, which carries the delay of
 * its {@code google.rpc.RetryInfo}) after exactly the server's delay, and {@code UNAVAILABLE} with
 * jittered exponential back-off, all attempts within the call's one deadline. Every other error,
 * and the last attempt's, is thrown as the {@link StatusRuntimeException} of the call (see {@link
 * StrataErrors} to read its details).
 *
 * <p>A bearer token, when given, is sent as {@code authorization: Bearer <token>} on every call
 * and every retry, including calls made on the raw stubs ({@link #documents()}, ...), which get
 * the retry policy too.
 *
 * <p>Thread-safe; create one per server and share it (a channel multiplexes any number of
 * concurrent calls over one HTTP/2 connection). {@link #close()} shuts the channel down.
 */
public final class StrataClient implements AutoCloseable {
  /** Metadata key of the bearer token. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Deadline of ordinary calls unless the builder says otherwise. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

  /** Overall time {@link #awaitFlush(FlushTicket)} waits before giving up. */
  public static final Duration DEFAULT_AWAIT_TIMEOUT = Duration.ofMinutes(10);

  /** Observes the retries the channel makes (e.g. to report "server busy" to a user). */
  @FunctionalInterface
  public interface RetryListener {
    /**
     * Called as retry number {@code retry} (1 = the second attempt) of {@code fullMethodName}
     * (e.g. {@code strata.v1.DocumentService/Write}) starts, after its back-off. Runs on a gRPC
     * thread: keep it short and non-blocking.
     */
    void onRetry(String fullMethodName, int retry);
  }

  /** Largest request the channel keeps for a retry by default: the server's default maximum. */
  public static final int DEFAULT_PER_RPC_BUFFER_BYTES = 16 << 20;

  private final String target;
  private final ManagedChannel ownedChannel;
  private final Channel channel;
  private final Duration deadline;
  private final Duration awaitAttemptTimeout;

  private final CollectionServiceGrpc.CollectionServiceBlockingStub collections;
  private final DocumentServiceGrpc.DocumentServiceBlockingStub documents;
  private final FlushServiceGrpc.FlushServiceBlockingStub flushes;
  private final SnapshotServiceGrpc.SnapshotServiceBlockingStub snapshots;
  private final ForkServiceGrpc.ForkServiceBlockingStub forks;
  private final AdminServiceGrpc.AdminServiceBlockingStub admin;
  private final DocumentServiceGrpc.DocumentServiceStub documentsAsync;
  private final FlushServiceGrpc.FlushServiceStub flushesAsync;

  private StrataClient(Builder b, ManagedChannel owned, Channel base) {
    this.target = b.target;
    this.ownedChannel = owned;
    this.deadline = b.deadline;
    this.awaitAttemptTimeout = b.awaitAttemptTimeout;
    List<ClientInterceptor> interceptors = new ArrayList<>();
    if (b.retryListener != null) {
      interceptors.add(new RetryObserver(b.retryListener));
    }
    if (b.token != null && !b.token.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + b.token);
      interceptors.add(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    this.channel = ClientInterceptors.intercept(base, interceptors);
    this.collections = CollectionServiceGrpc.newBlockingStub(channel);
    this.documents = DocumentServiceGrpc.newBlockingStub(channel);
    this.flushes = FlushServiceGrpc.newBlockingStub(channel);
    this.snapshots = SnapshotServiceGrpc.newBlockingStub(channel);
    this.forks = ForkServiceGrpc.newBlockingStub(channel);
    this.admin = AdminServiceGrpc.newBlockingStub(channel);
    this.documentsAsync = DocumentServiceGrpc.newStub(channel);
    this.flushesAsync = FlushServiceGrpc.newStub(channel);
  }

  /**
   * Connects to {@code target} ({@code host:port}, or any gRPC target URI).
   *
   * @param bearerTokenOrNull the token sent as {@code authorization: Bearer}; null or empty for
   *     none (servers without configured tokens)
   * @param tls whether to use TLS (trusting the JVM's default CAs); plaintext otherwise
   */
  public static StrataClient connect(String target, String bearerTokenOrNull, boolean tls) {
    return builder(target).token(bearerTokenOrNull).tls(tls).build();
  }

  /** A builder for a client of {@code target}. */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** The target this client talks to. */
  public String target() {
    return target;
  }

  /**
   * The connectivity state of the channel this client opened (null for a channel given to the
   * builder): {@code CONNECTING}/{@code TRANSIENT_FAILURE} after a failed call mean the server
   * was never reached.
   */
  public io.grpc.ConnectivityState state() {
    return ownedChannel == null ? null : ownedChannel.getState(false);
  }

  /** The deadline of ordinary calls. */
  public Duration deadline() {
    return deadline;
  }

  // ---------------------------------------------------------------- raw stubs (token attached)

  /** The channel with the token interceptor; for stubs this class does not wrap. */
  public Channel channel() {
    return channel;
  }

  /** The blocking stub of {@code strata.v1.CollectionService} (token and retries applied; no deadline: add one). */
  public CollectionServiceGrpc.CollectionServiceBlockingStub collections() {
    return collections;
  }

  /** The blocking stub of {@code strata.v1.DocumentService} (token and retries applied; no deadline: add one). */
  public DocumentServiceGrpc.DocumentServiceBlockingStub documents() {
    return documents;
  }

  /** The blocking stub of {@code strata.v1.FlushService} (token and retries applied; no deadline: add one). */
  public FlushServiceGrpc.FlushServiceBlockingStub flushes() {
    return flushes;
  }

  /** The blocking stub of {@code strata.v1.SnapshotService} (token and retries applied; no deadline: add one). */
  public SnapshotServiceGrpc.SnapshotServiceBlockingStub snapshots() {
    return snapshots;
  }

  /** The blocking stub of {@code strata.v1.ForkService} (token and retries applied; no deadline: add one). */
  public ForkServiceGrpc.ForkServiceBlockingStub forks() {
    return forks;
  }

  /** The blocking stub of {@code strata.v1.AdminService} (token and retries applied; no deadline: add one). */
  public AdminServiceGrpc.AdminServiceBlockingStub admin() {
    return admin;
  }

  /** The async stub of {@code strata.v1.DocumentService} (token and retries applied). */
  public DocumentServiceGrpc.DocumentServiceStub documentsAsync() {
    return documentsAsync;
  }

  /** The async stub of {@code strata.v1.FlushService} (token and retries applied). */
  public FlushServiceGrpc.FlushServiceStub flushesAsync() {
    return flushesAsync;
  }

  private <S extends AbstractStub<S>> S dl(S stub) {
    return dl(stub, deadline);
  }

  private static <S extends AbstractStub<S>> S dl(S stub, Duration d) {
    return stub.withDeadlineAfter(Math.max(1, d.toNanos()), TimeUnit.NANOSECONDS);
  }

  // ---------------------------------------------------------------- collections

  /** Creates the collection with this schema, or returns it if it exists with the same one. */
  public CreateOrGetCollectionResponse createOrGetCollection(
      String fork, String name, List<FieldSchema> fields) {
    CreateOrGetCollectionRequest req =
        CreateOrGetCollectionRequest.newBuilder()
            .setFork(nz(fork))
            .setName(name)
            .addAllFields(fields)
            .build();
    return dl(collections).createOrGetCollection(req);
  }

  /** One collection, at the head ({@code snapshotIdOrNull} null/empty) or at a snapshot. */
  public Collection getCollection(String fork, String name, String snapshotIdOrNull) {
    return dl(collections)
        .getCollection(
            GetCollectionRequest.newBuilder()
                .setFork(nz(fork))
                .setName(name)
                .setSnapshotId(nz(snapshotIdOrNull))
                .build())
        .getCollection();
  }

  /** Every collection of a fork (all pages). */
  public List<Collection> listCollections(String fork, String snapshotIdOrNull) {
    List<Collection> out = new ArrayList<>();
    String token = "";
    do {
      ListCollectionsResponse r =
          dl(collections)
              .listCollections(
                  ListCollectionsRequest.newBuilder()
                      .setFork(nz(fork))
                      .setSnapshotId(nz(snapshotIdOrNull))
                      .setPageSize(1000)
                      .setPageToken(token)
                      .build());
      out.addAll(r.getCollectionsList());
      token = r.getNextPageToken();
    } while (!token.isEmpty());
    return out;
  }

  // ---------------------------------------------------------------- documents

  /** An atomic batch (retried by the channel on back-pressure). */
  public WriteResponse write(WriteRequest request) {
    return dl(documents).write(request);
  }

  /** An atomic batch of mutations into one collection (SYNC durability), retried on back-pressure. */
  public WriteResponse write(String fork, String collection, List<Mutation> mutations) {
    return write(
        WriteRequest.newBuilder()
            .setFork(nz(fork))
            .setCollection(collection)
            .addAllMutations(mutations)
            .build());
  }

  /**
   * The same as {@link #write(WriteRequest)} without blocking: the future completes with the
   * response, or exceptionally with the {@link StatusRuntimeException} of the last attempt.
   * Back-pressure retries wait on the channel's timer, not on a thread.
   */
  public CompletableFuture<WriteResponse> writeAsync(WriteRequest request) {
    return unary(o -> dl(documentsAsync).write(request, o));
  }

  /** One document (head read unless a snapshot id is given); NOT_FOUND if missing. */
  public Document get(String fork, String collection, String id, String snapshotIdOrNull) {
    return dl(documents)
        .get(
            GetRequest.newBuilder()
                .setFork(nz(fork))
                .setCollection(collection)
                .setId(id)
                .setSnapshotId(nz(snapshotIdOrNull))
                .build())
        .getDocument();
  }

  /** Up to 1000 documents by id, {@code found} per id. */
  public List<BatchGetResult> batchGet(
      String fork, String collection, List<String> ids, String snapshotIdOrNull) {
    return dl(documents)
        .batchGet(
            BatchGetRequest.newBuilder()
                .setFork(nz(fork))
                .setCollection(collection)
                .addAllIds(ids)
                .setSnapshotId(nz(snapshotIdOrNull))
                .build())
        .getResultsList();
  }

  /**
   * Streams documents in id order. The returned iterator throws {@link StatusRuntimeException}
   * when the stream fails; the whole stream shares one deadline of {@code timeout}.
   */
  public Iterator<Document> scan(ScanRequest request, Duration timeout) {
    Iterator<ScanResponse> pages = dl(documents, timeout).scan(request);
    return flatten(pages, ScanResponse::getDocumentsList);
  }

  /** A search (only {@code WAIT_FOR_FLUSHED} can meet back-pressure, retried by the channel). */
  public SearchResponse search(SearchRequest request) {
    return dl(documents).search(request);
  }

  // ---------------------------------------------------------------- flushes

  /** Flushes a fork and returns the ticket (and the snapshot with {@code wait}). */
  public FlushResponse flush(String fork, boolean wait) {
    return flush(fork, wait, deadline);
  }

  /** {@link #flush(String, boolean)} with an explicit deadline (for {@code wait}). */
  public FlushResponse flush(String fork, boolean wait, Duration timeout) {
    FlushRequest req = FlushRequest.newBuilder().setFork(nz(fork)).setWait(wait).build();
    return dl(flushes, timeout).flush(req);
  }

  /** {@link #awaitFlush(FlushTicket, Duration)} with {@link #DEFAULT_AWAIT_TIMEOUT}. */
  public CompletableFuture<Snapshot> awaitFlush(FlushTicket ticket) {
    return awaitFlush(ticket, DEFAULT_AWAIT_TIMEOUT);
  }

  /**
   * The snapshot that resolves {@code ticket}. Each AwaitFlush call has a deadline of at most the
   * builder's {@code awaitAttemptTimeout} (30 s); when one passes ({@code DEADLINE_EXCEEDED}, the
   * ticket stays valid) and {@code overallTimeout} allows, the ticket is awaited again. The future
   * fails with the call's {@link StatusRuntimeException} ({@code DEADLINE_EXCEEDED} once {@code
   * overallTimeout} has passed; {@code NOT_FOUND}/{@code FORK_DROPPED}, {@code
   * FAILED_PRECONDITION}, ... at once). Cancelling the future cancels the call in flight.
   */
  public CompletableFuture<Snapshot> awaitFlush(FlushTicket ticket, Duration overallTimeout) {
    return awaitFlush(ticket, FlushLevel.FLUSH_LEVEL_PUBLISHED, overallTimeout);
  }

  /**
   * {@link #awaitFlush(FlushTicket, Duration)} to a given level: {@code FLUSH_LEVEL_UPLOADED} also
   * waits until the snapshot is in the server's object storage ({@code FAILED_PRECONDITION} if
   * the server has no object-storage tier).
   */
  public CompletableFuture<Snapshot> awaitFlush(FlushTicket ticket, FlushLevel level, Duration overallTimeout) {
    Objects.requireNonNull(ticket, "ticket");
    Objects.requireNonNull(level, "level");
    CompletableFuture<Snapshot> result = new CompletableFuture<>();
    long until = System.nanoTime() + Math.max(1, overallTimeout.toNanos());
    awaitAttempt(AwaitFlushRequest.newBuilder().setTicket(ticket).setLevel(level).build(), until, result);
    return result;
  }

  private void awaitAttempt(AwaitFlushRequest req, long until, CompletableFuture<Snapshot> result) {
    long remaining = until - System.nanoTime();
    if (result.isDone()) {
      return;
    }
    if (remaining <= 0) {
      result.completeExceptionally(
          Status.DEADLINE_EXCEEDED
              .withDescription(
                  "ticket " + Tickets.format(req.getTicket()) + " did not resolve in time")
              .asRuntimeException());
      return;
    }
    long attempt = Math.min(remaining, awaitAttemptTimeout.toNanos());
    flushesAsync
        .withDeadlineAfter(attempt, TimeUnit.NANOSECONDS)
        .awaitFlush(
            req,
            new ClientResponseObserver<AwaitFlushRequest, AwaitFlushResponse>() {
              private Snapshot snapshot;

              @Override
              public void beforeStart(ClientCallStreamObserver<AwaitFlushRequest> call) {
                result.whenComplete(
                    (v, e) -> {
                      if (result.isCancelled()) {
                        call.cancel("awaitFlush cancelled by the client", null);
                      }
                    });
              }

              @Override
              public void onNext(AwaitFlushResponse value) {
                snapshot = value.getSnapshot();
              }

              @Override
              public void onError(Throwable t) {
                if (Status.fromThrowable(t).getCode() == Status.Code.DEADLINE_EXCEEDED
                    && until - System.nanoTime() > 0
                    && !result.isDone()) {
                  awaitAttempt(req, until, result);
                } else {
                  result.completeExceptionally(t);
                }
              }

              @Override
              public void onCompleted() {
                if (snapshot != null) {
                  result.complete(snapshot);
                } else {
                  result.completeExceptionally(
                      Status.INTERNAL.withDescription("AwaitFlush answered nothing").asRuntimeException());
                }
              }
            });
  }

  /**
   * Blocks for {@link #awaitFlush(FlushTicket, Duration)} and returns the snapshot, rethrowing the
   * call's {@link StatusRuntimeException}.
   */
  public Snapshot awaitFlushBlocking(FlushTicket ticket, Duration overallTimeout) {
    return join(awaitFlush(ticket, overallTimeout));
  }

  /** Blocks for {@link #awaitFlush(FlushTicket, FlushLevel, Duration)}. */
  public Snapshot awaitFlushBlocking(FlushTicket ticket, FlushLevel level, Duration overallTimeout) {
    return join(awaitFlush(ticket, level, overallTimeout));
  }

  /**
   * Streams a fork's published snapshots ({@code afterSeqOrNull}: replay retained ones with a
   * greater seq first; -1 = all). The iterator blocks for the next snapshot; it ends with a
   * {@link StatusRuntimeException} when the stream fails or {@code timeout} passes. Run it inside a
   * cancellable {@link Context} to stop it early.
   */
  public Iterator<Snapshot> watchSnapshots(String fork, Long afterSeqOrNull, Duration timeout) {
    WatchSnapshotsRequest.Builder b = WatchSnapshotsRequest.newBuilder().setFork(nz(fork));
    if (afterSeqOrNull != null) {
      b.setAfterSeq(afterSeqOrNull);
    }
    Iterator<WatchSnapshotsResponse> it = dl(flushes, timeout).watchSnapshots(b.build());
    return flatten(it, r -> List.of(r.getSnapshot()));
  }

  // ---------------------------------------------------------------- snapshots and tags

  /** Up to {@code max} retained snapshots of a fork, newest first. */
  public List<Snapshot> listSnapshots(String fork, boolean taggedOnly, int max) {
    List<Snapshot> out = new ArrayList<>();
    String token = "";
    do {
      int pageSize = Math.max(1, Math.min(1000, max - out.size()));
      ListSnapshotsResponse r =
          dl(snapshots)
              .listSnapshots(
                  ListSnapshotsRequest.newBuilder()
                      .setFork(nz(fork))
                      .setTaggedOnly(taggedOnly)
                      .setPageSize(pageSize)
                      .setPageToken(token)
                      .build());
      out.addAll(r.getSnapshotsList());
      token = r.getNextPageToken();
    } while (!token.isEmpty() && out.size() < max);
    return out.size() > max ? new ArrayList<>(out.subList(0, max)) : out;
  }

  /** One retained snapshot by id. */
  public Snapshot getSnapshot(String snapshotId) {
    return dl(snapshots)
        .getSnapshot(GetSnapshotRequest.newBuilder().setSnapshotId(snapshotId).build())
        .getSnapshot();
  }

  /** The snapshot a tag names. */
  public Snapshot getSnapshotByTag(String tag) {
    return dl(snapshots).getSnapshot(GetSnapshotRequest.newBuilder().setTag(tag).build()).getSnapshot();
  }

  /** Pins {@code tag} on a snapshot (idempotent for the same snapshot). */
  public Snapshot tagSnapshot(String snapshotId, String tag) {
    return dl(snapshots)
        .tagSnapshot(TagSnapshotRequest.newBuilder().setSnapshotId(snapshotId).setTag(tag).build())
        .getSnapshot();
  }

  /** Removes a tag; returns the snapshot it named. */
  public Snapshot deleteTag(String tag) {
    return dl(snapshots).deleteTag(DeleteTagRequest.newBuilder().setTag(tag).build()).getSnapshot();
  }

  /**
   * Streams the changes between two snapshots (ordered by collection, then id); {@code
   * collectionOrNull} restricts them to one collection. One deadline of {@code timeout} for the
   * whole stream.
   */
  public Iterator<DiffEntry> diff(
      String fromSnapshotId, String toSnapshotId, String collectionOrNull, Duration timeout) {
    Iterator<DiffSnapshotsResponse> it =
        dl(snapshots, timeout)
            .diffSnapshots(
                DiffSnapshotsRequest.newBuilder()
                    .setFromSnapshotId(fromSnapshotId)
                    .setToSnapshotId(toSnapshotId)
                    .setCollection(nz(collectionOrNull))
                    .build());
    return flatten(it, DiffSnapshotsResponse::getEntriesList);
  }

  /**
   * The change feed of a fork ({@code WatchChanges}): one message per batch of a snapshot's
   * changes, the snapshot's last with {@code snapshot_complete} (resume with its snapshot id). The
   * iterator blocks for the next message; with {@code follow} it waits for new snapshots until
   * {@code timeoutOrNull} passes (null: no deadline; run it inside a cancellable {@link Context} to
   * stop it). Ends with a {@link StatusRuntimeException} when the stream fails, e.g.
   * FAILED_PRECONDITION CHANGE_POSITION_EXPIRED with the oldest retained snapshot in its metadata.
   */
  public Iterator<WatchChangesResponse> watchChanges(WatchChangesRequest request, Duration timeoutOrNull) {
    SnapshotServiceGrpc.SnapshotServiceBlockingStub stub = timeoutOrNull == null ? snapshots : dl(snapshots, timeoutOrNull);
    return stub.watchChanges(request);
  }

  // ---------------------------------------------------------------- forks

  /**
   * Merges a fork into another ({@code MergeFork}, admin): fast-forward, three-way or nothing; a
   * CONFLICTS outcome is a response, not an error. Not retried (a merge that may have run is
   * checked with a dry run, or made safe with {@code expected_target_head}).
   */
  public MergeForkResponse mergeFork(MergeForkRequest request) {
    return dl(forks).mergeFork(request);
  }

  /** Creates a fork (retried on back-pressure, which only {@code flush_first} can meet). */
  public Fork createFork(CreateForkRequest request) {
    return dl(forks).createFork(request).getFork();
  }

  /** A fork from a retained snapshot. */
  public Fork createForkFromSnapshot(String name, String snapshotId) {
    return createFork(
        CreateForkRequest.newBuilder().setName(name).setFromSnapshotId(snapshotId).build());
  }

  /** A fork from another fork's head, optionally flushing it first. */
  public Fork createForkFromFork(String name, String fromFork, boolean flushFirst) {
    return createFork(
        CreateForkRequest.newBuilder()
            .setName(name)
            .setFromFork(fromFork)
            .setFlushFirst(flushFirst)
            .build());
  }

  /** One fork by name. */
  public Fork getFork(String name) {
    return dl(forks).getFork(GetForkRequest.newBuilder().setName(name).build()).getFork();
  }

  /** Every fork, by name. */
  public List<Fork> listForks() {
    List<Fork> out = new ArrayList<>();
    String token = "";
    do {
      ListForksResponse r =
          dl(forks)
              .listForks(ListForksRequest.newBuilder().setPageSize(1000).setPageToken(token).build());
      out.addAll(r.getForksList());
      token = r.getNextPageToken();
    } while (!token.isEmpty());
    return out;
  }

  /**
   * Drops a fork, waiting up to {@code drainTimeoutOrNull} (server default 30 s when null) for its
   * in-flight flushes; the call's deadline is the drain timeout plus this client's deadline.
   */
  public DropForkResponse dropFork(String name, Duration drainTimeoutOrNull) {
    DropForkRequest.Builder b = DropForkRequest.newBuilder().setName(name);
    Duration drain = drainTimeoutOrNull == null ? Duration.ofSeconds(30) : drainTimeoutOrNull;
    if (drainTimeoutOrNull != null) {
      b.setDrainTimeout(
          com.google.protobuf.Duration.newBuilder()
              .setSeconds(drainTimeoutOrNull.getSeconds())
              .setNanos(drainTimeoutOrNull.getNano())
              .build());
    }
    return dl(forks, drain.plus(deadline)).dropFork(b.build());
  }

  // ---------------------------------------------------------------- admin

  /** Compacts a fork and waits for the snapshot (deadline {@code timeout}). */
  public CompactResponse compact(String fork, boolean forceFullMerge, Duration timeout) {
    return dl(admin, timeout)
        .compact(
            CompactRequest.newBuilder().setFork(nz(fork)).setForceFullMerge(forceFullMerge).build());
  }

  /** Statistics of the named forks (all when empty). */
  public StatsResponse stats(List<String> forkNames) {
    return dl(admin).stats(StatsRequest.newBuilder().addAllForks(forkNames).build());
  }

  /** Verifies the named forks (all when empty), deadline {@code timeout}. */
  public VerifyResponse verify(List<String> forkNames, boolean skipSegmentChecksums, Duration timeout) {
    return dl(admin, timeout)
        .verify(
            VerifyRequest.newBuilder()
                .addAllForks(forkNames)
                .setSkipSegmentChecksums(skipSegmentChecksums)
                .build());
  }

  // ---------------------------------------------------------------- retries

  /**
   * Tells a {@link RetryListener} about each retry attempt: gRPC starts a new client stream per
   * attempt and says how many came before ({@code previousAttempts}); transparent retries (the
   * request never reached the server) are not counted.
   */
  private static final class RetryObserver implements ClientInterceptor {
    private final RetryListener listener;

    RetryObserver(RetryListener listener) {
      this.listener = listener;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      ClientStreamTracer.Factory factory =
          new ClientStreamTracer.Factory() {
            @Override
            public ClientStreamTracer newClientStreamTracer(
                ClientStreamTracer.StreamInfo info, Metadata headers) {
              if (info.getPreviousAttempts() > 0 && !info.isTransparentRetry()) {
                listener.onRetry(method.getFullMethodName(), info.getPreviousAttempts());
              }
              return new ClientStreamTracer() {};
            }
          };
      return next.newCall(method, options.withStreamTracerFactory(factory));
    }
  }

  // ---------------------------------------------------------------- helpers

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  /** Joins a future, rethrowing its gRPC error unwrapped. */
  public static <T> T join(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      Throwable c = unwrap(e);
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(c);
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static <T> CompletableFuture<T> unary(
      java.util.function.Consumer<io.grpc.stub.StreamObserver<T>> call) {
    CompletableFuture<T> f = new CompletableFuture<>();
    call.accept(
        new io.grpc.stub.StreamObserver<T>() {
          private T value;

          @Override
          public void onNext(T v) {
            value = v;
          }

          @Override
          public void onError(Throwable t) {
            f.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            f.complete(value);
          }
        });
    return f;
  }

  private static <R, T> Iterator<T> flatten(Iterator<R> pages, Function<R, List<T>> items) {
    return new Iterator<>() {
      private Iterator<T> current = java.util.Collections.emptyIterator();

      @Override
      public boolean hasNext() {
        while (!current.hasNext()) {
          if (!pages.hasNext()) {
            return false;
          }
          current = items.apply(pages.next()).iterator();
        }
        return true;
      }

      @Override
      public T next() {
        if (!hasNext()) {
          throw new java.util.NoSuchElementException();
        }
        return current.next();
      }
    };
  }

  /** Shuts the channel down (if this client created it), waiting up to 5 s for calls to end. */
  @Override
  public void close() {
    if (ownedChannel == null) {
      return;
    }
    ownedChannel.shutdown();
    try {
      if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
        ownedChannel.shutdownNow();
      }
    } catch (InterruptedException e) {
      ownedChannel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** Configures a {@link StrataClient}. */
  public static final class Builder {
    private final String target;
    private String token;
    private boolean tls;
    private File trustedCertificates;
    private Duration deadline = DEFAULT_DEADLINE;
    private Duration awaitAttemptTimeout = Duration.ofSeconds(30);
    private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
    private RetryListener retryListener;
    private int maxInboundMessageBytes = 64 << 20;
    private int perRpcBufferBytes = DEFAULT_PER_RPC_BUFFER_BYTES;
    private Channel channel;
    private ManagedChannelBuilder<?> channelBuilder;

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
    }

    /** Bearer token ({@code authorization: Bearer <token>}); null or empty for none. */
    public Builder token(String t) {
      this.token = t;
      return this;
    }

    /** TLS (true) or plaintext (false, the default). */
    public Builder tls(boolean t) {
      this.tls = t;
      return this;
    }

    /** TLS trusting these PEM certificates instead of the JVM's default CAs (implies TLS). */
    public Builder trustedCertificates(File pem) {
      this.trustedCertificates = pem;
      if (pem != null) {
        this.tls = true;
      }
      return this;
    }

    /** Deadline of ordinary calls (default 30 s). */
    public Builder deadline(Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("deadline must be positive: " + d);
      }
      this.deadline = d;
      return this;
    }

    /** Deadline of each AwaitFlush call inside {@link #awaitFlush} (default 30 s). */
    public Builder awaitAttemptTimeout(Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("awaitAttemptTimeout must be positive: " + d);
      }
      this.awaitAttemptTimeout = d;
      return this;
    }

    /** The channel's retry policy (default {@link RetryPolicy#DEFAULT}; {@link RetryPolicy#NONE}). */
    public Builder retryPolicy(RetryPolicy p) {
      this.retryPolicy = Objects.requireNonNull(p);
      return this;
    }

    /** Observes each retry the channel makes; null for none. */
    public Builder retryListener(RetryListener l) {
      this.retryListener = l;
      return this;
    }

    /**
     * Largest request kept in memory so that it can be retried (default 16 MiB, the server's
     * default {@code limits.max_message_bytes}); a larger one is sent once and never retried.
     */
    public Builder perRpcBufferBytes(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("perRpcBufferBytes must be >= 0: " + bytes);
      }
      this.perRpcBufferBytes = bytes;
      return this;
    }

    /** Largest response accepted (default 64 MiB: searches with big limits and documents). */
    public Builder maxInboundMessageBytes(int n) {
      this.maxInboundMessageBytes = n;
      return this;
    }

    /**
     * Use this channel instead of opening one; the caller keeps owning it ({@link
     * StrataClient#close()} does not shut it down) and configures it: the client's retry policy,
     * TLS and message limits do not apply to it.
     */
    public Builder channel(Channel c) {
      this.channel = c;
      return this;
    }

    /**
     * Open the channel from this builder instead of from the target (e.g. an in-process channel in
     * tests), with the client's retry policy and message limits applied; the client owns it.
     * TLS settings do not apply: the builder brings its own transport.
     */
    public Builder channelBuilder(ManagedChannelBuilder<?> b) {
      this.channelBuilder = b;
      return this;
    }

    /**
     * Opens the channel (connecting lazily, on the first call).
     *
     * @throws java.io.UncheckedIOException if the trusted certificates cannot be read
     */
    public StrataClient build() {
      if (channel != null) {
        return new StrataClient(this, null, channel);
      }
      if (channelBuilder != null) {
        ManagedChannel ch = configure(channelBuilder).build();
        return new StrataClient(this, ch, ch);
      }
      ChannelCredentials creds;
      if (trustedCertificates != null) {
        try {
          creds = TlsChannelCredentials.newBuilder().trustManager(trustedCertificates).build();
        } catch (IOException e) {
          throw new UncheckedIOException(
              "cannot read trusted certificates " + trustedCertificates + ": " + e.getMessage(), e);
        }
      } else if (tls) {
        creds = TlsChannelCredentials.create();
      } else {
        creds = InsecureChannelCredentials.create();
      }
      ManagedChannel ch = configure(Grpc.newChannelBuilder(target, creds)).build();
      return new StrataClient(this, ch, ch);
    }

    private ManagedChannelBuilder<?> configure(ManagedChannelBuilder<?> b) {
      b.maxInboundMessageSize(maxInboundMessageBytes).userAgent("strata-client");
      if (retryPolicy.maxAttempts() > 1) {
        b.defaultServiceConfig(retryPolicy.serviceConfig())
            .enableRetry()
            .maxRetryAttempts(RetryPolicy.MAX_ATTEMPTS_CAP)
            .perRpcBufferLimit(perRpcBufferBytes)
            // several loads in flight, each with a few requests of up to the per-RPC limit
            .retryBufferSize(Math.max(64L << 20, 4L * perRpcBufferBytes));
      } else {
        b.disableRetry();
      }
      return b;
    }
  }
}
