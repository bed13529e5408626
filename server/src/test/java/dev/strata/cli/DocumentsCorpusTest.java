package dev.strata.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.e2e.CorpusFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * {@code load}'s parser (Jackson's streaming parser in {@link Documents}) on every line of the real
 * corpus, ../shared/data/debian-packages.jsonl.gz, with the README's schema; each document is
 * checked field by field against an independent parser (Gson). Skipped without the corpus unless
 * STRATA_REQUIRE_CORPUS=1 (set by .ci/run).
 */
class DocumentsCorpusTest {

  @Test
  void everyLineOfTheCorpusParsesToTheSameDocumentAsAnotherParserReadsIt() throws Exception {
    Path corpus = CorpusFiles.corpus();
    if ("1".equals(System.getenv("STRATA_REQUIRE_CORPUS"))) {
      assertThat(corpus).as("../shared/data/debian-packages.jsonl.gz").isNotNull();
    }
    assumeTrue(corpus != null, "corpus ../shared/data/debian-packages.jsonl.gz not found");
    Documents docs =
        new Documents(
            "id",
            List.of(
                field("summary", FieldKind.FIELD_KIND_TEXT),
                field("description", FieldKind.FIELD_KIND_TEXT),
                field("section", FieldKind.FIELD_KIND_KEYWORD),
                field("priority", FieldKind.FIELD_KIND_KEYWORD),
                field("maintainer", FieldKind.FIELD_KIND_KEYWORD),
                field("installed_size_kib", FieldKind.FIELD_KIND_LONG)));
    long lines = 0;
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(new GZIPInputStream(Files.newInputStream(corpus), 1 << 16), StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        lines++;
        Document d = docs.parse(line);
        JsonObject expected = JsonParser.parseString(line).getAsJsonObject();
        assertThat(d.getId()).isEqualTo(expected.get("id").getAsString());
        int fields = 0;
        for (Map.Entry<String, JsonElement> e : expected.entrySet()) {
          if (e.getKey().equals("id") || e.getValue().isJsonNull()) {
            continue;
          }
          fields++;
          var v = d.getFieldsMap().get(e.getKey());
          assertThat(v).as("line %d field %s", lines, e.getKey()).isNotNull();
          if (e.getKey().equals("installed_size_kib")) {
            assertThat(v.getInt64Value()).as("line %d", lines).isEqualTo(e.getValue().getAsLong());
          } else {
            assertThat(v.getStringValue()).as("line %d field %s", lines, e.getKey()).isEqualTo(e.getValue().getAsString());
          }
        }
        assertThat(d.getFieldsCount()).as("line %d", lines).isEqualTo(fields);
      }
    }
    assertThat(lines).isEqualTo(63_666);
  }

  private static FieldSchema field(String name, FieldKind kind) {
    return FieldSchema.newBuilder().setName(name).setKind(kind).build();
  }
}
