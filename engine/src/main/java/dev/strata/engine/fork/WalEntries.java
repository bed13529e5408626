package dev.strata.engine.fork;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentCodec;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.CollectionDefinition;
import dev.strata.engine.proto.FieldDefinition;
import dev.strata.engine.proto.MutationRecord;
import dev.strata.engine.proto.WalEntry;
import dev.strata.engine.proto.WriteBatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Encodes the payload of a fork's WAL records ({@code strata.engine.WalEntry} in {@code
 * records.proto}): one record per Write call, or one per collection definition. Stateless.
 */
final class WalEntries {
  private WalEntries() {}

  static byte[] encodeWrite(String collection, List<Mutation> mutations) {
    return WalEntry.newBuilder().setWrite(writeBatch(collection, mutations)).build().toByteArray();
  }

  /** One collection's mutations as a {@code WriteBatch} (also a merge batch's part). */
  static WriteBatch writeBatch(String collection, List<Mutation> mutations) {
    WriteBatch.Builder b = WriteBatch.newBuilder().setCollection(collection);
    for (Mutation m : mutations) {
      MutationRecord.Builder r = MutationRecord.newBuilder().setId(m.id());
      switch (m) {
        case Mutation.Put p -> r.setPut(DocumentCodec.toProto(p.document()));
        case Mutation.Delete d -> r.setDelete(true);
      }
      b.addMutations(r);
    }
    return b.build();
  }

  static byte[] encodeDefinition(String name, CollectionSchema schema) {
    return WalEntry.newBuilder().setDefineCollection(toDefinition(name, schema)).build().toByteArray();
  }

  static CollectionDefinition toDefinition(String name, CollectionSchema schema) {
    CollectionDefinition.Builder d = CollectionDefinition.newBuilder().setName(name);
    for (FieldSpec f : schema.fields()) {
      d.addFields(
          FieldDefinition.newBuilder()
              .setName(f.name())
              .setKind(f.kind().name())
              .setAnalyzer(f.analyzer()));
    }
    return d.build();
  }

  static CollectionSchema schemaOf(CollectionDefinition d) {
    List<FieldSpec> specs = new ArrayList<>();
    for (FieldDefinition f : d.getFieldsList()) {
      specs.add(new FieldSpec(f.getName(), FieldKind.valueOf(f.getKind()), f.getAnalyzer()));
    }
    return new CollectionSchema(specs);
  }

  static WalEntry decode(long lsn, byte[] payload) {
    try {
      return WalEntry.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("WAL record at LSN " + lsn + " is not a WalEntry", e);
    }
  }

  /** The batch's mutations, one per id: the last mutation of an id in call order wins. */
  static List<Mutation> collapse(List<Mutation> mutations) {
    Map<String, Mutation> last = new LinkedHashMap<>();
    for (Mutation m : mutations) {
      last.remove(m.id());
      last.put(m.id(), m);
    }
    return new ArrayList<>(last.values());
  }

  static List<Mutation> mutationsOf(WriteBatch b) {
    List<Mutation> out = new ArrayList<>(b.getMutationsCount());
    for (MutationRecord r : b.getMutationsList()) {
      if (r.hasPut()) {
        out.add(new Mutation.Put(DocumentCodec.fromProto(r.getId(), r.getPut())));
      } else {
        out.add(new Mutation.Delete(r.getId()));
      }
    }
    return out;
  }
}
