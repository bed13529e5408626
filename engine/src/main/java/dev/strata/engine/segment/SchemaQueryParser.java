package dev.strata.engine.segment;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.queryparser.classic.MultiFieldQueryParser;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;

/**
 * Lucene's classic query parser over one collection's schema: unqualified terms search every TEXT
 * field ({@link MultiFieldQueryParser}, default operator OR); {@code field:...} names schema
 * fields, which are mapped to their namespaced Lucene names ({@link LuceneFields#field}); LONG and
 * DOUBLE fields take exact values and {@code [a TO b]} ranges as point queries. A field that is not
 * in the schema, or is STORED, is a parse error. Not thread-safe (like its superclass): one per
 * parse.
 */
final class SchemaQueryParser extends MultiFieldQueryParser {
  private final String collection;
  private final CollectionSchema schema;

  /** Lucene name to spec, for names already mapped (MultiFieldQueryParser passes those back). */
  private final Map<String, FieldSpec> byLuceneName = new HashMap<>();

  SchemaQueryParser(String collection, CollectionSchema schema, Analyzer analyzer) {
    super(textFields(collection, schema), analyzer);
    this.collection = collection;
    this.schema = schema;
    for (FieldSpec s : schema.fields()) {
      byLuceneName.put(LuceneFields.field(collection, s.name()), s);
    }
    setDefaultOperator(OR_OPERATOR);
  }

  private static String[] textFields(String collection, CollectionSchema schema) {
    List<String> out = new ArrayList<>();
    for (FieldSpec s : schema.fields()) {
      if (s.kind() == FieldKind.TEXT) {
        out.add(LuceneFields.field(collection, s.name()));
      }
    }
    return out.toArray(new String[0]);
  }

  /** The spec of a field named in the query (user or Lucene name), or null for none / "*". */
  private FieldSpec spec(String field) throws ParseException {
    if (field == null || field.equals("*")) {
      return null;
    }
    FieldSpec s = byLuceneName.get(field);
    if (s != null) {
      return s;
    }
    s = schema.field(field).orElse(null);
    if (s == null) {
      throw new ParseException(
          "field '" + field + "' is not in the schema of collection '" + collection + "'");
    }
    if (s.kind() == FieldKind.STORED) {
      throw new ParseException(
          "field '" + field + "' is STORED (not indexed) and cannot be searched");
    }
    return s;
  }

  private String luceneName(String field, FieldSpec spec) {
    return spec == null ? field : LuceneFields.field(collection, spec.name());
  }

  private static boolean isNumeric(FieldSpec spec) {
    return spec != null && (spec.kind() == FieldKind.LONG || spec.kind() == FieldKind.DOUBLE);
  }

  @Override
  protected Query getFieldQuery(String field, String queryText, boolean quoted)
      throws ParseException {
    FieldSpec s = spec(field);
    if (isNumeric(s)) {
      return exact(s, queryText);
    }
    return super.getFieldQuery(luceneName(field, s), queryText, quoted);
  }

  @Override
  protected Query getFieldQuery(String field, String queryText, int slop) throws ParseException {
    FieldSpec s = spec(field);
    if (isNumeric(s)) {
      return exact(s, queryText);
    }
    return super.getFieldQuery(luceneName(field, s), queryText, slop);
  }

  @Override
  protected Query getRangeQuery(
      String field, String part1, String part2, boolean startInclusive, boolean endInclusive)
      throws ParseException {
    FieldSpec s = spec(field);
    if (isNumeric(s)) {
      Number lo = parseBound(s, part1);
      Number hi = parseBound(s, part2);
      String name = luceneName(field, s);
      return s.kind() == FieldKind.LONG
          ? longRange(name, (Long) lo, (Long) hi, startInclusive, endInclusive)
          : doubleRange(name, (Double) lo, (Double) hi, startInclusive, endInclusive);
    }
    return super.getRangeQuery(luceneName(field, s), part1, part2, startInclusive, endInclusive);
  }

  @Override
  protected Query getPrefixQuery(String field, String termStr) throws ParseException {
    FieldSpec s = notNumeric(field, "prefix");
    return super.getPrefixQuery(luceneName(field, s), termStr);
  }

  @Override
  protected Query getWildcardQuery(String field, String termStr) throws ParseException {
    FieldSpec s = notNumeric(field, "wildcard");
    return super.getWildcardQuery(luceneName(field, s), termStr);
  }

  @Override
  protected Query getFuzzyQuery(String field, String termStr, float minSimilarity)
      throws ParseException {
    FieldSpec s = notNumeric(field, "fuzzy");
    return super.getFuzzyQuery(luceneName(field, s), termStr, minSimilarity);
  }

  @Override
  protected Query getRegexpQuery(String field, String termStr) throws ParseException {
    FieldSpec s = notNumeric(field, "regexp");
    return super.getRegexpQuery(luceneName(field, s), termStr);
  }

  private FieldSpec notNumeric(String field, String what) throws ParseException {
    FieldSpec s = spec(field);
    if (isNumeric(s)) {
      throw new ParseException(
          "field '" + s.name() + "' is " + s.kind() + ": " + what + " queries need a text field");
    }
    return s;
  }

  private Query exact(FieldSpec s, String text) throws ParseException {
    Number v = parseBound(s, text);
    if (v == null) {
      throw new ParseException("field '" + s.name() + "' needs a number, got '" + text + "'");
    }
    String name = LuceneFields.field(collection, s.name());
    return s.kind() == FieldKind.LONG
        ? LongPoint.newExactQuery(name, v.longValue())
        : DoublePoint.newExactQuery(name, v.doubleValue());
  }

  /** Parses a numeric bound; null for an open bound (null or "*"). */
  private static Number parseBound(FieldSpec s, String text) throws ParseException {
    if (text == null || text.equals("*")) {
      return null;
    }
    try {
      return s.kind() == FieldKind.LONG
          ? (Number) Long.parseLong(text.strip())
          : (Number) Double.parseDouble(text.strip());
    } catch (NumberFormatException e) {
      throw new ParseException(
          "field '"
              + s.name()
              + "' is "
              + s.kind()
              + ": '"
              + text
              + "' is not "
              + (s.kind() == FieldKind.LONG ? "an integer" : "a number"));
    }
  }

  /** A point range on a LONG field; null bounds are open; exclusive bounds are stepped inward. */
  static Query longRange(
      String luceneName, Long lower, Long upper, boolean lowerInclusive, boolean upperInclusive) {
    long lo = lower == null ? Long.MIN_VALUE : lower;
    long hi = upper == null ? Long.MAX_VALUE : upper;
    if (lower != null && !lowerInclusive) {
      if (lo == Long.MAX_VALUE) {
        return new MatchNoDocsQuery("empty range");
      }
      lo++;
    }
    if (upper != null && !upperInclusive) {
      if (hi == Long.MIN_VALUE) {
        return new MatchNoDocsQuery("empty range");
      }
      hi--;
    }
    return LongPoint.newRangeQuery(luceneName, lo, hi);
  }

  /**
   * A point range on a DOUBLE field; null bounds are open; exclusive bounds use nextUp/nextDown.
   */
  static Query doubleRange(
      String luceneName,
      Double lower,
      Double upper,
      boolean lowerInclusive,
      boolean upperInclusive) {
    double lo = lower == null ? Double.NEGATIVE_INFINITY : lower;
    double hi = upper == null ? Double.POSITIVE_INFINITY : upper;
    if (lower != null && !lowerInclusive) {
      lo = Math.nextUp(lo);
    }
    if (upper != null && !upperInclusive) {
      hi = Math.nextDown(hi);
    }
    return DoublePoint.newRangeQuery(luceneName, lo, hi);
  }
}
