package dev.strata.bench.peers;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.Value;
import dev.strata.server.ApiConversions;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One Debian package of the corpus: its id (the package name, with a {@code ~N} suffix for a
 * replica) and its other fields, each a {@link String} or a {@link Long}
 * ({@code installed_size_kib}). Immutable.
 */
public record CorpusDoc(String id, Map<String, Object> fields) {

  public CorpusDoc {
    fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  /** The same fields under another id. */
  public CorpusDoc withId(String newId) {
    return new CorpusDoc(newId, fields);
  }

  /** A string field, or null if the package has none. */
  public String text(String field) {
    Object v = fields.get(field);
    return v == null ? null : v.toString();
  }

  /** {@code installed_size_kib}, or null. */
  public Long installedSizeKib() {
    return fields.get("installed_size_kib") instanceof Long l ? l : null;
  }

  /** The document as the gRPC API carries it. */
  public Document proto() {
    Document.Builder d = Document.newBuilder().setId(id);
    fields.forEach(
        (k, v) ->
            d.putFields(
                k,
                v instanceof Long l
                    ? Value.newBuilder().setInt64Value(l).build()
                    : Value.newBuilder().setStringValue(v.toString()).build()));
    return d.build();
  }

  /** The document as the engine stores it (in-process Strata). */
  public dev.strata.engine.model.Document engine() {
    return ApiConversions.engineDocument(proto());
  }

  /** The protobuf encoding of {@link #proto()}: what the raw RocksDB side stores per key. */
  public byte[] bytes() {
    return proto().toByteArray();
  }

  /** The id as UTF-8: the raw RocksDB key. */
  public byte[] idBytes() {
    return id.getBytes(StandardCharsets.UTF_8);
  }
}
