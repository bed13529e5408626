package dev.strata.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.SnapshotStats;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pieces of the CLI that need no server: JSON in and out, value typing, formats, usage exit codes. */
class CliUnitsTest {

  @Test
  void jsonParsesWhatTheCorpusHolds() {
    Documents docs = new Documents("id", List.of());
    Document d =
        docs.parse(
            "{\"id\": \"0ad\", \"n\": 28591, \"big\": 123456789012345678901234567890, \"x\": -1.5e3,"
                + " \"t\": true, \"nil\": null, \"arr\": [\"a\", \"b\\\"c\"], \"o\": {\"k\": []},"
                + " \"u\": \"caf\\u00e9 \\n\", \"mixed\": [1, {\"k\": null}]}");
    Map<String, Value> f = d.getFieldsMap();
    assertThat(d.getId()).isEqualTo("0ad");
    assertThat(f.get("n").getInt64Value()).isEqualTo(28591L);
    assertThat(f.get("big").getStringValue()).isEqualTo("123456789012345678901234567890");
    assertThat(f.get("x").getDoubleValue()).isEqualTo(-1500.0);
    assertThat(f.get("t").getBoolValue()).isTrue();
    assertThat(f).doesNotContainKey("nil");
    assertThat(f.get("arr").getStringListValue().getValuesList()).containsExactly("a", "b\"c");
    assertThat(f.get("o").getStringValue()).isEqualTo("{\"k\":[]}");
    assertThat(f.get("u").getStringValue()).isEqualTo("café \n");
    assertThat(f.get("mixed").getStringValue()).isEqualTo("[1,{\"k\":null}]");
    // a repeated key: the last one wins, a later null removes the field
    Document twice = docs.parse("{\"id\": \"a\", \"k\": 1, \"k\": 2, \"g\": 1, \"g\": null}");
    assertThat(twice.getFieldsMap().get("k").getInt64Value()).isEqualTo(2);
    assertThat(twice.getFieldsMap()).doesNotContainKey("g");
  }

  @Test
  void jsonRejectsMalformedInputWithAPosition() {
    Documents docs = new Documents("id", List.of());
    for (String bad :
        List.of("{", "{\"a\" 1}", "{\"a\":01}", "{\"id\": \"unterminated}", "{\"id\":\"x\"} x", "{\"id\":tru}", "{\"a\":1,}", "{\"id\":\"a\"}{}")) {
      assertThatThrownBy(() -> docs.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("invalid JSON at character ");
    }
    assertThatThrownBy(() -> docs.parse("not json")).hasMessageStartingWith("invalid JSON at character 1: ");
    assertThatThrownBy(() -> docs.parse("[1]")).hasMessage("expected a JSON object, got an array");
    assertThatThrownBy(() -> docs.parse("{\"id\": 1.5}"))
        .hasMessage("field 'id' (the document id) must be a string, not a number");
  }

  @Test
  void jsonOutputIsReadByGson() {
    String out =
        JsonOutput.write(
            Map.of(
                "s", "quote \" backslash \\ newline \n tab \t ctl \u0001",
                "l", 9007199254740993L,
                "d", 2.0,
                "list", List.of(1, "two", false)));
    JsonObject o = JsonParser.parseString(out).getAsJsonObject();
    assertThat(o.get("s").getAsString()).isEqualTo("quote \" backslash \\ newline \n tab \t ctl \u0001");
    assertThat(o.get("l").getAsLong()).isEqualTo(9007199254740993L);
    assertThat(o.get("d").getAsDouble()).isEqualTo(2.0);
    assertThat(o.get("list").getAsJsonArray()).hasSize(3);
    assertThat(out).doesNotContain("\n");
  }

  @Test
  void documentsAreTypedByTheSchema() {
    Documents docs =
        new Documents(
            "id",
            List.of(
                field("summary", FieldKind.FIELD_KIND_TEXT),
                field("section", FieldKind.FIELD_KIND_KEYWORD),
                field("installed_size_kib", FieldKind.FIELD_KIND_LONG),
                field("score", FieldKind.FIELD_KIND_DOUBLE)));
    Document d =
        docs.parse(
            "{\"id\": 42, \"summary\": \"Vi IMproved\", \"section\": [\"editors\", 7],"
                + " \"installed_size_kib\": 3.0, \"score\": 1, \"homepage\": null,"
                + " \"tags\": [\"a\", \"b\"], \"flag\": true, \"n\": 5, \"f\": 0.5, \"obj\": {\"k\": 1}}");
    assertThat(d.getId()).isEqualTo("42");
    Map<String, Value> f = d.getFieldsMap();
    assertThat(f).doesNotContainKeys("id", "homepage");
    assertThat(f.get("summary").getStringValue()).isEqualTo("Vi IMproved");
    assertThat(f.get("section").getStringListValue().getValuesList()).containsExactly("editors", "7");
    assertThat(f.get("installed_size_kib").getInt64Value()).isEqualTo(3);
    assertThat(f.get("score").getDoubleValue()).isEqualTo(1.0);
    assertThat(f.get("tags").getStringListValue().getValuesList()).containsExactly("a", "b");
    assertThat(f.get("flag").getBoolValue()).isTrue();
    assertThat(f.get("n").getInt64Value()).isEqualTo(5);
    assertThat(f.get("f").getDoubleValue()).isEqualTo(0.5);
    assertThat(f.get("obj").getStringValue()).isEqualTo("{\"k\":1}");
    assertThat(docs.parse("{\"id\": \"s\", \"installed_size_kib\": \" 42 \"}").getFieldsMap().get("installed_size_kib").getInt64Value())
        .isEqualTo(42);
    assertThatThrownBy(() -> docs.parse("{\"id\": \"x\", \"section\": {\"a\": 1}}"))
        .hasMessage("field 'section' is KEYWORD and needs a string, got {\"a\":1}");

    assertThatThrownBy(() -> docs.parse("{\"id\": \"x\", \"installed_size_kib\": \"big\"}"))
        .hasMessageContaining("installed_size_kib")
        .hasMessageContaining("LONG");
    assertThatThrownBy(() -> docs.parse("{\"name\": \"x\"}")).hasMessageContaining("no 'id' field");
  }

  @Test
  void messagesArePrintedByJsonFormatWithNumbersAndPlainValues() {
    Snapshot s =
        Snapshot.newBuilder()
            .setId("main.3f9a0c21-000000000007")
            .setSeq(7)
            .setKind(SnapshotKind.SNAPSHOT_KIND_FLUSH)
            .setStats(SnapshotStats.newBuilder().setDocCount(63666))
            .setCreateTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(1_800_000_000))
            .addTags("v1")
            .build();
    String json = JsonOutput.write(s);
    JsonObject o = JsonParser.parseString(json).getAsJsonObject();
    assertThat(o.get("id").getAsString()).isEqualTo("main.3f9a0c21-000000000007");
    assertThat(o.get("seq").getAsJsonPrimitive().isNumber()).isTrue();
    assertThat(o.get("seq").getAsLong()).isEqualTo(7);
    assertThat(o.get("kind").getAsString()).isEqualTo("SNAPSHOT_KIND_FLUSH");
    assertThat(o.getAsJsonObject("stats").get("docCount").getAsJsonPrimitive().isNumber()).isTrue();
    assertThat(o.getAsJsonObject("stats").get("docCount").getAsLong()).isEqualTo(63666);
    assertThat(o.get("createTime").getAsString()).isEqualTo("2027-01-15T08:00:00Z");
    assertThat(o.get("parentId").getAsString()).isEmpty();
    assertThat(o.get("tags").getAsJsonArray().get(0).getAsString()).isEqualTo("v1");
    assertThat(json).doesNotContain("\n");

    Document d =
        Document.newBuilder()
            .setId("vim")
            .putFields("n", Value.newBuilder().setInt64Value(Long.MAX_VALUE).build())
            .putFields("s", Value.newBuilder().setStringValue("x").build())
            .putFields("d", Value.newBuilder().setDoubleValue(1.5).build())
            .putFields("b", Value.newBuilder().setBoolValue(true).build())
            .putFields("l", Value.newBuilder().setStringListValue(StringList.newBuilder().addValues("a").addValues("b")).build())
            .putFields("e", Value.newBuilder().setStringListValue(StringList.getDefaultInstance()).build())
            .putFields("none", Value.getDefaultInstance())
            .build();
    String dj = JsonOutput.write(Map.of("document", d, "count", 1));
    JsonObject fields = JsonParser.parseString(dj).getAsJsonObject().getAsJsonObject("document").getAsJsonObject("fields");
    assertThat(fields.get("n").getAsLong()).isEqualTo(Long.MAX_VALUE);
    assertThat(fields.get("s").getAsString()).isEqualTo("x");
    assertThat(fields.get("d").getAsDouble()).isEqualTo(1.5);
    assertThat(fields.get("b").getAsBoolean()).isTrue();
    assertThat(fields.get("l").getAsJsonArray()).hasSize(2);
    assertThat(fields.get("e").getAsJsonArray()).isEmpty();
    assertThat(fields.get("none").isJsonNull()).isTrue();
    assertThat(fields.keySet()).containsExactly("b", "d", "e", "l", "n", "none", "s"); // sorted
  }

  @Test
  void durationsAndSizes() {
    assertThat(Format.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(Format.parseDuration("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Format.parseDuration("1m30s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Format.parseDuration("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(Format.parseDuration("PT2M")).isEqualTo(Duration.ofMinutes(2));
    assertThat(Format.parseDuration("10")).isEqualTo(Duration.ofSeconds(10));
    assertThatThrownBy(() -> Format.parseDuration("soon")).isInstanceOf(IllegalArgumentException.class);
    assertThat(Format.parseSize("64MiB")).isEqualTo(64L << 20);
    assertThat(Format.parseSize("2m")).isEqualTo(2L << 20);
    assertThat(Format.parseSize("4096")).isEqualTo(4096);
    assertThat(Format.duration(Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(Format.bytes(1536)).isEqualTo("1.50 KiB");
    assertThat(Format.count(63666)).isEqualTo("63,666");
  }

  @Test
  void usageErrorsExitWith2WithoutTouchingTheNetwork() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    PrintWriter o = new PrintWriter(out, true);
    PrintWriter e = new PrintWriter(err, true);
    assertThat(StrataCli.run(o, e, "search", "--no-such-flag", "-c", "x")).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown option: '--no-such-flag'");
    assertThat(StrataCli.run(o, e, "frobnicate")).isEqualTo(2);
    assertThat(StrataCli.run(o, e)).isEqualTo(2);
    assertThat(StrataCli.run(o, e, "fork")).isEqualTo(2);
    assertThat(StrataCli.run(o, e, "await", "not-a-ticket")).isEqualTo(2);
    assertThat(StrataCli.run(o, e, "--timeout", "soon", "stats")).isEqualTo(2);
    assertThat(StrataCli.run(o, e, "search", "-c", "x", "--range", "size")).isEqualTo(2);
    assertThat(StrataCli.run(o, e, "--help")).isEqualTo(0);
    assertThat(out.toString()).contains("Usage: strata").contains("Exit codes");
  }

  private static FieldSchema field(String name, FieldKind kind) {
    return FieldSchema.newBuilder().setName(name).setKind(kind).build();
  }
}
