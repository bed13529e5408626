package dev.strata.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MapEntry;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.strata.api.v1.Value;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns API messages into JSON trees for {@code --json} output. Close to the proto3 JSON mapping
 * (lowerCamelCase names, enum value names, RFC 3339 timestamps, durations as {@code "1.5s"},
 * bytes as base64), with three differences that make scripts simpler: 64-bit integers are JSON
 * numbers (not strings), scalar fields are printed even when they hold their default value
 * (unset message fields and oneof members are left out), and a {@code strata.v1.Value} is its
 * plain JSON value ({@code "text"}, {@code 42}, {@code 1.5}, {@code true}, {@code ["a","b"]})
 * rather than {@code {"stringValue": "text"}}.
 */
public final class ProtoJson {
  private ProtoJson() {}

  /** The JSON tree of {@code m}. */
  public static Object toTree(Message m) {
    if (m instanceof Value v) {
      return value(v);
    }
    if (m instanceof Timestamp t) {
      return Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
    }
    if (m instanceof com.google.protobuf.Duration d) {
      return Format.duration(java.time.Duration.ofSeconds(d.getSeconds(), d.getNanos()));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
      if (f.isMapField()) {
        Map<String, Object> map = new TreeMap<>();
        for (Object o : (List<?>) m.getField(f)) {
          MapEntry<?, ?> e = (MapEntry<?, ?>) o;
          map.put(String.valueOf(e.getKey()), fieldValue(f.getMessageType().findFieldByName("value"), e.getValue()));
        }
        out.put(f.getJsonName(), map);
      } else if (f.isRepeated()) {
        List<Object> list = new ArrayList<>();
        for (Object o : (List<?>) m.getField(f)) {
          list.add(fieldValue(f, o));
        }
        out.put(f.getJsonName(), list);
      } else if (f.hasPresence()) {
        if (m.hasField(f)) {
          out.put(f.getJsonName(), fieldValue(f, m.getField(f)));
        }
      } else {
        out.put(f.getJsonName(), fieldValue(f, m.getField(f)));
      }
    }
    return out;
  }

  private static Object fieldValue(FieldDescriptor f, Object v) {
    switch (f.getJavaType()) {
      case MESSAGE:
        return toTree((Message) v);
      case ENUM:
        return ((EnumValueDescriptor) v).getName();
      case BYTE_STRING:
        return Base64.getEncoder().encodeToString(((ByteString) v).toByteArray());
      default:
        return v; // String, Integer, Long, Float, Double, Boolean
    }
  }

  /** The plain JSON value of a document field. */
  public static Object value(Value v) {
    return switch (v.getKindCase()) {
      case STRING_VALUE -> v.getStringValue();
      case INT64_VALUE -> v.getInt64Value();
      case DOUBLE_VALUE -> v.getDoubleValue();
      case BOOL_VALUE -> v.getBoolValue();
      case BYTES_VALUE -> Base64.getEncoder().encodeToString(v.getBytesValue().toByteArray());
      case STRING_LIST_VALUE -> new ArrayList<Object>(v.getStringListValue().getValuesList());
      case KIND_NOT_SET -> null;
    };
  }

  /** Compact one-line JSON of {@code m}. */
  public static String json(Message m) {
    return Json.write(toTree(m));
  }
}
