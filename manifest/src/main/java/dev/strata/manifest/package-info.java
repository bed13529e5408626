/**
 * Snapshot manifests and the fork catalog: the durable record of what each fork's published state
 * is, and of which forks exist.
 *
 * <ul>
 *   <li>{@link dev.strata.manifest.ManifestCodec}: the manifest file format (an envelope with magic,
 *       version, length and CRC32C around a {@code strata.manifest.Manifest} protobuf).
 *   <li>{@link dev.strata.manifest.ManifestStore}: one fork's manifests, one file per seq, published
 *       atomically (temp, fsync, rename, directory fsync); the head is the highest seq.
 *   <li>{@link dev.strata.manifest.ManifestChainVerifier}: the chain invariants, as named problems.
 *   <li>{@link dev.strata.manifest.ForkCatalog}: the forks, versioned files with the same protocol.
 *   <li>{@link dev.strata.manifest.ForkNames}, {@link dev.strata.manifest.ForkIds}: validation and
 *       generation of names and ids, shared with the server.
 * </ul>
 *
 * All file I/O goes through {@link dev.strata.vfs.Vfs}. The formats and protocols are written down
 * in the format notes (docs/architecture.md, "Manifests and the fork catalog"): layouts, the
 * envelope grammar, the publish protocol with what a crash at each step leaves, the corruption
 * policy and the chain invariants.
 */
package dev.strata.manifest;
