package dev.strata.cli;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import java.io.StringWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.json.JsonFactory;

/**
 * Converts JSON objects (one JSONL line, or the argument of {@code strata put}) into documents,
 * typed by the collection's schema, reading them with Jackson's streaming parser (RFC 8259,
 * strict: no comments, trailing commas or leading zeros) straight into the document builder:
 *
 * <ul>
 *   <li>the id field (default {@code id}) becomes the document id (a string, or an integer turned
 *       into its decimal text) and is not stored as a field;
 *   <li>TEXT and KEYWORD fields take strings, and arrays of strings (numbers and booleans are
 *       turned into their text);
 *   <li>LONG fields take integers (also {@code 3.0}, and numeric strings such as {@code "42"});
 *   <li>DOUBLE fields take numbers (and numeric strings);
 *   <li>other fields are stored as they come: strings, integers (int64; larger ones as their
 *       text), other numbers (double), booleans, arrays of scalars (string lists); nested objects
 *       and arrays that hold objects, arrays or nulls are stored as their compact JSON text;
 *   <li>{@code null} fields are left out; when a key repeats, the last one wins.
 * </ul>
 *
 * <p>Every problem is an {@link IllegalArgumentException} whose message says what is wrong:
 * {@code invalid JSON at character N: ...} for syntax, or which field does not fit the schema.
 * Immutable after construction and thread-safe.
 */
final class Documents {
  /** Thread-safe and reusable (its buffers are recycled between parsers). */
  private static final JsonFactory JSON = JsonFactory.builder().build();

  private final String idField;
  private final Map<String, FieldKind> kinds = new HashMap<>();

  Documents(String idField, List<FieldSchema> schema) {
    this.idField = idField;
    for (FieldSchema f : schema) {
      kinds.put(f.getName(), f.getKind());
    }
  }

  /**
   * The document of one JSON object text.
   *
   * @throws IllegalArgumentException if the text is not one JSON object, has no id, or a field
   *     does not fit the schema
   */
  Document parse(String jsonObject) {
    try (JsonParser p = JSON.createParser(jsonObject)) {
      JsonToken first = p.nextToken();
      if (first != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException("expected a JSON object, got " + typeName(first));
      }
      Document.Builder doc = Document.newBuilder();
      String id = null;
      while (p.nextToken() == JsonToken.PROPERTY_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals(idField)) {
          id = id(p, t);
        } else if (t == JsonToken.VALUE_NULL) {
          doc.removeFields(name);
        } else {
          doc.putFields(name, value(name, p, t));
        }
      }
      if (p.nextToken() != null) {
        throw new IllegalArgumentException(
            "invalid JSON at character " + p.currentTokenLocation().getColumnNr()
                + ": unexpected text after the object");
      }
      if (id == null) {
        throw new IllegalArgumentException("no '" + idField + "' field (the document id)");
      }
      return doc.setId(id).build();
    } catch (JacksonException e) {
      String what = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
      int nl = what.indexOf('\n');
      int at = e.getLocation() == null ? -1 : e.getLocation().getColumnNr();
      throw new IllegalArgumentException(
          "invalid JSON" + (at > 0 ? " at character " + at : "") + ": " + (nl > 0 ? what.substring(0, nl) : what));
    }
  }

  /** The document id: a string, or an integer's decimal text; null for JSON null. */
  private String id(JsonParser p, JsonToken t) {
    return switch (t) {
      case VALUE_STRING -> p.getString();
      case VALUE_NUMBER_INT -> p.getText();
      case VALUE_NULL -> null;
      default -> throw new IllegalArgumentException(
          "field '" + idField + "' (the document id) must be a string, not " + typeName(t));
    };
  }

  private Value value(String field, JsonParser p, JsonToken t) {
    FieldKind kind = kinds.getOrDefault(field, FieldKind.FIELD_KIND_UNSPECIFIED);
    switch (kind) {
      case FIELD_KIND_TEXT, FIELD_KIND_KEYWORD -> {
        if (t == JsonToken.START_ARRAY) {
          StringList.Builder sl = StringList.newBuilder();
          for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
            if (!e.isScalarValue() || e == JsonToken.VALUE_NULL) {
              throw bad(field, kind, "an array of strings", p);
            }
            sl.addValues(scalarText(p, e));
          }
          return Value.newBuilder().setStringListValue(sl).build();
        }
        if (t == JsonToken.START_OBJECT) {
          throw bad(field, kind, "a string", p);
        }
        return Value.newBuilder().setStringValue(scalarText(p, t)).build();
      }
      case FIELD_KIND_LONG -> {
        if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
          return Value.newBuilder().setInt64Value(p.getLongValue()).build();
        }
        if (t == JsonToken.VALUE_NUMBER_FLOAT) {
          double d = p.getDoubleValue();
          if (d == Math.rint(d) && Math.abs(d) < 9.2e18) {
            return Value.newBuilder().setInt64Value((long) d).build();
          }
        }
        if (t == JsonToken.VALUE_STRING) {
          try {
            return Value.newBuilder().setInt64Value(Long.parseLong(p.getString().trim())).build();
          } catch (NumberFormatException ignored) {
            // reported below
          }
        }
        throw bad(field, kind, "an integer", p);
      }
      case FIELD_KIND_DOUBLE -> {
        if (t.isNumeric()) {
          return Value.newBuilder().setDoubleValue(p.getDoubleValue()).build();
        }
        if (t == JsonToken.VALUE_STRING) {
          try {
            return Value.newBuilder().setDoubleValue(Double.parseDouble(p.getString().trim())).build();
          } catch (NumberFormatException ignored) {
            // reported below
          }
        }
        throw bad(field, kind, "a number", p);
      }
      default -> {
        return stored(p, t);
      }
    }
  }

  /** A field outside the schema, kept as it comes (see the class comment). */
  private static Value stored(JsonParser p, JsonToken t) {
    switch (t) {
      case VALUE_STRING:
        return Value.newBuilder().setStringValue(p.getString()).build();
      case VALUE_NUMBER_INT:
        return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
            ? Value.newBuilder().setStringValue(p.getText()).build()
            : Value.newBuilder().setInt64Value(p.getLongValue()).build();
      case VALUE_NUMBER_FLOAT:
        return Value.newBuilder().setDoubleValue(p.getDoubleValue()).build();
      case VALUE_TRUE:
      case VALUE_FALSE:
        return Value.newBuilder().setBoolValue(t == JsonToken.VALUE_TRUE).build();
      case START_ARRAY: {
        // One pass: collect the texts of scalar elements and, in case an element is not one, the
        // array's JSON text.
        StringWriter text = new StringWriter();
        StringList.Builder sl = StringList.newBuilder();
        boolean scalars = true;
        try (JsonGenerator g = JSON.createGenerator(text)) {
          g.writeStartArray();
          for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
            if (e.isScalarValue() && e != JsonToken.VALUE_NULL) {
              sl.addValues(scalarText(p, e));
            } else {
              scalars = false;
            }
            g.copyCurrentStructure(p);
          }
          g.writeEndArray();
        }
        return scalars
            ? Value.newBuilder().setStringListValue(sl).build()
            : Value.newBuilder().setStringValue(text.toString()).build();
      }
      default: // START_OBJECT
        return Value.newBuilder().setStringValue(jsonText(p)).build();
    }
  }

  /** The text of a scalar: strings as they are, integral numbers without ".0", booleans. */
  private static String scalarText(JsonParser p, JsonToken t) {
    return switch (t) {
      case VALUE_STRING -> p.getString();
      case VALUE_NUMBER_INT -> p.getText();
      case VALUE_NUMBER_FLOAT -> {
        double d = p.getDoubleValue();
        yield d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
      }
      default -> p.getText(); // true, false
    };
  }

  /** The compact JSON text of the value at the parser (consumed, for structures). */
  private static String jsonText(JsonParser p) {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.copyCurrentStructure(p);
    }
    return out.toString();
  }

  private static IllegalArgumentException bad(String field, FieldKind kind, String expected, JsonParser p) {
    String shown = Format.cell(jsonText(p), 40);
    return new IllegalArgumentException(
        "field '" + field + "' is " + kindName(kind) + " and needs " + expected + ", got " + shown);
  }

  /** How a JSON token's value is named in messages ("a string", "an object", ...). */
  static String typeName(JsonToken t) {
    if (t == null) {
      return "nothing";
    }
    return switch (t) {
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_STRING -> "a string";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case VALUE_NULL -> "null";
      default -> "a number";
    };
  }

  static String kindName(FieldKind k) {
    return k.name().replace("FIELD_KIND_", "");
  }
}
