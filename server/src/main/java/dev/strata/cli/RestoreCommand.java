package dev.strata.cli;

import dev.strata.objectstore.ObjectStoreConfig;
import dev.strata.objectstore.S3ObjectStore;
import dev.strata.objectstore.SnapshotRestore;
import dev.strata.server.ServerConfig;
import dev.strata.vfs.LocalVfs;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "restore",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Build a data directory from object storage: one fork (--fork, default main) as of one uploaded snapshot (default: its newest), which 'strata serve' then opens.",
      "",
      "The target must be empty or missing. Endpoint, region, credentials and path style come from --config FILE < STRATA_STORAGE_* environment < these flags (keys storage.*, see docs/operations.md); the secret key only from the file or STRATA_STORAGE_SECRET_KEY. Runs offline: no server is involved."
    })
final class RestoreCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--from", required = true, paramLabel = "s3://BUCKET/PREFIX", description = "Where the tier uploaded (storage.bucket and storage.prefix of the source server).")
  String from;

  @Option(names = "--data-dir", required = true, paramLabel = "DIR", description = "The empty data directory to create.")
  Path dataDir;

  @Option(names = "--snapshot", paramLabel = "ID", description = "The snapshot to restore (default: the fork's newest uploaded one).")
  String snapshot;

  @Option(names = "--lazy", description = "Download no segment: write only the manifest, WAL start and catalog; a server started on the directory with the tier fetches segments on demand into its cache (storage.cache_bytes).")
  boolean lazy;

  @Option(names = "--config", paramLabel = "FILE", description = "A .properties file with storage.* keys.")
  Path config;

  @Option(names = "--endpoint", paramLabel = "URL", description = "S3 endpoint (key storage.endpoint; default AWS's).")
  String endpoint;

  @Option(names = "--region", paramLabel = "REGION", description = "Signing region (key storage.region; default us-east-1).")
  String region;

  @Option(names = "--access-key", paramLabel = "KEY", description = "Access key id (key storage.access_key; default: the AWS SDK's credential chain).")
  String accessKey;

  @Option(names = "--path-style", paramLabel = "BOOL", description = "Path-style bucket addressing (key storage.path_style).")
  String pathStyle;

  @Override
  public Integer call() {
    String[] location;
    try {
      location = ObjectStoreConfig.parseS3Url(from);
    } catch (IllegalArgumentException e) {
      throw new CliException("--from: " + e.getMessage(), StrataCli.EXIT_USAGE);
    }
    Map<String, String> o = new LinkedHashMap<>();
    o.put("storage.bucket", location[0]);
    o.put("storage.prefix", location[1]);
    put(o, "storage.endpoint", endpoint);
    put(o, "storage.region", region);
    put(o, "storage.access_key", accessKey);
    put(o, "storage.path_style", pathStyle);
    ObjectStoreConfig cfg;
    try {
      cfg = ServerConfig.load(config, System.getenv(), o).objectStore();
    } catch (IllegalArgumentException e) {
      throw new CliException("invalid configuration: " + e.getMessage(), StrataCli.EXIT_USAGE);
    }
    SnapshotRestore.Report r;
    try (S3ObjectStore store = S3ObjectStore.open(cfg)) {
      // --fork (the global option, default main) names the fork to restore.
      String fork = ((StrataCli) spec.root().userObject()).fork;
      r = SnapshotRestore.restore(store, cfg.prefix(), dataDir, fork, snapshot, LocalVfs.INSTANCE, lazy);
    } catch (IllegalArgumentException e) {
      throw new CliException("cannot restore: " + e.getMessage(), StrataCli.EXIT_USAGE);
    } catch (IOException | RuntimeException e) {
      throw new CliException("restore failed: " + e.getMessage() + " (delete " + dataDir + " before trying again)", StrataCli.EXIT_FAILED);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        "restored fork %s (%s) at snapshot %s (seq %d, covered LSN %d) into %s: %d segments, %s in %.1f s%n",
        r.forkName(), r.forkId(), r.snapshotId(), r.seq(), r.coveredLsn(), dataDir.toAbsolutePath().normalize(),
        r.segments(), lazy ? "none downloaded (--lazy: fetched on demand by the server)" : Format.bytes(r.bytesDownloaded()),
        r.elapsedMs() / 1000.0);
    out.flush();
    return StrataCli.EXIT_OK;
  }

  private static void put(Map<String, String> m, String key, String v) {
    if (v != null) {
      m.put(key, v);
    }
  }
}
