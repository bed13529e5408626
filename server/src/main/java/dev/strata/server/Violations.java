package dev.strata.server;

import com.google.common.base.Utf8;
import com.google.rpc.BadRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Validation of request fields (the name, id and limit rules of docs/api.md §2): collects one
 * BadRequest field violation per problem, then {@link #throwIfAny()} fails the whole request with
 * INVALID_ARGUMENT before anything reaches the engine. Names are checked here so that no request
 * can reach outside the data directory. A request without problems allocates nothing here: the
 * list appears with the first problem, and the static {@code is...} checks used on the hot paths
 * allocate nothing at all. Not thread-safe: one per request.
 */
final class Violations {
  /** Fork and collection names. */
  static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  /** Tags. */
  static final Pattern TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  /** Field names. */
  static final Pattern FIELD = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,127}");
  /** Fork ids ({@code dev.strata.manifest.ForkIds}): opaque, path-safe. */
  static final Pattern FORK_ID = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");
  /** Snapshot ids: {@code <fork id>-<seq, at least 12 digits>}. */
  static final Pattern SNAPSHOT_ID = Pattern.compile("([a-z0-9][a-z0-9._-]{0,127})-([0-9]{12,19})");

  /** Null until the first problem: a request without problems allocates no list. */
  private List<BadRequest.FieldViolation> list;

  /** Records a problem with {@code field}. */
  void add(String field, String description) {
    if (list == null) {
      list = new ArrayList<>();
    }
    list.add(ApiError.violation(field, description));
  }

  /** True if no problem was recorded. */
  boolean isEmpty() {
    return list == null;
  }

  /**
   * Fails with INVALID_ARGUMENT listing every problem recorded.
   *
   * @throws ApiError if any
   */
  void throwIfAny() {
    if (list != null) {
      throw ApiError.invalid(list);
    }
  }

  // Allocation-free checks for the hot paths (Write, Get, BatchGet, Search): they say only whether
  // a value is valid; the methods above build the messages when one is not.

  /** True if {@code value} is a valid fork or collection name ({@link #NAME}, without ".."). */
  static boolean isName(String value) {
    int n = value.length();
    if (n == 0 || n > 63 || !lowerOrDigit(value.charAt(0))) {
      return false;
    }
    for (int i = 1; i < n; i++) {
      char c = value.charAt(i);
      if (!lowerOrDigit(c) && c != '.' && c != '_' && c != '-') {
        return false;
      }
      if (c == '.' && value.charAt(i - 1) == '.') {
        return false;
      }
    }
    return true;
  }

  private static boolean lowerOrDigit(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  }

  /** True if {@code value} is a valid field name ({@link #FIELD}). */
  static boolean isFieldName(String value) {
    int n = value.length();
    if (n == 0 || n > 128 || !letter(value.charAt(0))) {
      return false;
    }
    for (int i = 1; i < n; i++) {
      char c = value.charAt(i);
      if (!letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-') {
        return false;
      }
    }
    return true;
  }

  private static boolean letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /** True if {@code value} is a valid document id: 1..maxBytes UTF-8 bytes, no U+0000, well-formed. */
  static boolean isDocumentId(String value, int maxBytes) {
    int n = utf8Length(value);
    return n > 0 && n <= maxBytes && value.indexOf('\0') < 0;
  }

  /** UTF-8 length of {@code s} in bytes, or -1 if it holds an unpaired surrogate (not well-formed). */
  static int utf8Length(String s) {
    try {
      return Utf8.encodedLength(s);
    } catch (IllegalArgumentException unpairedSurrogate) {
      return -1;
    }
  }

  /** A request's {@code fork} field: empty means "main". Returns the name to use. */
  String forkOrMain(String field, String value) {
    if (value.isEmpty()) {
      return "main";
    }
    return name(field, value, "fork");
  }

  /** A required fork or collection name. */
  String name(String field, String value, String what) {
    String p = nameProblem(value, what);
    if (p != null) {
      add(field, p);
    }
    return value;
  }

  /** Why {@code value} is not a valid fork/collection name, or null. */
  static String nameProblem(String value, String what) {
    if (isName(value)) {
      return null;
    }
    if (value.isEmpty()) {
      return what + " name is required";
    }
    if (!NAME.matcher(value).matches() || value.contains("..")) {
      return what + " name '" + printable(value) + "' must match ^[a-z0-9][a-z0-9._-]{0,62}$ without \"..\"";
    }
    return null;
  }

  /** A required tag. */
  void tag(String field, String value) {
    if (value.isEmpty()) {
      add(field, "tag is required");
    } else if (!TAG.matcher(value).matches()) {
      add(field, "tag '" + printable(value) + "' must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    }
  }

  /** A field name of a schema or a document. */
  void fieldName(String field, String value) {
    if (!isFieldName(value)) {
      add(field, "field name '" + printable(value) + "' must match ^[A-Za-z][A-Za-z0-9_.-]{0,127}$");
    }
  }

  /** A required document id: 1..maxBytes UTF-8 bytes, no U+0000, well-formed. */
  void documentId(String field, String value, int maxBytes) {
    String p = idProblem(value, maxBytes);
    if (p != null) {
      add(field, p);
    }
  }

  /** Why {@code value} is not a valid document id, or null. */
  static String idProblem(String value, int maxBytes) {
    if (isDocumentId(value, maxBytes)) {
      return null;
    }
    int n = value.getBytes(StandardCharsets.UTF_8).length;
    if (n == 0) {
      return "document id is required";
    }
    if (n > maxBytes) {
      return "document id is " + n + " UTF-8 bytes, at most " + maxBytes + " allowed";
    }
    if (value.indexOf('\0') >= 0) {
      return "document id must not contain U+0000";
    }
    try {
      dev.strata.engine.model.Document.validateId(value);
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
    return null;
  }

  /** A required snapshot id. */
  void snapshotId(String field, String value) {
    if (value.isEmpty()) {
      add(field, "snapshot id is required");
    } else if (!SNAPSHOT_ID.matcher(value).matches()) {
      add(field, "malformed snapshot id '" + printable(value) + "': expected <fork id>-<seq, 12 digits>");
    }
  }

  /** An optional snapshot id (empty = the head). */
  void optionalSnapshotId(String field, String value) {
    if (!value.isEmpty()) {
      snapshotId(field, value);
    }
  }

  /** A required fork id. */
  void forkId(String field, String value) {
    if (value.isEmpty()) {
      add(field, "fork id is required");
    } else if (!FORK_ID.matcher(value).matches()) {
      add(field, "malformed fork id '" + printable(value) + "'");
    }
  }

  /** A page size: 0 means 100, above 1000 means 1000, negative is invalid. */
  int pageSize(String field, int value) {
    if (value < 0) {
      add(field, "page_size must not be negative, got " + value);
      return 100;
    }
    return value == 0 ? 100 : Math.min(1000, value);
  }

  /** {@code s} with control and non-ASCII characters escaped, shortened for a message. */
  static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    int count = 0;
    for (int i = 0; i < s.length() && count < 80; count++) {
      int cp = s.codePointAt(i);
      if (cp >= 0x20 && cp < 0x7f) {
        sb.append((char) cp);
      } else {
        sb.append(String.format("\\u{%X}", cp));
      }
      i += Character.charCount(cp);
    }
    if (count >= 80 && s.length() > 80) {
      sb.append("...");
    }
    return sb.toString();
  }
}
