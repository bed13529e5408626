package dev.strata.bench.compaction;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * The Debian package corpus ({@code debian-packages.jsonl.gz}: one flat JSON object a line, {@code
 * id} = package name) held in memory and replayed under fresh ids: document number {@code seq}
 * is line {@code seq mod size} under id {@code name} in the first pass and {@code name~r<pass>}
 * after that, so every write inserts a new document and the same {@code seq} always means the
 * same id. Fields follow the README's {@code load} example: {@code summary} and {@code description}
 * TEXT, {@code section}, {@code priority} and {@code maintainer} KEYWORD, {@code installed_size_kib}
 * LONG; the others are kept as stored strings. Immutable once loaded, so thread-safe.
 */
public final class Corpus {
  /** The collection schema the soak writes with. */
  public static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("summary", FieldKind.TEXT),
              FieldSpec.of("description", FieldKind.TEXT),
              FieldSpec.of("section", FieldKind.KEYWORD),
              FieldSpec.of("priority", FieldKind.KEYWORD),
              FieldSpec.of("maintainer", FieldKind.KEYWORD),
              FieldSpec.of("installed_size_kib", FieldKind.LONG)));

  private final String[] ids;
  private final List<Map<String, FieldValue>> fields;
  private final long jsonBytes;

  private Corpus(String[] ids, List<Map<String, FieldValue>> fields, long jsonBytes) {
    this.ids = ids;
    this.fields = fields;
    this.jsonBytes = jsonBytes;
  }

  /**
   * Reads at most {@code maxDocs} lines (0 = all) of a gzipped (by name {@code *.gz}) or plain
   * JSONL file.
   *
   * @throws IOException if the file cannot be read, or a line is not a flat JSON object with an
   *     {@code id}
   */
  public static Corpus load(Path file, int maxDocs) throws IOException {
    List<String> ids = new ArrayList<>();
    List<Map<String, FieldValue>> all = new ArrayList<>();
    long bytes = 0;
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
      String line;
      int lineNo = 0;
      while ((line = r.readLine()) != null && (maxDocs <= 0 || all.size() < maxDocs)) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        Map<String, Object> obj;
        try {
          obj = new FlatJson(line).object();
        } catch (IllegalArgumentException e) {
          throw new IOException(file + " line " + lineNo + ": " + e.getMessage(), e);
        }
        Object id = obj.remove("id");
        if (!(id instanceof String s) || s.isEmpty()) {
          throw new IOException(file + " line " + lineNo + ": no string \"id\"");
        }
        Map<String, FieldValue> f = new LinkedHashMap<>();
        obj.forEach(
            (k, v) -> {
              if (v instanceof Long l) {
                f.put(k, new FieldValue.Int64(l));
              } else if (v instanceof Double d) {
                f.put(k, new FieldValue.Float64(d));
              } else if (v instanceof String str) {
                f.put(k, new FieldValue.Str(str));
              } else if (v instanceof Boolean b) {
                f.put(k, new FieldValue.Bool(b));
              } // null: left out
            });
        ids.add(s);
        all.add(f);
        bytes += line.length() + 1;
      }
    }
    if (all.isEmpty()) {
      throw new IOException(file + " holds no documents");
    }
    return new Corpus(ids.toArray(String[]::new), List.copyOf(all), bytes);
  }

  /** Documents in one pass. */
  public int size() {
    return ids.length;
  }

  /** Characters of JSON per pass (about the bytes: the corpus is mostly ASCII). */
  public long jsonBytes() {
    return jsonBytes;
  }

  /** The id of document number {@code seq} (see the class comment). */
  public String id(long seq) {
    String base = ids[(int) (seq % ids.length)];
    long pass = seq / ids.length;
    return pass == 0 ? base : base + "~r" + pass;
  }

  /** Document number {@code seq}. */
  public Document document(long seq) {
    return new Document(id(seq), fields.get((int) (seq % ids.length)));
  }

  /**
   * A parser for one flat JSON object (string, number, boolean and null values; nested arrays or
   * objects are refused): all the corpus needs, without a JSON library on the classpath.
   */
  static final class FlatJson {
    private final String s;
    private int i;

    FlatJson(String s) {
      this.s = s;
    }

    Map<String, Object> object() {
      Map<String, Object> out = new LinkedHashMap<>();
      skipWs();
      expect('{');
      skipWs();
      if (peek() == '}') {
        i++;
        return end(out);
      }
      while (true) {
        skipWs();
        String key = string();
        skipWs();
        expect(':');
        skipWs();
        out.put(key, value());
        skipWs();
        char c = next();
        if (c == '}') {
          return end(out);
        }
        if (c != ',') {
          throw error("expected ',' or '}'");
        }
      }
    }

    private Map<String, Object> end(Map<String, Object> out) {
      skipWs();
      if (i != s.length()) {
        throw error("trailing characters");
      }
      return out;
    }

    private Object value() {
      char c = peek();
      if (c == '"') {
        return string();
      }
      if (s.startsWith("null", i)) {
        i += 4;
        return null;
      }
      if (s.startsWith("true", i)) {
        i += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("false", i)) {
        i += 5;
        return Boolean.FALSE;
      }
      if (c == '-' || (c >= '0' && c <= '9')) {
        int start = i;
        while (i < s.length() && "+-.eE0123456789".indexOf(s.charAt(i)) >= 0) {
          i++;
        }
        String num = s.substring(start, i);
        try {
          return num.matches("-?\\d+") ? (Object) Long.parseLong(num) : (Object) Double.parseDouble(num);
        } catch (NumberFormatException e) {
          throw error("bad number " + num);
        }
      }
      throw error("unsupported value (only strings, numbers, booleans and null)");
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (true) {
        char c = next();
        if (c == '"') {
          return b.toString();
        }
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = next();
        switch (e) {
          case '"', '\\', '/' -> b.append(e);
          case 'n' -> b.append('\n');
          case 't' -> b.append('\t');
          case 'r' -> b.append('\r');
          case 'b' -> b.append('\b');
          case 'f' -> b.append('\f');
          case 'u' -> {
            if (i + 4 > s.length()) {
              throw error("short \\u escape");
            }
            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
          }
          default -> throw error("bad escape \\" + e);
        }
      }
    }

    private void skipWs() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private char peek() {
      if (i >= s.length()) {
        throw error("unexpected end");
      }
      return s.charAt(i);
    }

    private char next() {
      char c = peek();
      i++;
      return c;
    }

    private void expect(char c) {
      if (next() != c) {
        throw error("expected '" + c + "'");
      }
    }

    private IllegalArgumentException error(String msg) {
      return new IllegalArgumentException(msg + " at column " + i);
    }
  }
}
