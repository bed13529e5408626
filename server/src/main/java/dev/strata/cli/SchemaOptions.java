package dev.strata.cli;

import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The schema flags shared by {@code collection create} and {@code load}. */
final class SchemaOptions {
  @Option(
      names = "--text-fields",
      split = ",",
      paramLabel = "FIELD",
      description = "Full-text (TEXT) fields, comma-separated.")
  List<String> text = new ArrayList<>();

  @Option(
      names = "--keyword-fields",
      split = ",",
      paramLabel = "FIELD",
      description = "Exact-term (KEYWORD) fields, for --filter.")
  List<String> keyword = new ArrayList<>();

  @Option(
      names = "--long-fields",
      split = ",",
      paramLabel = "FIELD",
      description = "64-bit integer (LONG) fields, for --range and --sort.")
  List<String> longs = new ArrayList<>();

  @Option(
      names = "--double-fields",
      split = ",",
      paramLabel = "FIELD",
      description = "Floating point (DOUBLE) fields, for --range and --sort.")
  List<String> doubles = new ArrayList<>();

  @Option(
      names = "--stored-fields",
      split = ",",
      paramLabel = "FIELD",
      description = "Fields kept but not indexed (STORED); other fields are stored anyway.")
  List<String> stored = new ArrayList<>();

  @Option(
      names = "--analyzer",
      paramLabel = "FIELD=NAME",
      description =
          "Analyzer of a TEXT field: standard (default), simple, whitespace or english. Repeatable.")
  Map<String, String> analyzers = new LinkedHashMap<>();

  boolean isEmpty() {
    return text.isEmpty()
        && keyword.isEmpty()
        && longs.isEmpty()
        && doubles.isEmpty()
        && stored.isEmpty();
  }

  List<FieldSchema> fields() {
    List<FieldSchema> out = new ArrayList<>();
    add(out, text, FieldKind.FIELD_KIND_TEXT);
    add(out, keyword, FieldKind.FIELD_KIND_KEYWORD);
    add(out, longs, FieldKind.FIELD_KIND_LONG);
    add(out, doubles, FieldKind.FIELD_KIND_DOUBLE);
    add(out, stored, FieldKind.FIELD_KIND_STORED);
    for (String f : analyzers.keySet()) {
      if (!text.contains(f)) {
        throw new IllegalArgumentException(
            "--analyzer " + f + "=...: '" + f + "' is not one of the --text-fields");
      }
    }
    return out;
  }

  private void add(List<FieldSchema> out, List<String> names, FieldKind kind) {
    for (String n : names) {
      String name = n.trim();
      if (name.isEmpty()) {
        continue;
      }
      FieldSchema.Builder b = FieldSchema.newBuilder().setName(name).setKind(kind);
      if (kind == FieldKind.FIELD_KIND_TEXT && analyzers.containsKey(name)) {
        b.setAnalyzer(analyzers.get(name));
      }
      out.add(b.build());
    }
  }
}
