package dev.strata.cli;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.RangeBound;
import dev.strata.api.v1.RangeFilter;
import dev.strata.api.v1.SearchHit;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.SortField;
import dev.strata.api.v1.SortOrder;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WaitFor;
import dev.strata.client.StrataClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(
    name = "search",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Full-text search of a collection at a snapshot (default: the fork's head snapshot).",
      "",
      "QUERY is a Lucene query string: terms, \"phrases\", field:term, AND/OR/NOT, wildcards; unqualified terms match every TEXT field; an empty QUERY (\"\") matches every document. Writes become searchable once flushed (within flush.interval, 1 s), or use --wait."
    })
final class SearchCommand extends ClientCommand {
  @Parameters(arity = "0..1", paramLabel = "QUERY", description = "The query (default: match all).")
  String query = "";

  @Option(names = {"-c", "--collection"}, required = true, paramLabel = "NAME", description = "The collection.")
  String collection;

  @Option(
      names = "--filter",
      paramLabel = "FIELD=VALUE",
      description =
          "Keep documents whose KEYWORD field has this value. Repeatable: values of one field are"
              + " OR-ed, different fields AND-ed.")
  List<String> filters = new ArrayList<>();

  @Option(
      names = "--range",
      paramLabel = "FIELD=LO..HI",
      description =
          "Keep documents whose LONG/DOUBLE field is in [LO, HI]; either end may be left out"
              + " (e.g. size=1000.., size=..50). Repeatable.")
  List<String> ranges = new ArrayList<>();

  @Option(names = "--sort", paramLabel = "FIELD[:desc]", description = "Order by a LONG/DOUBLE field (ascending unless :desc) instead of by score.")
  String sort;

  @Option(names = "--snapshot", paramLabel = "ID", description = "Search this snapshot of the fork.")
  String snapshot;

  @Option(names = {"-n", "--limit"}, defaultValue = "10", paramLabel = "N", description = "Number of hits (default ${DEFAULT-VALUE}, at most 10000).")
  int limit;

  @Option(names = "--wait", description = "First make sure every write acknowledged so far is searchable (WAIT_FOR_FLUSHED).")
  boolean waitFlushed;

  @Option(
      names = "--show",
      split = ",",
      paramLabel = "FIELD",
      description = "Fields to show as columns (default: the first TEXT and first KEYWORD field).")
  List<String> show;

  @Override
  int run(StrataClient c) {
    if (waitFlushed && snapshot != null) {
      throw new ParameterException(spec.commandLine(), "--wait and --snapshot cannot be combined");
    }
    SearchRequest.Builder b =
        SearchRequest.newBuilder()
            .setFork(fork())
            .setCollection(collection)
            .setQuery(query == null ? "" : query)
            .setLimit(limit)
            .setWaitFor(waitFlushed ? WaitFor.WAIT_FOR_FLUSHED : WaitFor.WAIT_FOR_NONE);
    if (snapshot != null) {
      b.setSnapshotId(snapshot);
    }
    Map<String, TermFilter.Builder> terms = new LinkedHashMap<>();
    for (String f : filters) {
      int eq = f.indexOf('=');
      if (eq <= 0) {
        throw new ParameterException(spec.commandLine(), "--filter needs FIELD=VALUE: '" + f + "'");
      }
      terms
          .computeIfAbsent(f.substring(0, eq), k -> TermFilter.newBuilder().setField(k))
          .addValues(f.substring(eq + 1));
    }
    terms.values().forEach(b::addTermFilters);
    for (String r : ranges) {
      b.addRangeFilters(range(r));
    }
    if (sort != null) {
      String field = sort;
      SortOrder order = SortOrder.SORT_ORDER_ASCENDING;
      int colon = sort.lastIndexOf(':');
      if (colon > 0) {
        field = sort.substring(0, colon);
        String dir = sort.substring(colon + 1).toLowerCase(Locale.ROOT);
        order =
            switch (dir) {
              case "desc", "descending" -> SortOrder.SORT_ORDER_DESCENDING;
              case "asc", "ascending" -> SortOrder.SORT_ORDER_ASCENDING;
              default -> throw new ParameterException(
                  spec.commandLine(), "--sort FIELD[:asc|:desc], not '" + sort + "'");
            };
      }
      b.setSort(SortField.newBuilder().setField(field).setOrder(order));
    }
    SearchResponse r = c.search(b.build());
    if (json()) {
      printJson(r);
      return 0;
    }
    List<String> columns = show;
    if (columns == null) {
      columns = defaultColumns(c, terms);
    }
    out().printf(
        Locale.ROOT,
        "%s hit%s%s, showing %d, at snapshot %s%n",
        Format.count(r.getTotalHits()),
        r.getTotalHitsLowerBound() ? "+" : "",
        r.getTotalHits() == 1 ? "" : "s",
        r.getHitsCount(),
        r.getSnapshotId());
    if (r.getHitsCount() == 0) {
      out().flush();
      return 0;
    }
    List<String> header = new ArrayList<>(List.of("#", "SCORE", "ID"));
    columns.forEach(col -> header.add(col.toUpperCase(Locale.ROOT)));
    if (sort != null && !columns.contains(sort.split(":")[0])) {
      header.add(sort.split(":")[0].toUpperCase(Locale.ROOT));
    }
    Table t = new Table(header.toArray(new String[0])).right(0, 1);
    int i = 0;
    for (SearchHit h : r.getHitsList()) {
      List<Object> row = new ArrayList<>();
      row.add(++i);
      row.add(String.format(Locale.ROOT, "%.2f", h.getScore()));
      row.add(Format.cell(h.getId(), 40));
      for (String col : columns) {
        Value v = h.getDocument().getFieldsMap().get(col);
        row.add(v == null ? "" : Format.cell(Format.value(v), 60));
      }
      if (header.size() > row.size()) {
        Value v = h.getDocument().getFieldsMap().get(sort.split(":")[0]);
        row.add(v == null ? "" : Format.value(v));
      }
      t.row(row.toArray());
    }
    t.print(out());
    return 0;
  }

  /** TEXT fields that usually hold a short title, preferred as the default column. */
  private static final List<String> TITLE_FIELDS =
      List.of("title", "name", "summary", "subject", "headline", "label");

  /**
   * The default columns: a title-like TEXT field (or the first one), then the KEYWORD fields
   * filtered on (or the first KEYWORD field).
   */
  private List<String> defaultColumns(StrataClient c, Map<String, TermFilter.Builder> terms) {
    List<String> cols = new ArrayList<>();
    try {
      Collection col = c.getCollection(fork(), collection, snapshot);
      List<String> text =
          col.getFieldsList().stream()
              .filter(f -> f.getKind() == FieldKind.FIELD_KIND_TEXT)
              .map(FieldSchema::getName)
              .toList();
      text.stream()
          .filter(n -> TITLE_FIELDS.contains(n.toLowerCase(Locale.ROOT)))
          .findFirst()
          .or(() -> text.stream().findFirst())
          .ifPresent(cols::add);
      if (terms.isEmpty()) {
        firstOf(col, FieldKind.FIELD_KIND_KEYWORD).ifPresent(cols::add);
      }
    } catch (RuntimeException e) {
      // columns are cosmetic: without the schema, show ids and scores only
    }
    cols.addAll(terms.keySet());
    return cols;
  }

  private static java.util.Optional<String> firstOf(Collection col, FieldKind kind) {
    return col.getFieldsList().stream()
        .filter(f -> f.getKind() == kind)
        .map(FieldSchema::getName)
        .findFirst();
  }

  private RangeFilter range(String spec) {
    int eq = spec.indexOf('=');
    int dots = spec.indexOf("..", Math.max(eq, 0));
    if (eq <= 0 || dots < 0) {
      throw new ParameterException(
          this.spec.commandLine(), "--range needs FIELD=LO..HI (either end optional): '" + spec + "'");
    }
    RangeFilter.Builder r = RangeFilter.newBuilder().setField(spec.substring(0, eq));
    String lo = spec.substring(eq + 1, dots).trim();
    String hi = spec.substring(dots + 2).trim();
    if (lo.isEmpty() && hi.isEmpty()) {
      throw new ParameterException(this.spec.commandLine(), "--range needs at least one bound: '" + spec + "'");
    }
    if (!lo.isEmpty()) {
      r.setLower(bound(lo, spec));
    }
    if (!hi.isEmpty()) {
      r.setUpper(bound(hi, spec));
    }
    return r.build();
  }

  private RangeBound bound(String s, String whole) {
    try {
      if (s.matches("[-+]?\\d+")) {
        return RangeBound.newBuilder().setLongValue(Long.parseLong(s)).build();
      }
      return RangeBound.newBuilder().setDoubleValue(Double.parseDouble(s)).build();
    } catch (NumberFormatException e) {
      throw new ParameterException(spec.commandLine(), "--range bound is not a number: '" + whole + "'");
    }
  }
}
