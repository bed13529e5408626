package dev.strata.cli;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.strata.api.v1.Value;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Map;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.json.JsonFactory;

/**
 * The {@code --json} output: one compact JSON document per line. API messages are printed by
 * protobuf's {@link JsonFormat} (the proto3 JSON mapping: lowerCamelCase names, enum value names,
 * RFC 3339 timestamps, durations as {@code "1.5s"}, bytes as base64), with every field that has no
 * presence printed even when it holds its default, and map keys sorted. Then its output is
 * streamed through Jackson with two changes that make scripts simpler ({@code jq '.totalHits >
 * 100'}):
 *
 * <ul>
 *   <li>64-bit integers are JSON numbers, not strings (proto3 JSON quotes them for JavaScript's
 *       sake; every JSON tool that scripts use reads them exactly);
 *   <li>a {@code strata.v1.Value} (a document field) is its plain JSON value ({@code "text"},
 *       {@code 42}, {@code 1.5}, {@code true}, {@code ["a","b"]}) rather than {@code
 *       {"stringValue": "text"}}.
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
final class JsonOutput {
  private JsonOutput() {}

  private static final JsonFactory JSON = JsonFactory.builder().build();
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().alwaysPrintFieldsWithNoPresence().sortingMapKeys().omittingInsignificantWhitespace();

  /** One line of compact JSON: a message, or maps, lists and scalars that may hold messages. */
  static String write(Object value) {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      write(g, value);
    }
    return out.toString();
  }

  private static void write(JsonGenerator g, Object v) {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof Message m) {
      message(g, m);
    } else if (v instanceof Map<?, ?> map) {
      g.writeStartObject();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        g.writeName(String.valueOf(e.getKey()));
        write(g, e.getValue());
      }
      g.writeEndObject();
    } else if (v instanceof Iterable<?> list) {
      g.writeStartArray();
      for (Object o : list) {
        write(g, o);
      }
      g.writeEndArray();
    } else if (v instanceof Boolean b) {
      g.writeBoolean(b);
    } else if (v instanceof Double || v instanceof Float) {
      g.writeNumber(((Number) v).doubleValue());
    } else if (v instanceof Number n) {
      g.writeNumber(n.longValue());
    } else {
      g.writeString(v.toString());
    }
  }

  private static void message(JsonGenerator g, Message m) {
    String proto3;
    try {
      proto3 = PRINTER.print(m);
    } catch (InvalidProtocolBufferException e) { // only for Any with unknown types: we have none
      throw new UncheckedIOException(new java.io.IOException("cannot print " + m.getDescriptorForType().getFullName(), e));
    }
    try (JsonParser p = JSON.createParser(proto3)) {
      p.nextToken();
      copyMessage(p, g, m.getDescriptorForType());
    }
  }

  /** Copies the JSON of a message of {@code type}, the parser on its first token. */
  private static void copyMessage(JsonParser p, JsonGenerator g, Descriptor type) {
    if (p.currentToken() != JsonToken.START_OBJECT) { // well-known types printed as strings
      g.copyCurrentStructure(p);
      return;
    }
    if (type.equals(Value.getDescriptor())) {
      plainValue(p, g);
      return;
    }
    g.writeStartObject();
    while (p.nextToken() == JsonToken.PROPERTY_NAME) {
      String name = p.currentName();
      FieldDescriptor f = fieldByJsonName(type, name);
      g.writeName(name);
      p.nextToken();
      if (f == null) {
        g.copyCurrentStructure(p);
      } else if (f.isMapField()) {
        FieldDescriptor valueField = f.getMessageType().findFieldByName("value");
        g.writeStartObject();
        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
          g.writeName(p.currentName());
          p.nextToken();
          element(p, g, valueField);
        }
        g.writeEndObject();
      } else if (f.isRepeated()) {
        g.writeStartArray();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          element(p, g, f);
        }
        g.writeEndArray();
      } else {
        element(p, g, f);
      }
    }
    g.writeEndObject();
  }

  private static FieldDescriptor fieldByJsonName(Descriptor type, String jsonName) {
    for (FieldDescriptor f : type.getFields()) {
      if (f.getJsonName().equals(jsonName)) {
        return f;
      }
    }
    return null;
  }

  /** One value of field {@code f} (one element if repeated). */
  private static void element(JsonParser p, JsonGenerator g, FieldDescriptor f) {
    if (f.getJavaType() == FieldDescriptor.JavaType.LONG && p.currentToken() == JsonToken.VALUE_STRING) {
      g.writeNumber(p.getString()); // "123" -> 123 (int64, uint64 and fixed64 are quoted by proto3 JSON)
    } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      copyMessage(p, g, f.getMessageType());
    } else {
      g.copyCurrentStructure(p);
    }
  }

  /** {@code {"int64Value":"42"}} -> {@code 42}, {@code {"stringListValue":{"values":[..]}}} -> {@code [..]}. */
  private static void plainValue(JsonParser p, JsonGenerator g) {
    if (p.nextToken() != JsonToken.PROPERTY_NAME) { // {}: kind not set
      g.writeNull();
      return;
    }
    String kind = p.currentName();
    p.nextToken();
    switch (kind) {
      case "int64Value" -> g.writeNumber(p.getString());
      case "stringListValue" -> {
        p.nextToken(); // "values" or the end of an empty list's object
        if (p.currentToken() == JsonToken.PROPERTY_NAME) {
          p.nextToken();
          g.copyCurrentStructure(p);
          p.nextToken(); // } of StringList
        } else {
          g.writeStartArray();
          g.writeEndArray();
        }
      }
      default -> g.copyCurrentStructure(p); // string, double, bool, bytes (base64)
    }
    p.nextToken(); // } of Value
  }
}
