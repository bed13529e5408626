package dev.strata.e2e;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shared Debian corpus is, seen from the server module, and a JSON field reader. */
public final class CorpusFiles {
  private CorpusFiles() {}

  /** {@code ../shared/data/debian-packages.jsonl.gz} beside the repository, or null. */
  public static Path corpus() {
    for (Path p :
        new Path[] {
          Path.of("../../shared/data/debian-packages.jsonl.gz"),
          Path.of("../shared/data/debian-packages.jsonl.gz")
        }) {
      if (Files.isRegularFile(p)) {
        return p.toAbsolutePath().normalize();
      }
    }
    return null;
  }

  /** A top-level field of one JSON line as a string (numbers as written), or null. */
  public static String field(String jsonLine, String name) {
    JsonObject o = JsonParser.parseString(jsonLine).getAsJsonObject();
    JsonElement e = o.get(name);
    return e == null || e.isJsonNull() ? null : e.getAsString();
  }
}
