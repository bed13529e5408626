package dev.strata.bench.peers;

import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.json.JsonFactory;

/**
 * The Debian package corpus ({@code shared/data/debian-packages.jsonl.gz}, one JSON object per
 * line, id = package name), read into memory, and its replicas: document {@code i} of a replicated
 * sequence is package {@code i mod n} with the id suffix {@code ~(i / n)} (none for the first
 * copy). Immutable and thread-safe once loaded.
 */
public final class Corpus {
  /** Collection name on every side (Strata collection, PostgreSQL table of the read workloads). */
  public static final String COLLECTION = "packages";

  /** Columns of the PostgreSQL table, in order, besides the generated {@code tsv}. */
  public static final List<String> COLUMNS =
      List.of("id", "version", "section", "priority", "maintainer", "homepage", "summary",
          "description", "depends", "installed_size_kib");

  /** The Strata schema: what README's walkthrough loads; other fields are stored only. */
  public static final List<FieldSchema> SCHEMA =
      List.of(
          field("summary", FieldKind.FIELD_KIND_TEXT),
          field("description", FieldKind.FIELD_KIND_TEXT),
          field("section", FieldKind.FIELD_KIND_KEYWORD),
          field("priority", FieldKind.FIELD_KIND_KEYWORD),
          field("maintainer", FieldKind.FIELD_KIND_KEYWORD),
          field("installed_size_kib", FieldKind.FIELD_KIND_LONG));

  private final List<CorpusDoc> docs;

  private Corpus(List<CorpusDoc> docs) {
    this.docs = List.copyOf(docs);
  }

  private static FieldSchema field(String name, FieldKind kind) {
    return FieldSchema.newBuilder().setName(name).setKind(kind).build();
  }

  /**
   * The corpus file: {@code -Dstrata.bench.corpus}, else {@code $STRATA_CORPUS}, else
   * {@code shared/data/debian-packages.jsonl.gz} found beside the repository (from the repository
   * root or from a module directory).
   */
  public static Path defaultPath() {
    String p = System.getProperty("strata.bench.corpus", System.getenv("STRATA_CORPUS"));
    if (p != null && !p.isBlank()) {
      return Paths.get(p);
    }
    for (String c : List.of("../shared/data/debian-packages.jsonl.gz", "../../shared/data/debian-packages.jsonl.gz")) {
      Path path = Paths.get(c);
      if (Files.isRegularFile(path)) {
        return path;
      }
    }
    return Paths.get("../shared/data/debian-packages.jsonl.gz");
  }

  /**
   * Reads the first {@code limit} packages of {@code file} (all of them if {@code limit <= 0}).
   *
   * @throws IOException if the file cannot be read; IllegalArgumentException on a bad line
   */
  public static Corpus load(Path file, int limit) throws IOException {
    List<CorpusDoc> out = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(new GZIPInputStream(Files.newInputStream(file), 1 << 16), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null && (limit <= 0 || out.size() < limit)) {
        if (line.isBlank()) {
          continue;
        }
        out.add(parse(line));
      }
    }
    if (out.isEmpty()) {
      throw new IOException("no documents in " + file);
    }
    return new Corpus(out);
  }

  private static final JsonFactory JSON = JsonFactory.builder().build();

  /** One line: a flat JSON object; integers stay longs, other values become their text. */
  private static CorpusDoc parse(String line) {
    Map<String, Object> fields = new LinkedHashMap<>();
    String id = null;
    try (JsonParser p = JSON.createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException("not a JSON object: " + line);
      }
      while (p.nextToken() == JsonToken.PROPERTY_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (t.isStructStart()) {
          throw new IllegalArgumentException("field '" + name + "' is not a scalar: " + line);
        } else if (name.equals("id")) {
          id = p.getText();
        } else if (t == JsonToken.VALUE_NUMBER_INT) {
          fields.put(name, p.getLongValue());
        } else if (t != JsonToken.VALUE_NULL) {
          fields.put(name, p.getText());
        }
      }
    }
    if (id == null) {
      throw new IllegalArgumentException("no id: " + line);
    }
    return new CorpusDoc(id, fields);
  }

  /** The number of distinct packages read. */
  public int size() {
    return docs.size();
  }

  /** Package {@code i} (0-based, {@code i < size()}). */
  public CorpusDoc get(int i) {
    return docs.get(i);
  }

  /**
   * {@code count} distinct ids drawn uniformly among the first {@code idCount} replicas (the
   * BatchGet workload: both sides ask for the same number of distinct documents).
   */
  public List<String> distinctIds(SplittableRandom rnd, long idCount, int count) {
    Set<Long> picked = new LinkedHashSet<>();
    while (picked.size() < Math.min(count, idCount)) {
      picked.add(rnd.nextLong(idCount));
    }
    List<String> ids = new ArrayList<>(picked.size());
    for (long i : picked) {
      ids.add(replica(i).id());
    }
    return ids;
  }

  /** Document {@code i} of the replicated sequence (see the class comment); {@code i >= 0}. */
  public CorpusDoc replica(long i) {
    CorpusDoc d = docs.get((int) (i % docs.size()));
    long copy = i / docs.size();
    return copy == 0 ? d : d.withId(d.id() + "~" + copy);
  }
}
