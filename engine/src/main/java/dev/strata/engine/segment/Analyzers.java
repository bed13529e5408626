package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.core.KeywordAnalyzer;
import org.apache.lucene.analysis.core.SimpleAnalyzer;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper;
import org.apache.lucene.analysis.standard.StandardAnalyzer;

/**
 * The Lucene analyzers a TEXT field may name ({@link FieldSpec#analyzer()}), from lucene-core and
 * lucene-analysis-common: {@code standard} (the default, also for ""), {@code english}, {@code
 * whitespace}, {@code keyword}, {@code simple}. Thread-safe: Lucene analyzers keep per-thread token
 * streams, so one instance per name is shared by every writer and searcher of the process (they are
 * never closed; they hold no files).
 */
public final class Analyzers {
  /** The analyzer of TEXT fields that name none. */
  public static final String DEFAULT = "standard";

  private static final Map<String, Supplier<Analyzer>> FACTORIES =
      Map.of(
          "standard", StandardAnalyzer::new,
          "english", EnglishAnalyzer::new,
          "whitespace", WhitespaceAnalyzer::new,
          "keyword", KeywordAnalyzer::new,
          "simple", SimpleAnalyzer::new);

  private static final Map<String, Analyzer> SHARED =
      new ConcurrentHashMap<>();

  private Analyzers() {}

  /** The supported analyzer names, sorted. */
  public static List<String> names() {
    return FACTORIES.keySet().stream().sorted().toList();
  }

  /**
   * The shared analyzer named {@code name} ("" = {@link #DEFAULT}).
   *
   * @throws IllegalArgumentException naming the supported analyzers if {@code name} is not one
   */
  public static Analyzer named(String name) {
    String n = name == null || name.isEmpty() ? DEFAULT : name;
    Supplier<Analyzer> f = FACTORIES.get(n);
    if (f == null) {
      throw new IllegalArgumentException(
          "unknown analyzer '" + name + "'; supported: " + String.join(", ", names()));
    }
    return SHARED.computeIfAbsent(n, k -> f.get());
  }

  /** True if {@code name} (or "") names a supported analyzer. */
  public static boolean isKnown(String name) {
    return name == null || name.isEmpty() || FACTORIES.containsKey(name);
  }

  /**
   * A per-field analyzer for the Lucene fields of the given collections: TEXT fields get their
   * named analyzer, KEYWORD fields the keyword analyzer (so a query-string term on a KEYWORD field
   * is matched exactly); anything else falls back to the standard analyzer. Cheap to build: it
   * wraps the shared instances.
   *
   * @throws IllegalArgumentException if a TEXT field names an unknown analyzer
   */
  static Analyzer forCollections(Map<String, CollectionSchema> schemas) {
    Map<String, Analyzer> perField = new HashMap<>();
    for (Map.Entry<String, CollectionSchema> e : schemas.entrySet()) {
      for (FieldSpec spec : e.getValue().fields()) {
        String luceneName = LuceneFields.field(e.getKey(), spec.name());
        if (spec.kind() == FieldKind.TEXT) {
          perField.put(luceneName, named(spec.analyzer()));
        } else if (spec.kind() == FieldKind.KEYWORD) {
          perField.put(luceneName, named("keyword"));
        }
      }
    }
    return new PerFieldAnalyzerWrapper(named(DEFAULT), perField);
  }
}
