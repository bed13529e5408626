package dev.strata.bench.compaction;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.wal.Durability;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the compaction soak for a few seconds per side on a small generated corpus and checks what
 * it measured is real: documents written and read back, segments sampled, compactions published
 * in the ON side only, latencies recorded, and the files written. No timing is asserted (CI would
 * turn flaky).
 */
class CompactionSoakSmokeTest {
  @TempDir Path tmp;

  @Test
  void bothSidesMeasureAndWriteTheirOutputs() throws Exception {
    Path corpus = tmp.resolve("tiny.jsonl.gz");
    writeCorpus(corpus, 150);
    Path scratch = Files.createDirectories(tmp.resolve("scratch"));
    CompactionSoak.Config config =
        new CompactionSoak.Config(5, 1, 600, 2, 5, Durability.ASYNC, 200, 200, List.of(true, false),
            // merge any two tiny segments, so a compaction runs even if a loaded CI machine flushes
            // only a few times
            CompactionOptions.defaults().withMergeFactor(2).withMaxSegments(2).withCheckIntervalMs(200),
            0, 50, 400, 0.5,
            List.of("synthetic", "widget OR gadget"));

    CompactionSoak.Report report = new CompactionSoak(config, scratch, corpus).run();

    assertThat(report.corpusDocs()).isEqualTo(150);
    assertThat(report.sides()).extracting(CompactionSoak.Side::compaction).containsExactly(true, false);
    for (CompactionSoak.Side s : report.sides()) {
      assertThat(s.firstError()).as("%s first error", s.name()).isNull();
      assertThat(s.docs()).as("%s docs", s.name()).isGreaterThan(150); // past one pass: replayed ids
      assertThat(s.writes()).isEqualTo(s.docs() / config.batchDocs());
      assertThat(s.write().count()).isEqualTo(s.writes());
      assertThat(s.writeFromDue().count()).isEqualTo(s.writes());
      assertThat(s.write().p50Us()).isPositive();
      assertThat(s.write().p50Us()).isLessThanOrEqualTo(s.write().p99Us());
      assertThat(s.write().p99Us()).isLessThanOrEqualTo(s.write().p999Us());
      assertThat(s.write().p999Us()).isLessThanOrEqualTo(s.write().maxUs());
      assertThat(s.samples()).hasSizeGreaterThanOrEqualTo(20); // 5 s / 200 ms, plus t=0
      assertThat(s.samples().getLast().docs()).isPositive();
      assertThat(s.samples()).anyMatch(x -> x.segments() > 0);
      assertThat(s.flushesPublished()).isGreaterThanOrEqualTo(2);
      assertThat(s.get().count()).isEqualTo(400);
      assertThat(s.getMisses()).as("acknowledged ids not found by %s", s.name()).isZero();
      assertThat(s.searchQueries()).isPositive();
      assertThat(s.searchesWithoutHits()).isZero();
    }
    CompactionSoak.Side on = report.side(true);
    CompactionSoak.Side off = report.side(false);
    assertThat(on.compactionsPublished()).isPositive();
    assertThat(on.compactionBytesWritten()).isPositive();
    assertThat(on.writeAmp()).isGreaterThan(1.0);
    assertThat(off.compactionsPublished()).isZero();
    assertThat(off.compactionBytesWritten()).isZero();
    assertThat(off.writeAmp()).isEqualTo(1.0);
    assertThat(off.samples()).allMatch(x -> x.compactions() == 0);
    for (int i = 1; i < off.samples().size(); i++) { // nothing ever merged: the head only grows
      assertThat(off.samples().get(i).segments()).isGreaterThanOrEqualTo(off.samples().get(i - 1).segments());
    }
    assertThat(scratch).isEmptyDirectory();

    String md = CompactionSoak.markdown(report);
    assertThat(md).contains("| compaction-on |", "| compaction-off |", "write p99 on/off");

    PrintStream stdout = System.out;
    System.setOut(new PrintStream(OutputStream.nullOutputStream()));
    try {
      CompactionSoak.writeOutputs(report, tmp.resolve("out/soak"));
    } finally {
      System.setOut(stdout);
    }
    String json = Files.readString(tmp.resolve("out/soak.json"));
    assertThat(json).startsWith("{").contains("\"sides\"", "\"compaction-on\"").doesNotContain("NaN");
    List<String> csv = Files.readAllLines(tmp.resolve("out/soak.csv"));
    assertThat(csv.getFirst()).startsWith("side,t_s,docs,segments");
    assertThat(csv).hasSize(1 + on.samples().size() + off.samples().size());
    for (String png : List.of("soak-segments.png", "soak-write-p99.png")) {
      var img = ImageIO.read(tmp.resolve("out").resolve(png).toFile());
      assertThat(img).as(png).isNotNull();
      assertThat(img.getWidth()).isEqualTo(1000);
    }
  }

  @Test
  void corpusReplaysUnderNewIdsAndParsesJsonEscapes() throws Exception {
    Path corpus = tmp.resolve("two.jsonl");
    Files.writeString(corpus,
        "{\"id\": \"a+b\", \"summary\": \"say \\\"hi\\\"\\n\\u00e9\", \"installed_size_kib\": 12, \"x\": null}\n"
            + "\n{\"id\":\"c\",\"summary\":\"two\",\"ratio\":-1.5e0,\"flag\":true}\n");
    Corpus c = Corpus.load(corpus, 0);
    assertThat(c.size()).isEqualTo(2);
    assertThat(c.id(0)).isEqualTo("a+b");
    assertThat(c.id(3)).isEqualTo("c~r1");
    assertThat(c.id(4)).isEqualTo("a+b~r2");
    var d = c.document(2);
    assertThat(d.id()).isEqualTo("a+b~r1");
    assertThat(d.fields()).containsKeys("summary", "installed_size_kib").doesNotContainKey("x");
    assertThat(d.fields().get("summary").toString()).contains("say \"hi\"\né");
    assertThat(Corpus.load(corpus, 1).size()).isEqualTo(1);
  }

  private static void writeCorpus(Path file, int n) throws Exception {
    String[] words = {"widget", "gadget", "library", "editor", "daemon", "kernel", "tool", "client"};
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
      for (int i = 0; i < n; i++) {
        String line = String.format(
            "{\"id\": \"pkg-%d\", \"section\": \"s%d\", \"priority\": \"optional\", \"maintainer\": \"m <m@x>\","
                + " \"summary\": \"synthetic %s %s\", \"description\": \"A synthetic package number %d: %s %s %s.\","
                + " \"installed_size_kib\": %d}%n",
            i, i % 7, words[i % words.length], words[(i / 8) % words.length], i, words[(i * 3) % words.length],
            words[(i * 5) % words.length], "x".repeat(200 + i % 300), 100 + i);
        out.write(line.getBytes(StandardCharsets.UTF_8));
      }
    }
  }
}
