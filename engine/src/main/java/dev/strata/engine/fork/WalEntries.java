package dev.strata.engine.fork;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import dev.strata.engine.l0.L0Record;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentCodec;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.model.StoredForm;
import dev.strata.engine.proto.CollectionDefinition;
import dev.strata.engine.proto.FieldDefinition;
import dev.strata.engine.proto.MutationRecord;
import dev.strata.engine.proto.WalEntry;
import dev.strata.engine.proto.WriteBatch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The payload of a fork's WAL records ({@code strata.engine.WalEntry} in {@code records.proto}):
 * one record per Write call, or one per collection definition. Stateless.
 *
 * <pre>
 * WalEntry       := write:1 WriteBatch | define_collection:2 CollectionDefinition
 * WriteBatch     := collection:1 string, mutations:2 MutationRecord*   (collection first)
 * MutationRecord := id:1 string, then one of
 *                     body:4 DocumentBody        (a put, format 2: what is written now)
 *                     delete:3 bool              (a tombstone)
 *                     put:2 StoredDocument       (a put, format 1: older records, read only)
 * </pre>
 *
 * A Write is encoded here once, by hand with a {@link CodedOutputStream} into an array of the
 * exact size, copying each document's body as it is; the same pass notes where each id and body
 * sits, so the record's {@link L0Record} view needs no parse. Replay scans a record with a {@link
 * CodedInputStream} into the same view, so the bodies go from the WAL's read buffer straight into
 * the L0 arena. A record with a format-1 put is converted to format 2 first (a decode and an
 * encode, once per old record).
 */
final class WalEntries {
  private static final int WAL_WRITE = StoredForm.tag(WalEntry.WRITE_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int WAL_DEFINE = StoredForm.tag(WalEntry.DEFINE_COLLECTION_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int BATCH_COLLECTION = StoredForm.tag(WriteBatch.COLLECTION_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int BATCH_MUTATION = StoredForm.tag(WriteBatch.MUTATIONS_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int MUTATION_ID = StoredForm.tag(MutationRecord.ID_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int MUTATION_PUT_FORMAT1 = StoredForm.tag(MutationRecord.PUT_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
  private static final int MUTATION_DELETE = StoredForm.tag(MutationRecord.DELETE_FIELD_NUMBER, WireFormat.WIRETYPE_VARINT);
  private static final int MUTATION_BODY = StoredForm.tag(MutationRecord.BODY_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);

  private WalEntries() {}

  /**
   * An encoded Write.
   *
   * @param bytes the WAL payload
   * @param l0 its mutations as slices of {@code bytes}, to apply to L0 once the record is durable
   */
  record WriteRecord(byte[] bytes, L0Record l0) {}

  /**
   * Encodes one Write call's record; every document's body is copied in as it is. An id given more
   * than once keeps only its last mutation (the one that would win anyway), so L0 never shows a
   * reader a version the Write replaced.
   */
  static WriteRecord encodeWrite(String collection, List<Mutation> mutations) {
    mutations = collapse(mutations);
    byte[] coll = collection.getBytes(StandardCharsets.UTF_8);
    int n = mutations.size();
    byte[][] ids = new byte[n][];
    int[] sizes = new int[n];
    int batchSize = lengthDelimitedSize(coll.length);
    for (int i = 0; i < n; i++) {
      Mutation m = mutations.get(i);
      ids[i] = m.id().getBytes(StandardCharsets.UTF_8);
      int size = lengthDelimitedSize(ids[i].length);
      size += m instanceof Mutation.Put p ? lengthDelimitedSize(p.document().bodySize()) : 2;
      sizes[i] = size;
      batchSize += lengthDelimitedSize(size);
    }
    byte[] out = new byte[lengthDelimitedSize(batchSize)];
    L0Record view = new L0Record();
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    try {
      o.writeUInt32NoTag(WAL_WRITE);
      o.writeUInt32NoTag(batchSize);
      view.reset(out, writeLengthDelimited(o, BATCH_COLLECTION, coll), coll.length);
      for (int i = 0; i < n; i++) {
        o.writeUInt32NoTag(BATCH_MUTATION);
        o.writeUInt32NoTag(sizes[i]);
        int idAt = writeLengthDelimited(o, MUTATION_ID, ids[i]);
        if (mutations.get(i) instanceof Mutation.Put p) {
          EncodedDocument d = p.document();
          o.writeUInt32NoTag(MUTATION_BODY);
          o.writeUInt32NoTag(d.bodySize());
          int bodyAt = o.getTotalBytesWritten();
          o.writeRawBytes(d.body());
          view.addPut(idAt, ids[i].length, bodyAt, d.bodySize());
        } else {
          o.writeBool(MutationRecord.DELETE_FIELD_NUMBER, true);
          view.addDelete(idAt, ids[i].length);
        }
      }
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException("a WAL record's size was computed wrong", e);
    }
    return new WriteRecord(out, view);
  }

  /** The mutations, one per id: the last mutation of an id wins, in the order of the last ones. */
  static List<Mutation> collapse(List<Mutation> mutations) {
    if (mutations.size() < 2) {
      return mutations;
    }
    Map<String, Integer> last = new HashMap<>(2 * mutations.size());
    for (int i = 0; i < mutations.size(); i++) {
      last.put(mutations.get(i).id(), i);
    }
    if (last.size() == mutations.size()) {
      return mutations;
    }
    List<Mutation> out = new ArrayList<>(last.size());
    for (int i = 0; i < mutations.size(); i++) {
      if (last.get(mutations.get(i).id()) == i) {
        out.add(mutations.get(i));
      }
    }
    return out;
  }

  private static int lengthDelimitedSize(int length) {
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(length) + length;
  }

  /** Writes a length-delimited field; returns where its bytes start. */
  private static int writeLengthDelimited(CodedOutputStream o, int tag, byte[] bytes) throws IOException {
    o.writeUInt32NoTag(tag);
    o.writeUInt32NoTag(bytes.length);
    int at = o.getTotalBytesWritten();
    o.writeRawBytes(bytes);
    return at;
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

  /**
   * Reads one record: a Write goes into {@code into} (its slices point into {@code src}, or into a
   * converted copy for a format-1 record), a definition is returned.
   *
   * @return the collection definition, or null if the record was a Write (now in {@code into})
   * @throws IllegalStateException if the bytes are not a WAL entry this version can read
   */
  static CollectionDefinition parse(long lsn, byte[] src, int off, int len, L0Record into) {
    try {
      CodedInputStream in = CodedInputStream.newInstance(src, off, len);
      int tag = in.readTag();
      if (tag == WAL_DEFINE) {
        return CollectionDefinition.parseFrom(in.readBytes());
      }
      if (tag != WAL_WRITE) {
        throw notAnEntry(lsn, "unexpected field " + WireFormat.getTagFieldNumber(tag), null);
      }
      int batchLimit = in.pushLimit(in.readRawVarint32());
      if (in.readTag() != BATCH_COLLECTION) {
        throw notAnEntry(lsn, "a write without its collection first", null);
      }
      int collLength = in.readRawVarint32();
      into.reset(src, off + in.getTotalBytesRead(), collLength);
      in.skipRawBytes(collLength);
      int t;
      while ((t = in.readTag()) != 0) {
        if (t != BATCH_MUTATION) {
          throw notAnEntry(lsn, "unexpected field " + WireFormat.getTagFieldNumber(t) + " in a write", null);
        }
        int mutationLimit = in.pushLimit(in.readRawVarint32());
        if (in.readTag() != MUTATION_ID) {
          throw notAnEntry(lsn, "a mutation without its id first", null);
        }
        int idLength = in.readRawVarint32();
        int idAt = off + in.getTotalBytesRead();
        in.skipRawBytes(idLength);
        int op = in.readTag();
        if (op == MUTATION_BODY) {
          int bodyLength = in.readRawVarint32();
          into.addPut(idAt, idLength, off + in.getTotalBytesRead(), bodyLength);
          in.skipRawBytes(bodyLength);
        } else if (op == MUTATION_DELETE) {
          in.readBool();
          into.addDelete(idAt, idLength);
        } else if (op == MUTATION_PUT_FORMAT1) {
          return parseFormat1(lsn, src, off, len, into);
        } else {
          throw notAnEntry(lsn, "a mutation without a put or a delete", null);
        }
        if (!in.isAtEnd()) {
          throw notAnEntry(lsn, "a mutation with more than one operation", null);
        }
        in.popLimit(mutationLimit);
      }
      in.popLimit(batchLimit);
      if (!in.isAtEnd()) {
        throw notAnEntry(lsn, "extra data after the write", null);
      }
      return null;
    } catch (IOException e) {
      throw notAnEntry(lsn, e.getMessage(), e);
    }
  }

  /** A record as written before format 2: decoded, converted, encoded again, then read. */
  private static CollectionDefinition parseFormat1(long lsn, byte[] src, int off, int len, L0Record into)
      throws IOException {
    WriteBatch b = WalEntry.parseFrom(CodedInputStream.newInstance(src, off, len)).getWrite();
    List<Mutation> mutations = new ArrayList<>(b.getMutationsCount());
    for (MutationRecord r : b.getMutationsList()) {
      if (r.hasPut()) {
        mutations.add(new Mutation.Put(DocumentCodec.fromFormat1(r.getId(), r.getPut())));
      } else if (r.hasBody()) {
        mutations.add(new Mutation.Put(EncodedDocument.wrap(r.getId(), r.getBody().toByteString())));
      } else {
        mutations.add(new Mutation.Delete(r.getId()));
      }
    }
    byte[] converted = encodeWrite(b.getCollection(), mutations).bytes();
    CollectionDefinition none = parse(lsn, converted, 0, converted.length, into);
    assert none == null;
    return null;
  }

  /**
   * Parses a whole record with protobuf: for the merge records ({@code MergeBatch}, {@code
   * MergeCommit}, {@code MergeMarker}), which are rare and small beside their writes (a batch's
   * writes stay bytes, read with {@link #parse}).
   *
   * @throws IllegalStateException if the bytes are not a WAL entry
   */
  static WalEntry decode(long lsn, byte[] payload) {
    try {
      return WalEntry.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw notAnEntry(lsn, e.getMessage(), e);
    }
  }

  /**
   * The mutations of a record {@link #parse} read, each put keeping its stored body byte for byte
   * (copied out of the record's bytes), so a merge's changes are never decoded to fields.
   */
  static List<Mutation> mutationsOf(L0Record r) {
    List<Mutation> out = new ArrayList<>(r.size());
    for (int i = 0; i < r.size(); i++) {
      String id = r.id(i);
      out.add(r.isTombstone(i) ? new Mutation.Delete(id) : new Mutation.Put(EncodedDocument.wrap(id, r.body(i))));
    }
    return out;
  }

  private static IllegalStateException notAnEntry(long lsn, String why, Throwable cause) {
    return new IllegalStateException("WAL record at LSN " + lsn + " is not a WalEntry: " + why, cause);
  }
}
