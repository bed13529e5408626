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
import dev.strata.api.v1.Value;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pieces of the CLI that need no server: JSON, value typing, formats, usage exit codes. */
class CliUnitsTest {

  @Test
  void jsonParsesWhatTheCorpusHolds() {
    Map<String, Object> m =
        Json.parseObject(
            "{\"id\": \"0ad\", \"n\": 28591, \"big\": 123456789012345678901234567890, \"x\": -1.5e3,"
                + " \"t\": true, \"nil\": null, \"arr\": [\"a\", \"b\\\"c\"], \"o\": {\"k\": []},"
                + " \"u\": \"caf\\u00e9 \\n\"}");
    assertThat(m.get("id")).isEqualTo("0ad");
    assertThat(m.get("n")).isEqualTo(28591L);
    assertThat(m.get("big")).isInstanceOf(java.math.BigInteger.class);
    assertThat(m.get("x")).isEqualTo(-1500.0);
    assertThat(m.get("t")).isEqualTo(true);
    assertThat(m).containsKey("nil");
    assertThat(m.get("nil")).isNull();
    assertThat(m.get("arr")).isEqualTo(List.of("a", "b\"c"));
    assertThat(m.get("u")).isEqualTo("café \n");
    assertThat(m.keySet()).containsExactly("id", "n", "big", "x", "t", "nil", "arr", "o", "u");
  }

  @Test
  void jsonRejectsMalformedInputWithAPosition() {
    for (String bad : List.of("{", "{\"a\" 1}", "[1,]", "{\"a\":01}", "\"unterminated", "{} x", "tru", "{\"a\":1,}")) {
      assertThatThrownBy(() -> Json.parse(bad))
          .as(bad)
          .isInstanceOf(Json.JsonException.class)
          .hasMessageContaining("invalid JSON at character");
    }
  }

  @Test
  void jsonWriterOutputIsReadByGson() {
    String out =
        Json.write(
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
    assertThat(Json.parse(out)).isEqualTo(Json.parse(Json.pretty(Json.parse(out))));
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

    assertThatThrownBy(() -> docs.parse("{\"id\": \"x\", \"installed_size_kib\": \"big\"}"))
        .hasMessageContaining("installed_size_kib")
        .hasMessageContaining("LONG");
    assertThatThrownBy(() -> docs.parse("{\"name\": \"x\"}")).hasMessageContaining("no 'id' field");
  }

  @Test
  void protoJsonIsPlainForValues() {
    Snapshot s =
        Snapshot.newBuilder()
            .setId("main.3f9a0c21-000000000007")
            .setSeq(7)
            .setKind(SnapshotKind.SNAPSHOT_KIND_FLUSH)
            .setStats(SnapshotStats.newBuilder().setDocCount(63666))
            .setCreateTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(1_800_000_000))
            .build();
    JsonObject o = JsonParser.parseString(ProtoJson.json(s)).getAsJsonObject();
    assertThat(o.get("id").getAsString()).isEqualTo("main.3f9a0c21-000000000007");
    assertThat(o.get("seq").getAsLong()).isEqualTo(7);
    assertThat(o.get("kind").getAsString()).isEqualTo("SNAPSHOT_KIND_FLUSH");
    assertThat(o.getAsJsonObject("stats").get("docCount").getAsLong()).isEqualTo(63666);
    assertThat(o.get("createTime").getAsString()).isEqualTo("2027-01-15T08:00:00Z");
    assertThat(o.get("parentId").getAsString()).isEmpty();

    Document d =
        Document.newBuilder()
            .setId("vim")
            .putFields("n", Value.newBuilder().setInt64Value(3).build())
            .putFields("s", Value.newBuilder().setStringValue("x").build())
            .build();
    JsonObject dj = JsonParser.parseString(ProtoJson.json(d)).getAsJsonObject();
    assertThat(dj.getAsJsonObject("fields").get("n").getAsLong()).isEqualTo(3);
    assertThat(dj.getAsJsonObject("fields").get("s").getAsString()).isEqualTo("x");
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
