/**
 * The file-system seam: every byte Strata itself writes (WAL segments, manifests, the fork catalog,
 * and later the engine's own files) goes through {@link dev.strata.vfs.Vfs}, so tests can swap in
 * {@link dev.strata.vfs.FaultInjectingVfs} to fail any I/O call or to simulate a crash that loses
 * everything not yet made durable.
 *
 * <p>The idea follows Pebble's {@code vfs} package and LevelDB's {@code Env}: a small interface with
 * one production implementation ({@link dev.strata.vfs.LocalVfs}) and wrappers that add behaviour.
 * RocksDB writes through its own {@code Env} and is outside this seam.
 */
package dev.strata.vfs;
