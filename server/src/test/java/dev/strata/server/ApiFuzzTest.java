package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateForkResponse;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.DeleteTagRequest;
import dev.strata.api.v1.DiffSnapshotsRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.DropForkResponse;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetForkRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.ListCollectionsResponse;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.RangeBound;
import dev.strata.api.v1.RangeFilter;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SortField;
import dev.strata.api.v1.SortOrder;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #11: API fuzz over real gRPC. Random bytes, random messages of each request type (fields
 * drawn from edge values and the names the server knows), and real requests mutated at the byte or
 * field level go to every method of every service: the six {@code strata.v1} services, health and
 * both reflection versions ({@link RawCalls#allMethods}).
 *
 * <p>Every answer must be one of the documented statuses (OK, INVALID_ARGUMENT, NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED; ABORTED for a watch) —
 * never UNKNOWN, INTERNAL, DATA_LOSS, UNAVAILABLE or UNIMPLEMENTED — with a bounded message that a
 * default client can read. Afterwards the server is SERVING, Verify finds no problem, and a full
 * scan of every fork whose history the test knows equals a model of the accepted writes: nothing a
 * rejected request carried was applied.
 *
 * <p>{@code -Dstrata.fuzz.requests=N} (default 21,000; the {@code fuzz-long} Maven profile runs
 * 1,000,000) and {@code -Dstrata.fuzz.seed=S} (printed; a failure names it and the request bytes).
 */
class ApiFuzzTest {
  static final int REQUESTS = Integer.getInteger("strata.fuzz.requests", 21_000);
  static final long SEED = Long.getLong("strata.fuzz.seed", System.nanoTime());

  /** The statuses docs/api.md §3 allows for a request a client made up. */
  static final Set<Status.Code> DOCUMENTED =
      EnumSet.of(
          Status.Code.OK,
          Status.Code.INVALID_ARGUMENT,
          Status.Code.NOT_FOUND,
          Status.Code.ALREADY_EXISTS,
          Status.Code.FAILED_PRECONDITION,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.DEADLINE_EXCEEDED);

  static final String WATCH = "strata.v1.FlushService/WatchSnapshots";
  static final String HEALTH_WATCH = "grpc.health.v1.Health/Watch";
  static final String WRITE = "strata.v1.DocumentService/Write";

  @TempDir Path dir;

  TestServer t;
  SplittableRandom random;
  ProtoFuzzer fuzz;

  // What the server has now (refreshed now and then; feeds the dictionary and the templates).
  final List<String> forkNames = new ArrayList<>();
  final Map<String, String> forkIds = new HashMap<>();
  final List<String> snapshotIds = new ArrayList<>();
  final List<String> collections = new ArrayList<>(List.of("docs"));
  final List<String> tags = new ArrayList<>(List.of("t1"));
  final List<FlushTicket> tickets = new ArrayList<>();
  final List<String> dictionary = new ArrayList<>();

  // The model: fork id -> collection -> id -> document, for forks whose whole history is known.
  final Map<String, Map<String, Map<String, Document>>> model = new HashMap<>();
  final Map<String, Map<String, FieldKind>> schemas = new HashMap<>();

  final Map<String, Map<Status.Code, Integer>> answers = new TreeMap<>();
  final List<String> failures = new ArrayList<>();

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES) // the fuzz-long profile turns timeouts off
  void everyAnswerIsDocumentedAndNothingRejectedIsApplied() throws Exception {
    System.out.println("ApiFuzzTest: seed " + SEED + " (-Dstrata.fuzz.seed=" + SEED + "), " + REQUESTS + " requests");
    random = new SplittableRandom(SEED);
    fuzz = new ProtoFuzzer(random.split(), () -> dictionary);
    Map<String, String> settings = new HashMap<>();
    settings.put("flush.interval", "200ms");
    settings.put("l0.max_bytes", "256KiB");
    settings.put("write_stall_timeout", "2s");
    settings.put("compaction.max_segments", "4");
    settings.put("retention.snapshots", "5");
    settings.put("retention.min_age", "0");
    settings.put("retention.interval", "1s");
    settings.put("metrics.listen", "off");
    t = TestServer.start(dir, settings);
    // Tens of thousands of refused calls: keep the call log (one INFO line each) out of the way.
    ch.qos.logback.classic.Logger calls = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("dev.strata.server.calls");
    ch.qos.logback.classic.Level callsLevel = calls.getLevel();
    calls.setLevel(ch.qos.logback.classic.Level.WARN);
    long t0 = System.nanoTime();
    try {
      setUp();
      List<RawCalls.Method> methods = RawCalls.allMethods();
      List<byte[]> recent = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        if (i % 250 == 0) {
          drainPending();
          refresh();
        }
        RawCalls.Method m = pick(methods);
        int kind = i % 3;
        byte[] request =
            switch (kind) {
              case 0 -> fuzz.randomBytes(random.nextInt(20) == 0 ? 4096 : 96);
              case 1 -> fuzz.randomMessage(m.requestType());
              default -> fuzz.mutate(m.requestType(), template(m.fullName()), ProtoFuzzer.sample(recent, random, 1));
            };
        if (recent.size() < 64) {
          recent.add(request);
        } else {
          recent.set(random.nextInt(64), request);
        }
        send(m, request, kind);
        if (failures.size() >= 20) {
          break;
        }
      }
      drainPending();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.printf("ApiFuzzTest: %d requests in %d ms (%.0f/s), seed %d%n", REQUESTS, ms, REQUESTS * 1000.0 / ms, SEED);
      answers.forEach((method, codes) -> System.out.println("  " + method + " " + codes));
      failures.forEach(f -> System.out.println("ApiFuzzTest FAILURE: " + f));
      assertThat(failures).as("undocumented answers (seed " + SEED + ")").isEmpty();
      afterwards();
    } finally {
      calls.setLevel(callsLevel);
      t.close();
    }
  }

  private RawCalls.Method pick(List<RawCalls.Method> methods) {
    // Open-ended streams only end at their deadline: fewer of them.
    RawCalls.Method m = methods.get(random.nextInt(methods.size()));
    if ((m.fullName().equals(WATCH) || m.fullName().equals(HEALTH_WATCH)) && random.nextInt(4) != 0) {
      return methods.get(random.nextInt(methods.size()));
    }
    return m;
  }

  // ---------------------------------------------------------------- sending and checking

  /**
   * Sends one request. Calls that change what the model tracks run one at a time, in order; every
   * other call is pipelined, up to {@value #PIPELINE} in flight, and checked when it ends.
   */
  private void send(RawCalls.Method m, byte[] request, int kind) {
    String how = kind == 0 ? "random bytes" : kind == 1 ? "random message" : "mutated request";
    boolean openEnded = m.fullName().equals(WATCH) || m.fullName().equals(HEALTH_WATCH);
    if (!ORDERED.contains(m.fullName())) {
      pending.add(new Pending(m, request, how, RawCalls.start(t.channel, m, request, openEnded ? 100 + random.nextInt(200) : 20_000)));
      if (pending.size() > PIPELINE) {
        finish(pending.remove(0));
      }
      return;
    }
    RawCalls.Result r = RawCalls.call(t.channel, m, request, 20_000);
    record(m.fullName(), r, request, how);
    if (r.status().isOk()) {
      applied(m.fullName(), request, r);
    } else if (m.fullName().equals(WRITE) && r.status().getCode() == Status.Code.DEADLINE_EXCEEDED) {
      forgetForkOf(request); // the outcome is unknown to any client: stop modelling that fork
    } else if (m.fullName().equals(MERGE) && r.status().getCode() == Status.Code.DEADLINE_EXCEEDED) {
      model.clear(); // a merge into an unknown target may have happened
    }
  }

  /** A merge rewrites its target's documents: ordered, and the target is no longer modelled. */
  static final String MERGE = "strata.v1.ForkService/MergeFork";

  /** Methods sent one at a time: they change what the model or the templates track. */
  static final Set<String> ORDERED =
      Set.of(WRITE, "strata.v1.ForkService/CreateFork", "strata.v1.ForkService/DropFork", MERGE);

  /** Calls in flight at most, besides the ordered ones. */
  static final int PIPELINE = 16;

  record Pending(RawCalls.Method method, byte[] request, String how, CompletableFuture<RawCalls.Result> result) {}

  final List<Pending> pending = new ArrayList<>();

  private void finish(Pending p) {
    try {
      RawCalls.Result r = p.result().get(60, TimeUnit.SECONDS);
      record(p.method().fullName(), r, p.request(), p.how());
      if (r.status().isOk()) {
        applied(p.method().fullName(), p.request(), r); // a ticket of a Flush, say
      }
    } catch (Exception e) {
      failures.add(p.method() + " (" + p.how() + "): no status: " + e);
    }
  }

  private void drainPending() {
    while (!pending.isEmpty()) {
      finish(pending.remove(0));
    }
  }

  private void record(String method, RawCalls.Result r, byte[] request, String how) {
    answers.computeIfAbsent(method, k -> new TreeMap<>()).merge(r.status().getCode(), 1, Integer::sum);
    check(method, r, request, how);
  }

  private void check(String method, RawCalls.Result r, byte[] request, String how) {
    Status s = r.status();
    boolean ok = DOCUMENTED.contains(s.getCode()) || (s.getCode() == Status.Code.ABORTED && method.equals(WATCH));
    String description = s.getDescription() == null ? "" : s.getDescription();
    if (s.getCode() == Status.Code.RESOURCE_EXHAUSTED && description.contains("metadata")) {
      ok = false; // the client could not read the server's trailers: an answer too big
    }
    if (description.length() > StatusMapper.MAX_MESSAGE_CHARS + 200) {
      ok = false;
    }
    if (!ok) {
      failures.add(
          method + " (" + how + ") -> " + s.getCode() + ": " + StatusMapper.capped(description, 300)
              + "\n    request " + request.length + " bytes: "
              + HexFormat.of().formatHex(request, 0, Math.min(request.length, 256)));
    }
  }

  // ---------------------------------------------------------------- the model

  private void applied(String method, byte[] request, RawCalls.Result r) {
    try {
      switch (method) {
        case WRITE -> {
          WriteRequest w = WriteRequest.parseFrom(request);
          WriteResponse resp = WriteResponse.parseFrom(r.messages().get(0));
          tickets.add(FlushTicket.newBuilder().setForkId(resp.getForkId()).setLsn(resp.getLsn()).build());
          Map<String, Map<String, Document>> fork = model.get(resp.getForkId());
          if (fork == null) {
            return;
          }
          Map<String, FieldKind> schema = schema(resp.getForkId(), forkName(w.getFork()), w.getCollection());
          Map<String, Document> docs = fork.computeIfAbsent(w.getCollection(), k -> new TreeMap<>());
          for (Mutation m : w.getMutationsList()) {
            if (m.hasPut()) {
              docs.put(m.getPut().getId(), stored(m.getPut(), schema));
            } else {
              docs.remove(m.getDeleteId());
            }
          }
        }
        case "strata.v1.ForkService/CreateFork" -> {
          CreateForkRequest c = CreateForkRequest.parseFrom(request);
          Fork f = CreateForkResponse.parseFrom(r.messages().get(0)).getFork();
          String baseForkId = Resolver.forkIdOf(f.getBaseSnapshotId());
          if (c.hasFromFork() && c.getFlushFirst() && model.containsKey(baseForkId)) {
            model.put(f.getId(), deepCopy(model.get(baseForkId)));
          }
          forkIds.put(f.getName(), f.getId());
        }
        case MERGE -> {
          MergeForkResponse resp = MergeForkResponse.parseFrom(r.messages().get(0));
          boolean wrote = !resp.getDryRun()
              && (resp.getOutcome() == MergeOutcome.MERGE_OUTCOME_FAST_FORWARD
                  || resp.getOutcome() == MergeOutcome.MERGE_OUTCOME_THREE_WAY);
          if (wrote) {
            // The ticket names the target; the merged documents are the source's, which this test
            // does not replay: stop modelling the target.
            model.remove(resp.getTicket().getForkId());
          }
        }
        case "strata.v1.ForkService/DropFork" -> {
          model.remove(DropForkResponse.parseFrom(r.messages().get(0)).getForkId());
        }
        case "strata.v1.FlushService/Flush" -> {
          FlushResponse f = FlushResponse.parseFrom(r.messages().get(0));
          tickets.add(f.getTicket());
        }
        default -> {}
      }
    } catch (InvalidProtocolBufferException e) {
      failures.add(method + ": the server accepted a request this test cannot parse: " + e.getMessage());
    }
  }

  /**
   * A put as the server stores it: int64 values of DOUBLE fields become doubles, and fields this
   * API version does not know (a mutated request may carry them) are not kept.
   */
  private static Document stored(Document d, Map<String, FieldKind> schema) {
    Document.Builder b = withoutUnknownFields(d).toBuilder();
    for (Map.Entry<String, Value> e : d.getFieldsMap().entrySet()) {
      if (schema.get(e.getKey()) == FieldKind.FIELD_KIND_DOUBLE && e.getValue().hasInt64Value()) {
        b.putFields(e.getKey(), Value.newBuilder().setDoubleValue(e.getValue().getInt64Value()).build());
      }
    }
    return b.build();
  }

  @SuppressWarnings("unchecked")
  private static <M extends Message> M withoutUnknownFields(M m) {
    Message.Builder b = m.toBuilder().setUnknownFields(com.google.protobuf.UnknownFieldSet.getDefaultInstance());
    for (com.google.protobuf.Descriptors.FieldDescriptor f : b.getDescriptorForType().getFields()) {
      if (f.getJavaType() != com.google.protobuf.Descriptors.FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      if (f.isRepeated()) {
        for (int i = 0; i < b.getRepeatedFieldCount(f); i++) {
          b.setRepeatedField(f, i, withoutUnknownFields((Message) b.getRepeatedField(f, i)));
        }
      } else if (b.hasField(f)) {
        b.setField(f, withoutUnknownFields((Message) b.getField(f)));
      }
    }
    return (M) b.build();
  }

  private Map<String, FieldKind> schema(String forkId, String forkName, String collection) {
    return schemas.computeIfAbsent(
        forkId + "/" + collection,
        k -> {
          Map<String, FieldKind> m = new HashMap<>();
          for (FieldSchema f :
              t.collections()
                  .getCollection(GetCollectionRequest.newBuilder().setFork(forkName).setName(collection).build())
                  .getCollection()
                  .getFieldsList()) {
            m.put(f.getName(), f.getKind());
          }
          return m;
        });
  }

  private void forgetForkOf(byte[] request) {
    try {
      String name = forkName(WriteRequest.parseFrom(request).getFork());
      Fork f = t.forks().getFork(GetForkRequest.newBuilder().setName(name).build()).getFork();
      model.remove(f.getId());
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      model.clear(); // cannot tell which fork: model nothing from now on
    }
  }

  private static String forkName(String requested) {
    return requested.isEmpty() ? "main" : requested;
  }

  private static Map<String, Map<String, Document>> deepCopy(Map<String, Map<String, Document>> m) {
    Map<String, Map<String, Document>> out = new HashMap<>();
    m.forEach((c, docs) -> out.put(c, new TreeMap<>(docs)));
    return out;
  }

  // ---------------------------------------------------------------- state, dictionary, templates

  private void setUp() {
    t.createCollection("main", "docs");
    model.put(t.forks().getFork(GetForkRequest.newBuilder().setName("main").build()).getFork().getId(), new HashMap<>());
    for (int i = 0; i < 20; i++) {
      byte[] w = writeTemplate("main", "docs");
      RawCalls.Result r = RawCalls.call(t.channel, method(WRITE), w, 20_000);
      assertThat(r.status().isOk()).as(r.status().toString()).isTrue();
      applied(WRITE, w, r);
    }
    for (int attempt = 0; ; attempt++) {
      try {
        t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
        break;
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED || attempt == 20) {
          throw e;
        }
      }
    }
    recreateSide();
    refresh();
  }

  private void recreateSide() {
    byte[] c = CreateForkRequest.newBuilder().setName("side").setFromFork("main").setFlushFirst(true).build().toByteArray();
    RawCalls.Result r = RawCalls.call(t.channel, method("strata.v1.ForkService/CreateFork"), c, 30_000);
    if (r.status().isOk()) {
      applied("strata.v1.ForkService/CreateFork", c, r);
    }
  }

  private static RawCalls.Method method(String name) {
    return RawCalls.allMethods().stream().filter(m -> m.fullName().equals(name)).findFirst().orElseThrow();
  }

  /** Re-reads forks, snapshots and collections; keeps the fork count bounded. */
  private void refresh() {
    List<Fork> forks = t.forks().listForks(ListForksRequest.newBuilder().setPageSize(1000).build()).getForksList();
    for (Fork f : forks) {
      if (forks.size() > 6 && !f.getName().equals("main") && !f.getName().equals("side")) {
        try {
          String id = t.forks().dropFork(DropForkRequest.newBuilder().setName(f.getName()).build()).getForkId();
          model.remove(id);
        } catch (RuntimeException e) {
          // being dropped already, say; the next refresh tries again
        }
      }
    }
    forks = t.forks().listForks(ListForksRequest.newBuilder().setPageSize(1000).build()).getForksList();
    if (forks.stream().noneMatch(f -> f.getName().equals("side"))) {
      recreateSide();
      forks = t.forks().listForks(ListForksRequest.newBuilder().setPageSize(1000).build()).getForksList();
    }
    forkNames.clear();
    forkIds.clear();
    snapshotIds.clear();
    for (Fork f : forks) {
      forkNames.add(f.getName());
      forkIds.put(f.getName(), f.getId());
      for (Snapshot s :
          t.snapshots().listSnapshots(ListSnapshotsRequest.newBuilder().setFork(f.getName()).setPageSize(20).build()).getSnapshotsList()) {
        snapshotIds.add(s.getId());
      }
    }
    for (String c :
        t.collections().listCollections(ListCollectionsRequest.newBuilder().setPageSize(50).build()).getCollectionsList().stream()
            .map(x -> x.getName())
            .toList()) {
      if (!collections.contains(c)) {
        collections.add(c);
      }
    }
    if (tickets.size() > 50) {
      tickets.subList(0, tickets.size() - 50).clear();
    }
    dictionary.clear();
    dictionary.addAll(forkNames);
    dictionary.addAll(forkIds.values());
    dictionary.addAll(snapshotIds);
    dictionary.addAll(collections);
    dictionary.addAll(tags);
    for (int i = 0; i < 30; i++) {
      dictionary.add("d" + i);
    }
  }

  private <T> T any(List<T> list, T fallback) {
    return list.isEmpty() ? fallback : list.get(random.nextInt(list.size()));
  }

  private String anyFork() {
    return random.nextInt(5) == 0 ? "" : any(forkNames, "main");
  }

  private String anySnapshot() {
    return any(snapshotIds, "");
  }

  private String anyId() {
    return "d" + random.nextInt(30);
  }

  private Document document() {
    Document.Builder d =
        Document.newBuilder()
            .setId(anyId())
            .putFields("body", Value.newBuilder().setStringValue("alpha beta " + random.nextInt(100)).build())
            .putFields("n", Value.newBuilder().setInt64Value(random.nextInt(1000)).build());
    switch (random.nextInt(3)) {
      case 0 -> d.putFields("tag", Value.newBuilder().setStringValue("red").build());
      case 1 -> d.putFields("tag", Value.newBuilder().setStringListValue(StringList.newBuilder().addValues("red").addValues("blue")).build());
      default -> {}
    }
    if (random.nextBoolean()) {
      d.putFields("price", random.nextBoolean()
          ? Value.newBuilder().setDoubleValue(random.nextDouble() * 100).build()
          : Value.newBuilder().setInt64Value(random.nextInt(100)).build());
    }
    if (random.nextInt(4) == 0) {
      d.putFields("extra", Value.newBuilder().setBoolValue(true).build());
    }
    return d.build();
  }

  private byte[] writeTemplate(String fork, String collection) {
    WriteRequest.Builder w = WriteRequest.newBuilder().setFork(fork).setCollection(collection);
    int n = 1 + random.nextInt(5);
    for (int i = 0; i < n; i++) {
      w.addMutations(
          random.nextInt(4) == 0
              ? Mutation.newBuilder().setDeleteId(anyId()).build()
              : Mutation.newBuilder().setPut(document()).build());
    }
    return w.build().toByteArray();
  }

  /** A real, mostly valid request of {@code method} built from what the server has now. */
  private byte[] template(String method) {
    Message m =
        switch (method) {
          case "strata.v1.CollectionService/CreateOrGetCollection" ->
              CreateOrGetCollectionRequest.newBuilder()
                  .setFork(anyFork())
                  .setName(random.nextBoolean() ? "docs" : "c" + random.nextInt(4))
                  .addAllFields(random.nextBoolean() ? TestServer.schema() : TestServer.schema().subList(0, 2))
                  .build();
          case "strata.v1.CollectionService/GetCollection" ->
              GetCollectionRequest.newBuilder().setFork(anyFork()).setName(any(collections, "docs")).setSnapshotId(random.nextBoolean() ? "" : anySnapshot()).build();
          case "strata.v1.CollectionService/ListCollections" ->
              ListCollectionsRequest.newBuilder().setFork(anyFork()).setPageSize(random.nextInt(3)).build();
          case WRITE -> null;
          case "strata.v1.DocumentService/Get" ->
              GetRequest.newBuilder().setFork(anyFork()).setCollection("docs").setId(anyId()).setSnapshotId(random.nextBoolean() ? "" : anySnapshot()).build();
          case "strata.v1.DocumentService/BatchGet" ->
              BatchGetRequest.newBuilder().setFork(anyFork()).setCollection("docs").addIds(anyId()).addIds(anyId()).build();
          case "strata.v1.DocumentService/Scan" ->
              ScanRequest.newBuilder().setFork(anyFork()).setCollection("docs").setIdPrefix(random.nextBoolean() ? "" : "d1").setLimit(random.nextInt(20)).build();
          case "strata.v1.DocumentService/Search" -> search();
          case "strata.v1.FlushService/Flush" -> FlushRequest.newBuilder().setFork(anyFork()).setWait(random.nextBoolean()).build();
          case "strata.v1.FlushService/AwaitFlush" ->
              AwaitFlushRequest.newBuilder().setTicket(any(tickets, FlushTicket.newBuilder().setForkId("main-0000000000000000").setLsn(1).build())).build();
          case WATCH -> WatchSnapshotsRequest.newBuilder().setFork(anyFork()).setAfterSeq(random.nextInt(4) - 1).build();
          case "strata.v1.SnapshotService/ListSnapshots" -> ListSnapshotsRequest.newBuilder().setFork(anyFork()).setPageSize(random.nextInt(5)).build();
          case "strata.v1.SnapshotService/GetSnapshot" ->
              random.nextBoolean()
                  ? GetSnapshotRequest.newBuilder().setSnapshotId(anySnapshot()).build()
                  : GetSnapshotRequest.newBuilder().setTag(any(tags, "t1")).build();
          case "strata.v1.SnapshotService/TagSnapshot" -> TagSnapshotRequest.newBuilder().setSnapshotId(anySnapshot()).setTag("t" + random.nextInt(3)).build();
          case "strata.v1.SnapshotService/DeleteTag" -> DeleteTagRequest.newBuilder().setTag("t" + random.nextInt(3)).build();
          case "strata.v1.SnapshotService/DiffSnapshots" ->
              DiffSnapshotsRequest.newBuilder().setFromSnapshotId(anySnapshot()).setToSnapshotId(anySnapshot()).build();
          case "strata.v1.ForkService/CreateFork" ->
              random.nextBoolean()
                  ? CreateForkRequest.newBuilder().setName("f" + random.nextInt(6)).setFromFork(any(forkNames, "main")).setFlushFirst(random.nextBoolean()).build()
                  : CreateForkRequest.newBuilder().setName("f" + random.nextInt(6)).setFromSnapshotId(anySnapshot()).build();
          case "strata.v1.ForkService/GetFork" -> GetForkRequest.newBuilder().setName(any(forkNames, "main")).build();
          case "strata.v1.ForkService/ListForks" -> ListForksRequest.newBuilder().setPageSize(random.nextInt(4)).build();
          case "strata.v1.ForkService/DropFork" ->
              DropForkRequest.newBuilder().setName(random.nextInt(3) == 0 ? "main" : "f" + random.nextInt(6)).build();
          case "strata.v1.AdminService/Compact" -> CompactRequest.newBuilder().setFork(anyFork()).setForceFullMerge(random.nextBoolean()).build();
          case "strata.v1.AdminService/Stats" -> StatsRequest.newBuilder().addForks(any(forkNames, "main")).build();
          case "strata.v1.AdminService/Verify" -> VerifyRequest.newBuilder().setSkipSegmentChecksums(random.nextBoolean()).build();
          case "grpc.health.v1.Health/Check", HEALTH_WATCH ->
              HealthCheckRequest.newBuilder().setService(random.nextBoolean() ? "" : "strata.v1.DocumentService").build();
          default -> ServerReflectionRequest.newBuilder().setListServices("*").build();
        };
    return m == null ? writeTemplate(anyFork(), random.nextInt(8) == 0 ? "c" + random.nextInt(4) : "docs") : m.toByteArray();
  }

  private SearchRequest search() {
    SearchRequest.Builder s =
        SearchRequest.newBuilder()
            .setFork(anyFork())
            .setCollection("docs")
            .setQuery(List.of("", "alpha", "body:beta", "tag:red", "n:[1 TO 500]", "alpha AND NOT beta").get(random.nextInt(6)))
            .setLimit(random.nextInt(20));
    if (random.nextBoolean()) {
      s.addTermFilters(TermFilter.newBuilder().setField("tag").addValues("red").addValues("blue"));
    }
    if (random.nextBoolean()) {
      s.addRangeFilters(RangeFilter.newBuilder().setField("n").setLower(RangeBound.newBuilder().setLongValue(10)));
    }
    if (random.nextBoolean()) {
      s.setSort(SortField.newBuilder().setField(random.nextBoolean() ? "n" : "price").setOrder(SortOrder.SORT_ORDER_DESCENDING));
    }
    if (random.nextInt(4) == 0) {
      s.setWaitFor(WaitFor.WAIT_FOR_FLUSHED);
    }
    return s.build();
  }

  // ---------------------------------------------------------------- afterwards

  /** The differences between a scan and the model, one line per document. */
  private static List<String> diff(Map<String, Map<String, Document>> actual, Map<String, Map<String, Document>> want) {
    List<String> out = new ArrayList<>();
    java.util.Set<String> cols = new java.util.TreeSet<>(actual.keySet());
    cols.addAll(want.keySet());
    for (String c : cols) {
      Map<String, Document> a = actual.getOrDefault(c, Map.of());
      Map<String, Document> w = want.getOrDefault(c, Map.of());
      java.util.Set<String> ids = new java.util.TreeSet<>(a.keySet());
      ids.addAll(w.keySet());
      for (String id : ids) {
        Document x = a.get(id);
        Document y = w.get(id);
        if (x == null) {
          out.add(c + "/" + id + ": missing; the model has " + oneLine(y));
        } else if (y == null) {
          out.add(c + "/" + id + ": present but the model has none: " + oneLine(x));
        } else if (!x.equals(y)) {
          out.add(c + "/" + id + ": " + oneLine(x) + " but the model has " + oneLine(y));
        }
      }
    }
    return out;
  }

  private static String oneLine(Document d) {
    return StatusMapper.capped(d.toString().replaceAll("\\s+", " "), 300);
  }

  private void afterwards() {
    HealthCheckResponse h = HealthGrpc.newBlockingStub(t.channel).withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
    assertThat(h.getStatus()).as("health after the fuzz").isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    VerifyResponse v = t.admin().verify(VerifyRequest.getDefaultInstance());
    assertThat(v.getProblemsList()).as("Verify after the fuzz").isEmpty();
    int checked = 0;
    for (Fork f : t.forks().listForks(ListForksRequest.newBuilder().setPageSize(1000).build()).getForksList()) {
      Map<String, Map<String, Document>> expected = model.get(f.getId());
      if (expected == null) {
        continue;
      }
      Map<String, Map<String, Document>> actual = new LinkedHashMap<>();
      ListCollectionsResponse cols =
          t.collections().listCollections(ListCollectionsRequest.newBuilder().setFork(f.getName()).setPageSize(1000).build());
      for (var c : cols.getCollectionsList()) {
        Map<String, Document> docs = new TreeMap<>();
        Iterator<dev.strata.api.v1.ScanResponse> it =
            t.documents().scan(ScanRequest.newBuilder().setFork(f.getName()).setCollection(c.getName()).build());
        while (it.hasNext()) {
          it.next().getDocumentsList().forEach(d -> docs.put(d.getId(), d));
        }
        if (!docs.isEmpty()) {
          actual.put(c.getName(), docs);
        }
      }
      Map<String, Map<String, Document>> want = new LinkedHashMap<>();
      expected.forEach((c, docs) -> {
        if (!docs.isEmpty()) {
          want.put(c, docs);
        }
      });
      assertThat(diff(actual, want))
          .as("fork %s (%s): scan vs. the model of accepted writes (seed %d)", f.getName(), f.getId(), SEED)
          .isEmpty();
      checked++;
    }
    assertThat(checked).as("forks checked against the model").isPositive();
  }
}
