package dev.strata.manifest;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.manifest.proto.ForkCatalogFile;
import dev.strata.manifest.proto.ForkEntryState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes a {@link CatalogSnapshot} into the bytes of a catalog file and back:
 *
 * <pre>
 * catalog-file := "STFC" version:u32 length:u32 crc32c:u32 payload
 * payload      := ForkCatalogFile protobuf (strata/manifest/fork_catalog.proto)
 * </pre>
 *
 * Stateless and thread-safe.
 */
final class ForkCatalogCodec {

  /** The magic of a catalog file, ASCII "STFC". */
  static final int MAGIC = Envelope.magic("STFC");

  private ForkCatalogCodec() {}

  static byte[] encode(CatalogSnapshot snapshot, long updateTimeMs) {
    ForkCatalogFile.Builder b =
        ForkCatalogFile.newBuilder().setVersion(snapshot.version()).setUpdateTimeMs(updateTimeMs);
    for (ForkEntry e : snapshot.forks()) {
      b.addForks(dev.strata.manifest.proto.ForkEntry.newBuilder()
          .setForkId(e.forkId())
          .setName(e.name())
          .setBaseSnapshotId(e.baseSnapshotId())
          .setState(switch (e.state()) {
            case ACTIVE -> ForkEntryState.FORK_ENTRY_STATE_ACTIVE;
            case DROPPING -> ForkEntryState.FORK_ENTRY_STATE_DROPPING;
          })
          .setCreateTimeMs(e.createTimeMs()));
    }
    b.putAllTags(snapshot.tags());
    return Envelope.wrap(MAGIC, b.build().toByteArray());
  }

  /**
   * @throws ManifestCorruptionException naming {@code source} if the envelope or protobuf is bad or
   *     an entry is invalid (bad name or id, unknown state, duplicates)
   */
  static CatalogSnapshot decode(byte[] fileBytes, Path source) throws ManifestCorruptionException {
    byte[] payload = Envelope.unwrap(MAGIC, fileBytes, source);
    ForkCatalogFile file;
    try {
      file = ForkCatalogFile.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new ManifestCorruptionException(
          source, Kind.BAD_PAYLOAD, "not a ForkCatalogFile protobuf: " + e.getMessage(), e);
    }
    try {
      List<ForkEntry> entries = new ArrayList<>(file.getForksCount());
      for (dev.strata.manifest.proto.ForkEntry p : file.getForksList()) {
        ForkState state = switch (p.getState()) {
          case FORK_ENTRY_STATE_ACTIVE -> ForkState.ACTIVE;
          case FORK_ENTRY_STATE_DROPPING -> ForkState.DROPPING;
          default -> throw new IllegalArgumentException(
              "fork '" + p.getForkId() + "' has unknown state " + p.getStateValue());
        };
        entries.add(new ForkEntry(p.getForkId(), p.getName(), p.getBaseSnapshotId(), state, p.getCreateTimeMs()));
      }
      if (file.getVersion() < 0) {
        throw new IllegalArgumentException("version " + Long.toUnsignedString(file.getVersion()) + " >= 2^63");
      }
      return new CatalogSnapshot(file.getVersion(), entries, file.getTagsMap());
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new ManifestCorruptionException(source, Kind.INCONSISTENT, e.getMessage(), e);
    }
  }
}
