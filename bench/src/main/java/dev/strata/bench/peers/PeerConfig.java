package dev.strata.bench.peers;

import java.util.Arrays;
import java.util.Set;

/**
 * Every size and duration of one peer-benchmark run. Durations in seconds.
 *
 * @param corpusDocs packages read from the corpus (0 = all 63,666)
 * @param ingestClients client counts of workload 1
 * @param batchDocs documents per write (per transaction) in workload 1
 * @param getClients client counts of workload 2
 * @param batchGetClients client counts of workload 8 (BatchGet of {@link #BATCH_GET_IDS} ids)
 * @param searchClients client counts of workload 3 over the network
 * @param embeddedSearchThreads thread counts of workload 3 in-process (Strata engine vs raw Lucene)
 * @param pingClients client counts of workload 7
 * @param reps interleaved repetitions of every comparison (medians are reported)
 * @param warmupSeconds discarded warm-up of every run
 * @param runSeconds measured window of every run
 * @param forkScales fork workload sizes, in corpus copies (1 = the corpus, 10 = 10 replicas)
 * @param forkReps create/drop pairs per side and size
 * @param flushSeconds measured window of a flush-pipeline run (workload 4); 0 skips workload 4
 * @param flushReps repetitions of each flush-pipeline setting
 * @param recoveryMib unflushed WAL written before each kill -9 of workload 6, in MiB
 * @param recoveryReps interleaved kill -9 and restart rounds of workload 6 (each side once per round)
 * @param workloads which workloads run: "ingest", "get", "batchget", "search" (over gRPC and in-process),
 *     "search-inprocess" (in-process only, no server started), "forks", "flush", "ping", "recovery"
 */
public record PeerConfig(
    String name,
    int corpusDocs,
    int[] ingestClients,
    int[] batchDocs,
    int[] getClients,
    int[] batchGetClients,
    int[] searchClients,
    int[] embeddedSearchThreads,
    int[] pingClients,
    int reps,
    double warmupSeconds,
    double runSeconds,
    int[] forkScales,
    int forkReps,
    double flushSeconds,
    int flushReps,
    int recoveryMib,
    int recoveryReps,
    Set<String> workloads) {

  /** Every workload name, in the order they run. */
  public static final Set<String> ALL =
      new java.util.LinkedHashSet<>(java.util.List.of(
          "ping", "get", "batchget", "search", "search-inprocess", "ingest", "forks", "flush", "recovery"));

  /** Ids per call of workload 8 (BatchGet; PostgreSQL: {@code WHERE id = ANY($1)}). */
  public static final int BATCH_GET_IDS = 100;

  /** The default run: about 15–20 minutes on two cores (recovery: 1 GiB of WAL, 2 rounds). */
  public static PeerConfig full() {
    return new PeerConfig("full", 0, new int[] {1, 8, 64}, new int[] {1, 100}, new int[] {1, 8, 64}, new int[] {1, 8, 64},
        new int[] {1, 8}, new int[] {1, 2}, new int[] {1, 8, 64}, 3, 1.0, 3.0, new int[] {1, 10}, 3, 6.0, 3, 1024, 2, ALL);
  }

  /** Half the repetitions, shorter windows, forks at one size: about 6–8 minutes. */
  public static PeerConfig quick() {
    return new PeerConfig("quick", 0, new int[] {1, 8, 64}, new int[] {1, 100}, new int[] {1, 8, 64}, new int[] {1, 8, 64},
        new int[] {1, 8}, new int[] {1, 2}, new int[] {1, 8, 64}, 2, 0.5, 2.0, new int[] {1}, 2, 4.0, 1, 512, 1, ALL);
  }

  /** Tiny sizes, a few seconds per side: proves every side works, measures nothing. */
  public static PeerConfig smoke() {
    return new PeerConfig("smoke", 400, new int[] {1, 4}, new int[] {1, 10}, new int[] {1, 4}, new int[] {2},
        new int[] {2}, new int[] {1}, new int[] {2}, 1, 0.1, 0.4, new int[] {1, 2}, 1, 0, 0, 4, 1, ALL);
  }

  /** A copy with other repetitions and window. */
  public PeerConfig withTiming(int newReps, double newRunSeconds) {
    return new PeerConfig(name, corpusDocs, ingestClients, batchDocs, getClients, batchGetClients, searchClients, embeddedSearchThreads,
        pingClients, newReps, warmupSeconds, newRunSeconds, forkScales, forkReps, flushSeconds, flushReps, recoveryMib, recoveryReps, workloads);
  }

  /** A copy running only {@code only}. */
  public PeerConfig withWorkloads(Set<String> only) {
    return new PeerConfig(name, corpusDocs, ingestClients, batchDocs, getClients, batchGetClients, searchClients, embeddedSearchThreads,
        pingClients, reps, warmupSeconds, runSeconds, forkScales, forkReps, flushSeconds, flushReps, recoveryMib, recoveryReps, Set.copyOf(only));
  }

  /** A copy with other fork sizes (corpus copies). */
  public PeerConfig withForkScales(int[] scales) {
    return new PeerConfig(name, corpusDocs, ingestClients, batchDocs, getClients, batchGetClients, searchClients, embeddedSearchThreads,
        pingClients, reps, warmupSeconds, runSeconds, scales, forkReps, flushSeconds, flushReps, recoveryMib, recoveryReps, workloads);
  }

  /** A copy writing {@code mib} MiB of WAL before each kill -9 of workload 6. */
  public PeerConfig withRecoveryMib(int mib) {
    return new PeerConfig(name, corpusDocs, ingestClients, batchDocs, getClients, batchGetClients, searchClients, embeddedSearchThreads,
        pingClients, reps, warmupSeconds, runSeconds, forkScales, forkReps, flushSeconds, flushReps, mib, recoveryReps, workloads);
  }

  /** Whether workload {@code w} runs. */
  public boolean runs(String w) {
    return workloads.contains(w);
  }

  @Override
  public String toString() {
    return name + ": corpus " + (corpusDocs == 0 ? "all" : corpusDocs) + ", ingest clients " + Arrays.toString(ingestClients)
        + " x batch " + Arrays.toString(batchDocs) + ", get clients " + Arrays.toString(getClients) + ", batchget clients "
        + Arrays.toString(batchGetClients) + ", search clients "
        + Arrays.toString(searchClients) + ", in-process search threads " + Arrays.toString(embeddedSearchThreads)
        + ", ping clients " + Arrays.toString(pingClients) + ", " + reps + " reps of " + runSeconds + " s (+" + warmupSeconds
        + " s warm-up), fork sizes x" + Arrays.toString(forkScales) + " corpus, recovery " + recoveryMib + " MiB x "
        + recoveryReps + ", workloads " + workloads;
  }
}
