package dev.strata.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Aligned, space-separated columns under an upper-case header. */
final class Table {
  private final List<String> header;
  private final List<String[]> rows = new ArrayList<>();
  private final boolean[] rightAligned;

  Table(String... header) {
    this.header = Arrays.asList(header);
    this.rightAligned = new boolean[header.length];
  }

  /** Right-aligns the given columns (numbers). */
  Table right(int... columns) {
    for (int c : columns) {
      rightAligned[c] = true;
    }
    return this;
  }

  Table row(Object... cells) {
    String[] r = new String[header.size()];
    for (int i = 0; i < r.length; i++) {
      Object c = i < cells.length ? cells[i] : "";
      r[i] = Format.cell(c == null ? "" : c.toString(), 0);
    }
    rows.add(r);
    return this;
  }

  boolean isEmpty() {
    return rows.isEmpty();
  }

  void print(PrintWriter out) {
    int n = header.size();
    int[] width = new int[n];
    for (int i = 0; i < n; i++) {
      width[i] = len(header.get(i));
    }
    for (String[] r : rows) {
      for (int i = 0; i < n; i++) {
        width[i] = Math.max(width[i], len(r[i]));
      }
    }
    line(out, header.toArray(new String[0]), width);
    for (String[] r : rows) {
      line(out, r, width);
    }
    out.flush();
  }

  private void line(PrintWriter out, String[] cells, int[] width) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < cells.length; i++) {
      boolean last = i == cells.length - 1;
      String c = cells[i];
      int pad = width[i] - len(c);
      if (rightAligned[i]) {
        sb.append(" ".repeat(pad)).append(c);
      } else {
        sb.append(c);
        if (!last) {
          sb.append(" ".repeat(pad));
        }
      }
      if (!last) {
        sb.append("  ");
      }
    }
    out.println(sb.toString().stripTrailing());
  }

  private static int len(String s) {
    return s.codePointCount(0, s.length());
  }

  /** Prints {@code key  value} pairs with the keys aligned; multi-line values are indented. */
  static void keyValues(PrintWriter out, List<String[]> pairs) {
    int w = 0;
    for (String[] p : pairs) {
      w = Math.max(w, len(p[0]));
    }
    for (String[] p : pairs) {
      String[] lines = (p[1] == null ? "" : p[1]).split("\r?\n", -1);
      out.println((p[0] + " ".repeat(w - len(p[0])) + "  " + lines[0]).stripTrailing());
      for (int i = 1; i < lines.length; i++) {
        out.println((" ".repeat(w + 2) + lines[i]).stripTrailing());
      }
    }
    out.flush();
  }
}
