package dev.strata.bench.peers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * The full-text queries of the search workload ({@code bench/queries.txt}): one per line, blank
 * lines and {@code #} comments ignored.
 */
public final class QuerySet {
  private QuerySet() {}

  /** {@code bench/queries.txt} from the repository root, or {@code queries.txt} from {@code bench/}. */
  public static Path defaultPath() {
    Path p = Paths.get("bench/queries.txt");
    return Files.isRegularFile(p) ? p : Paths.get("queries.txt");
  }

  /** The queries of {@code file}, in file order. */
  public static List<String> load(Path file) throws IOException {
    List<String> q =
        Files.readAllLines(file, StandardCharsets.UTF_8).stream()
            .map(String::strip)
            .filter(s -> !s.isEmpty() && !s.startsWith("#"))
            .toList();
    if (q.isEmpty()) {
      throw new IOException("no queries in " + file);
    }
    return q;
  }
}
