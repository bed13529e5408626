package dev.strata.cli;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import java.math.BigInteger;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts JSON objects (one JSONL line, or the argument of {@code strata put}) into documents,
 * typed by the collection's schema:
 *
 * <ul>
 *   <li>the id field (default {@code id}) becomes the document id (a string, or an integer turned
 *       into its decimal text) and is not stored as a field;
 *   <li>TEXT and KEYWORD fields take strings, and arrays of strings (numbers and booleans are
 *       turned into their text);
 *   <li>LONG fields take integers (also {@code 3.0}, and numeric strings such as {@code "42"});
 *   <li>DOUBLE fields take numbers (and numeric strings);
 *   <li>other fields are stored as they come: strings, integers (int64), other numbers (double),
 *       booleans, arrays of scalars (string lists); nested objects and arrays that hold objects are
 *       stored as their JSON text;
 *   <li>{@code null} fields are left out.
 * </ul>
 */
final class Documents {
  private final String idField;
  private final Map<String, FieldKind> kinds = new HashMap<>();

  Documents(String idField, List<FieldSchema> schema) {
    this.idField = idField;
    for (FieldSchema f : schema) {
      kinds.put(f.getName(), f.getKind());
    }
  }

  /** The document of one JSON object text. */
  Document parse(String jsonObject) {
    return fromMap(Json.parseObject(jsonObject));
  }

  Document fromMap(Map<String, Object> obj) {
    Object id = obj.get(idField);
    String docId;
    if (id instanceof String s) {
      docId = s;
    } else if (id instanceof Long || id instanceof BigInteger) {
      docId = id.toString();
    } else if (id == null) {
      throw new IllegalArgumentException("no '" + idField + "' field (the document id)");
    } else {
      throw new IllegalArgumentException(
          "field '" + idField + "' (the document id) must be a string, not " + Json.typeName(id));
    }
    Document.Builder doc = Document.newBuilder().setId(docId);
    for (Map.Entry<String, Object> e : obj.entrySet()) {
      if (e.getKey().equals(idField) || e.getValue() == null) {
        continue;
      }
      doc.putFields(e.getKey(), value(e.getKey(), e.getValue()));
    }
    return doc.build();
  }

  private Value value(String field, Object v) {
    FieldKind kind = kinds.getOrDefault(field, FieldKind.FIELD_KIND_UNSPECIFIED);
    switch (kind) {
      case FIELD_KIND_TEXT, FIELD_KIND_KEYWORD -> {
        if (v instanceof List<?> list) {
          StringList.Builder sl = StringList.newBuilder();
          for (Object o : list) {
            if (o == null || o instanceof Map || o instanceof List) {
              throw bad(field, kind, "an array of strings", v);
            }
            sl.addValues(scalarText(o));
          }
          return Value.newBuilder().setStringListValue(sl).build();
        }
        if (v instanceof Map) {
          throw bad(field, kind, "a string", v);
        }
        return Value.newBuilder().setStringValue(scalarText(v)).build();
      }
      case FIELD_KIND_LONG -> {
        if (v instanceof Long l) {
          return Value.newBuilder().setInt64Value(l).build();
        }
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 9.2e18) {
          return Value.newBuilder().setInt64Value(d.longValue()).build();
        }
        if (v instanceof String s) {
          try {
            return Value.newBuilder().setInt64Value(Long.parseLong(s.trim())).build();
          } catch (NumberFormatException ignored) {
            // fall through
          }
        }
        throw bad(field, kind, "an integer", v);
      }
      case FIELD_KIND_DOUBLE -> {
        if (v instanceof Number n && !(v instanceof BigInteger)) {
          return Value.newBuilder().setDoubleValue(n.doubleValue()).build();
        }
        if (v instanceof BigInteger b) {
          return Value.newBuilder().setDoubleValue(b.doubleValue()).build();
        }
        if (v instanceof String s) {
          try {
            return Value.newBuilder().setDoubleValue(Double.parseDouble(s.trim())).build();
          } catch (NumberFormatException ignored) {
            // fall through
          }
        }
        throw bad(field, kind, "a number", v);
      }
      default -> {
        return stored(v);
      }
    }
  }

  private static Value stored(Object v) {
    if (v instanceof String s) {
      return Value.newBuilder().setStringValue(s).build();
    } else if (v instanceof Long l) {
      return Value.newBuilder().setInt64Value(l).build();
    } else if (v instanceof Double d) {
      return Value.newBuilder().setDoubleValue(d).build();
    } else if (v instanceof BigInteger b) {
      return Value.newBuilder().setStringValue(b.toString()).build();
    } else if (v instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    } else if (v instanceof List<?> list
        && list.stream().allMatch(o -> o != null && !(o instanceof Map) && !(o instanceof List))) {
      StringList.Builder sl = StringList.newBuilder();
      list.forEach(o -> sl.addValues(scalarText(o)));
      return Value.newBuilder().setStringListValue(sl).build();
    } else {
      return Value.newBuilder().setStringValue(Json.write(v)).build();
    }
  }

  private static String scalarText(Object o) {
    if (o instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) {
      return Long.toString(d.longValue());
    }
    return o.toString();
  }

  private static IllegalArgumentException bad(String field, FieldKind kind, String expected, Object v) {
    String shown = Format.cell(Json.write(v), 40);
    return new IllegalArgumentException(
        "field '" + field + "' is " + kindName(kind) + " and needs " + expected + ", got " + shown);
  }

  static String kindName(FieldKind k) {
    return k.name().replace("FIELD_KIND_", "");
  }
}
