package dev.strata.manifest;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Encodes a {@link Manifest} into the bytes of a manifest file and back.
 *
 * <pre>
 * manifest-file := "STMF" version:u32 length:u32 crc32c:u32 payload
 * payload       := Manifest protobuf (strata/manifest/manifest.proto), length bytes
 * </pre>
 *
 * (big-endian integers; see {@link Envelope} for the checks). Stateless and thread-safe.
 */
public final class ManifestCodec {

  /** The magic of a manifest file, ASCII "STMF". */
  public static final int MAGIC = Envelope.magic("STMF");

  /** The envelope format version written and read by this build. */
  public static final int FORMAT_VERSION = Envelope.FORMAT_VERSION;

  /** Bytes of header before the protobuf payload. */
  public static final int HEADER_BYTES = Envelope.HEADER_BYTES;

  private ManifestCodec() {}

  /** The whole file content for {@code manifest}. Deterministic for equal messages. */
  public static byte[] encode(Manifest manifest) {
    return Envelope.wrap(MAGIC, manifest.toByteArray());
  }

  /**
   * Decodes the whole content of a manifest file.
   *
   * @param source the file the bytes came from, named in the exception (null for memory)
   * @throws ManifestCorruptionException if the magic, version, length, checksum or protobuf is bad
   */
  public static Manifest decode(byte[] fileBytes, Path source) throws ManifestCorruptionException {
    byte[] payload = Envelope.unwrap(MAGIC, fileBytes, source);
    try {
      return Manifest.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new ManifestCorruptionException(source, Kind.BAD_PAYLOAD, "not a Manifest protobuf: " + e.getMessage(), e);
    }
  }

  /**
   * Reads and decodes {@code file}.
   *
   * @throws ManifestCorruptionException if the content is bad
   * @throws java.nio.file.NoSuchFileException if the file does not exist
   * @throws IOException on a read failure
   */
  public static Manifest read(Vfs vfs, Path file) throws IOException {
    return decode(vfs.readAllBytes(file), file);
  }
}
