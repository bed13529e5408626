package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentChange;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.api.v1.WriteRequest;
import dev.strata.server.ServerConfig;
import dev.strata.server.StrataServer;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-way merge over the Debian corpus (its first 5,000 packages) through gRPC: a fork and
 * {@code main} change disjoint sets of documents (updates, deletes, new documents on both sides);
 * the merge equals applying both change sets to the base, at the head and after the flush, and
 * main's change feed from before the merge, applied to the state there, equals Scan at the head.
 */
class CorpusMergeTest {
  private static final String C = "packages";
  private static final int DOCS = 5000;

  @TempDir Path dir;

  @Test
  void aThreeWayMergeOfDisjointChangesOverTheCorpusEqualsApplyingBoth() throws Exception {
    Path corpus = CorpusFiles.corpus();
    assumeTrue(corpus != null, "corpus ../shared/data/debian-packages.jsonl.gz not found");
    List<Document> base = read(corpus);
    StrataServer server =
        StrataServer.start(
            ServerConfig.load(null, Map.of(), Map.of("data_dir", dir.toString(), "listen", "127.0.0.1:0", "flush.interval", "off")));
    ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().maxInboundMessageSize(64 << 20).build();
    try {
      var collections = CollectionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
      var documents = DocumentServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS);
      var forks = ForkServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS);
      collections.createOrGetCollection(
          CreateOrGetCollectionRequest.newBuilder()
              .setName(C)
              .addFields(FieldSchema.newBuilder().setName("summary").setKind(FieldKind.FIELD_KIND_TEXT))
              .addFields(FieldSchema.newBuilder().setName("section").setKind(FieldKind.FIELD_KIND_KEYWORD))
              .addFields(FieldSchema.newBuilder().setName("installed_size_kib").setKind(FieldKind.FIELD_KIND_LONG))
              .build());
      Map<String, Document> expected = new TreeMap<>();
      write(documents, "main", base, List.of());
      base.forEach(d -> expected.put(d.getId(), d));
      forks.createFork(CreateForkRequest.newBuilder().setName("cleanup").setFromFork("main").setFlushFirst(true).build());

      // The fork rewrites every tenth package's summary, deletes every 50th, adds 100 packages;
      // main rewrites other packages and adds its own. No key is changed on both sides.
      List<Document> forkPuts = new ArrayList<>();
      List<String> forkDeletes = new ArrayList<>();
      List<Document> mainPuts = new ArrayList<>();
      for (int i = 0; i < base.size(); i++) {
        Document d = base.get(i);
        if (i % 10 == 1) {
          forkPuts.add(withSummary(d, "reworded on the fork: " + summary(d)));
        } else if (i % 50 == 3) {
          forkDeletes.add(d.getId());
        } else if (i % 10 == 2) {
          mainPuts.add(withSummary(d, "edited on main: " + summary(d)));
        }
      }
      for (int i = 0; i < 100; i++) {
        forkPuts.add(withSummary(base.get(i).toBuilder().setId("fork-new-" + i).build(), "new on the fork " + i));
        mainPuts.add(withSummary(base.get(i).toBuilder().setId("main-new-" + i).build(), "new on main " + i));
      }
      write(documents, "cleanup", forkPuts, forkDeletes);
      String beforeMerge = flush(channel, "main");
      write(documents, "main", mainPuts, List.of());
      forkPuts.forEach(d -> expected.put(d.getId(), d));
      forkDeletes.forEach(expected::remove);
      mainPuts.forEach(d -> expected.put(d.getId(), d));
      Map<String, Document> atBeforeMerge = scan(documents, beforeMerge);

      MergeForkResponse r = forks.mergeFork(MergeForkRequest.newBuilder().setSource("cleanup").setFlushSource(true).build());
      assertThat(r.getOutcome()).isEqualTo(MergeOutcome.MERGE_OUTCOME_THREE_WAY);
      assertThat(r.getConflictCount()).isZero();
      assertThat(r.getDocumentsPut()).isEqualTo(forkPuts.size());
      assertThat(r.getDocumentsDeleted()).isEqualTo(forkDeletes.size());
      assertThat(scan(documents, "")).as("at the head, at once").isEqualTo(expected);
      String merged =
          FlushServiceGrpc.newBlockingStub(channel)
              .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(r.getTicket()).build())
              .getSnapshot()
              .getId();
      assertThat(scan(documents, merged)).as("in the snapshot that holds the merge").isEqualTo(expected);

      // The change feed from before the merge reproduces main's state.
      var it =
          SnapshotServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(120, TimeUnit.SECONDS)
              .watchChanges(WatchChangesRequest.newBuilder().setAfterSnapshotId(beforeMerge).build());
      Map<String, Document> fed = new TreeMap<>(atBeforeMerge);
      while (it.hasNext()) {
        WatchChangesResponse m = it.next();
        for (DocumentChange ch : m.getChangesList()) {
          if (ch.hasDocument()) {
            fed.put(ch.getId(), ch.getDocument());
          } else {
            fed.remove(ch.getId());
          }
        }
      }
      assertThat(fed).isEqualTo(expected);
    } finally {
      channel.shutdownNow();
      server.shutdown(Duration.ofSeconds(30));
    }
  }

  private static String flush(ManagedChannel channel, String fork) {
    var flushes = FlushServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS);
    var ticket = flushes.flush(FlushRequest.newBuilder().setFork(fork).build()).getTicket();
    return flushes.awaitFlush(AwaitFlushRequest.newBuilder().setTicket(ticket).build()).getSnapshot().getId();
  }

  private static void write(DocumentServiceGrpc.DocumentServiceBlockingStub documents, String fork, List<Document> puts, List<String> deletes) {
    List<Mutation> all = new ArrayList<>();
    puts.forEach(d -> all.add(Mutation.newBuilder().setPut(d).build()));
    deletes.forEach(id -> all.add(Mutation.newBuilder().setDeleteId(id).build()));
    for (int from = 0; from < all.size(); from += 500) {
      documents.write(
          WriteRequest.newBuilder().setFork(fork).setCollection(C).addAllMutations(all.subList(from, Math.min(all.size(), from + 500))).build());
    }
  }

  private static Map<String, Document> scan(DocumentServiceGrpc.DocumentServiceBlockingStub documents, String snapshotId) {
    Map<String, Document> out = new TreeMap<>();
    documents
        .scan(ScanRequest.newBuilder().setCollection(C).setSnapshotId(snapshotId).build())
        .forEachRemaining(r -> r.getDocumentsList().forEach(d -> out.put(d.getId(), d)));
    return out;
  }

  private static String summary(Document d) {
    return d.getFieldsOrThrow("summary").getStringValue();
  }

  private static Document withSummary(Document d, String summary) {
    return d.toBuilder().putFields("summary", Value.newBuilder().setStringValue(summary).build()).build();
  }

  private static String text(JsonObject o, String name) {
    return o.has(name) && !o.get(name).isJsonNull() ? o.get(name).getAsString() : "";
  }

  /** The first {@value #DOCS} packages: id, summary, section, installed size. */
  private static List<Document> read(Path corpus) throws Exception {
    List<Document> out = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(corpus)), StandardCharsets.UTF_8))) {
      String line;
      while (out.size() < DOCS && (line = r.readLine()) != null) {
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        Document.Builder d =
            Document.newBuilder()
                .setId(o.get("id").getAsString())
                .putFields("summary", Value.newBuilder().setStringValue(text(o, "summary")).build())
                .putFields("section", Value.newBuilder().setStringValue(text(o, "section")).build());
        if (o.has("installed_size_kib") && !o.get("installed_size_kib").isJsonNull()) {
          d.putFields("installed_size_kib", Value.newBuilder().setInt64Value(o.get("installed_size_kib").getAsLong()).build());
        }
        out.add(d.build());
      }
    }
    return out;
  }
}
