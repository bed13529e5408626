package dev.strata.engine.l0;

import static dev.strata.engine.l0.TestRecords.bodyOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.l0.TestRecords.Op;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.SegmentEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The arena L0 behaves as a sorted map: writers apply records (puts, overwrites, deletes, several
 * ids per record) from several threads, a rotator freezes the active buffer and
 * starts a new one as {@code MemTables} does, and readers read all along. Afterwards every buffer
 * holds exactly, in key order, the newest version per key of the records its LSN range covers, and
 * the buffers read newest first equal a {@link TreeMap} model of all records applied in LSN order.
 * During the run, every read returns a version some record really wrote for that key, and never an
 * older one than the same reader saw before in the same buffer.
 *
 * <p>Randomness comes from jqwik's seed (printed on failure), but thread interleaving does not
 * replay: a failure is a real race, to be chased with the seed and many tries.
 */
class L0BufferModelPropertyTest {
  /** Keys that share prefixes and cross the UTF-8 / UTF-16 order difference. */
  private static final String[] IDS = {
    "a", "ab", "abc", "b", "ba", "\u00e9", "\uE000", "\uD83D\uDE00", "z", "zz", "k1", "k2", "k10"
  };

  private static final Comparator<String> UTF8 =
      (x, y) -> Arrays.compareUnsigned(x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8));

  /** One applied record's winning version per id: the body, or null for a tombstone. */
  private record Applied(long lsn, Map<String, String> winners) {}

  @Property(tries = 60)
  void concurrentPutsOverwritesDeletesFreezesAndReadsMatchASortedMap(
      @ForAll @IntRange(min = 1, max = 3) int writers,
      @ForAll @IntRange(min = 20, max = 200) int recordsPerWriter,
      @ForAll @IntRange(min = 0, max = 6) int freezes,
      @ForAll long seed)
      throws Exception {
    AtomicLong lsns = new AtomicLong();
    Object rotateLock = new Object();
    // Newest first, as a ReadState lists them; index 0 is the active buffer.
    CopyOnWriteArrayList<L0Buffer> buffers = new CopyOnWriteArrayList<>(List.of(new L0Buffer(0)));
    Map<Long, Applied> log = new ConcurrentHashMap<>();
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> tasks = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      Random rnd = new Random(seed + w);
      tasks.add(
          pool.submit(
              () -> {
                go.await();
                for (int i = 0; i < recordsPerWriter; i++) {
                  List<Op> ops = new ArrayList<>();
                  Map<String, String> winners = new HashMap<>();
                  int n = 1 + rnd.nextInt(3);
                  for (int k = 0; k < n; k++) {
                    String id = IDS[rnd.nextInt(IDS.length)];
                    if (winners.containsKey(id)) {
                      continue; // the write path collapses an id given twice (WalEntries)
                    }
                    String body = rnd.nextInt(4) == 0 ? null : "v" + rnd.nextInt(1000) + "-" + "x".repeat(rnd.nextInt(40));
                    ops.add(new Op(id, body));
                    winners.put(id, body);
                  }
                  L0Record record = TestRecords.record("c", ops);
                  long lsn = lsns.incrementAndGet();
                  log.put(lsn, new Applied(lsn, winners));
                  applyRouted(buffers, lsn, record);
                }
                return null;
              }));
    }
    Random rotRnd = new Random(seed ^ 0x5eed);
    tasks.add(
        pool.submit(
            () -> {
              go.await();
              for (int f = 0; f < freezes && writing.get(); f++) {
                Thread.sleep(rotRnd.nextInt(3));
                synchronized (rotateLock) {
                  L0Buffer active = buffers.get(0);
                  long covered = active.freeze(lsns::get);
                  buffers.add(0, new L0Buffer(covered));
                }
              }
              return null;
            }));
    tasks.add(
        pool.submit(
            () -> {
              go.await();
              Map<String, Long> seen = new HashMap<>();
              Random r = new Random(seed ^ 0xbead);
              while (writing.get()) {
                List<L0Buffer> snapshot = new ArrayList<>(buffers);
                int bi = r.nextInt(snapshot.size());
                L0Buffer b = snapshot.get(bi);
                String id = IDS[r.nextInt(IDS.length)];
                DocumentVersion v = b.get("c", id);
                if (v != null) {
                  checkReal(log, id, v);
                  String key = System.identityHashCode(b) + "/" + id;
                  Long before = seen.put(key, v.lsn());
                  assertThat(v.lsn()).as("reads of %s never go back", id).isGreaterThanOrEqualTo(before == null ? 0 : before);
                }
                Iterator<SegmentEntry> it = b.scan("c", IDS[r.nextInt(IDS.length)]);
                String last = null;
                while (it.hasNext()) {
                  SegmentEntry e = it.next();
                  if (last != null) {
                    assertThat(UTF8.compare(last, e.id())).as("scan order").isNegative();
                  }
                  last = e.id();
                  checkReal(log, e.id(), e.version());
                }
              }
              return null;
            }));
    go.countDown();
    try {
      for (int i = 0; i < writers; i++) {
        tasks.get(i).get(60, TimeUnit.SECONDS);
      }
      writing.set(false);
      for (Future<?> t : tasks) {
        t.get(60, TimeUnit.SECONDS);
      }
    } finally {
      writing.set(false);
      pool.shutdownNow();
    }

    // Per buffer: exactly the newest version per key of the records in its range, in key order.
    TreeMap<String, Applied> whole = new TreeMap<>(UTF8);
    List<Applied> inOrder = new ArrayList<>(log.values());
    inOrder.sort(Comparator.comparingLong(Applied::lsn));
    for (L0Buffer b : buffers) {
      TreeMap<String, long[]> model = new TreeMap<>(UTF8);
      Map<String, String> bodies = new HashMap<>();
      for (Applied a : inOrder) {
        if (b.covers(a.lsn())) {
          a.winners().forEach((id, body) -> {
            model.put(id, new long[] {a.lsn()});
            bodies.put(id, body);
          });
        }
      }
      List<SegmentEntry> entries = new ArrayList<>();
      b.entries().forEachRemaining(entries::add);
      assertThat(entries).extracting(SegmentEntry::id).containsExactlyElementsOf(model.keySet());
      for (SegmentEntry e : entries) {
        assertThat(e.version().lsn()).as("newest LSN of %s", e.id()).isEqualTo(model.get(e.id())[0]);
        assertThat(bodyOf(e.version())).as("version of %s", e.id()).isEqualTo(bodies.get(e.id()));
        assertThat(b.get("c", e.id())).isEqualTo(e.version());
      }
      assertThat(b.entryCount()).isEqualTo(model.size());
      assertThat(b.sizeBytes()).isLessThanOrEqualTo(b.reservedBytes());
    }
    for (Applied a : inOrder) {
      a.winners().forEach((id, body) -> whole.put(id, new Applied(a.lsn(), Map.of("body", String.valueOf(body)))));
    }
    for (Map.Entry<String, Applied> e : whole.entrySet()) {
      DocumentVersion newest = null;
      for (L0Buffer b : buffers) {
        newest = b.get("c", e.getKey());
        if (newest != null) {
          break;
        }
      }
      assertThat(newest).isNotNull();
      assertThat(newest.lsn()).isEqualTo(e.getValue().lsn());
      assertThat(String.valueOf(bodyOf(newest))).isEqualTo(e.getValue().winners().get("body"));
    }
  }

  /** Applies to the buffer covering the LSN, waiting out a rotate's swap as MemTables does. */
  private static void applyRouted(List<L0Buffer> buffers, long lsn, L0Record record) {
    while (true) {
      for (L0Buffer b : buffers) {
        if (b.covers(lsn) && b.applyRecord(lsn, record)) {
          return;
        }
      }
      Thread.onSpinWait(); // the active buffer froze below lsn; its successor is being added
    }
  }

  /** The version was written for {@code id} by the record of its LSN. */
  private static void checkReal(Map<Long, Applied> log, String id, DocumentVersion v) {
    Applied a = log.get(v.lsn());
    assertThat(a).as("LSN %d of %s was handed out", v.lsn(), id).isNotNull();
    assertThat(a.winners()).containsKey(id);
    assertThat(bodyOf(v)).isEqualTo(a.winners().get(id));
  }
}
