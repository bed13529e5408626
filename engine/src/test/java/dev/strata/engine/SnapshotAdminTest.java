package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tags, diffs between snapshots of a fork and its base, verify, and fork-from-tag. */
class SnapshotAdminTest {
  @TempDir Path dir;
  EngineFixture fx;

  @BeforeEach
  void open() throws Exception {
    fx = new EngineFixture(dir, EngineFixture.testOptions().build());
  }

  @AfterEach
  void close() {
    fx.close();
  }

  private static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(1000)).get(20, TimeUnit.SECONDS);
  }

  @Test
  void tagsResolveSurviveReopenAndGoWithTheirFork() throws Exception {
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("a", "one", "t", 1)), Durability.SYNC);
    Manifest s1 = flush(main);
    fx.engine.tagSnapshot(s1.getId(), "v1");
    assertThat(fx.engine.resolveSnapshotRef("v1")).isEqualTo(s1.getId());
    assertThat(fx.engine.tagsOf(s1.getId())).containsExactly("v1");
    assertThatThrownBy(() -> fx.engine.tagSnapshot("main-nope-000000000009", "x"))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.NOT_FOUND);
    assertThatThrownBy(() -> fx.engine.tagSnapshot(s1.getId(), "../bad"))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.INVALID_ARGUMENT);

    Fork feature = fx.engine.createFork("feature", "v1", null, false, 1000);
    feature.write("docs", put(doc("b", "two", "t", 2)), Durability.SYNC);
    Manifest f1 = flush(feature);
    fx.engine.tagSnapshot(f1.getId(), "feature-tip");
    fx.reopen();
    assertThat(fx.engine.tags()).containsOnlyKeys("v1", "feature-tip");
    fx.engine.dropFork("feature", 10_000);
    assertThat(fx.engine.tags()).containsOnlyKeys("v1");
    fx.engine.deleteTag("v1");
    assertThatThrownBy(() -> fx.engine.deleteTag("v1"))
        .extracting(e -> ((StrataException) e).kind())
        .isEqualTo(StrataException.Kind.NOT_FOUND);
  }

  @Test
  void diffBetweenAForkAndItsBaseListsAddedChangedAndDeleted() throws Exception {
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("keep", "same", "t", 1), doc("edit", "before", "t", 1), doc("gone", "bye", "t", 1)), Durability.SYNC);
    Manifest base = flush(main);
    Fork feature = fx.engine.createFork("feature", base.getId(), null, false, 1000);
    feature.write("docs", put(doc("edit", "after", "t", 2), doc("new", "hello", "t", 2)), Durability.SYNC);
    feature.write("docs", List.of(new Mutation.Delete("gone")), Durability.SYNC);
    Manifest tip = flush(feature);

    List<String> out = new ArrayList<>();
    long n = fx.engine.diff(base.getId(), tip.getId(), e -> out.add(e.change() + " " + e.id()));
    assertThat(out).containsExactly("CHANGED edit", "DELETED gone", "ADDED new");
    assertThat(n).isEqualTo(3);
    List<SnapshotDiff.Entry> first = new ArrayList<>();
    fx.engine.diff(base.getId(), tip.getId(), e -> !first.add(e));
    assertThat(first).as("the sink can stop the stream").hasSize(1);
    assertThat(fx.engine.fork("main").get("docs", "gone")).as("main unchanged").isNotNull();
  }

  @Test
  void verifyFindsNothingOnAHealthyStoreAndNamesADamagedSegment() throws Exception {
    Fork main = fx.engine.fork("main");
    main.createOrGetCollection("docs", SCHEMA);
    main.write("docs", put(doc("a", "one", "t", 1)), Durability.SYNC);
    Manifest m = flush(main);
    assertThat(fx.engine.verify()).isEmpty();
    String segHex = m.getSegments(0).getSegmentId();
    Path lucene = dir.resolve("segments").resolve(segHex).resolve("lucene");
    try (Stream<Path> files = Files.list(lucene)) {
      Path victim = files.filter(p -> p.getFileName().toString().endsWith(".cfs")).findFirst().orElseThrow();
      byte[] bytes = Files.readAllBytes(victim);
      bytes[bytes.length / 2] ^= 0x5a;
      Files.write(victim, bytes);
    }
    assertThat(fx.engine.verify()).anySatisfy(p -> assertThat(p).contains(segHex));
  }
}
