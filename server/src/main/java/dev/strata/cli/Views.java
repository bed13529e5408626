package dev.strata.cli;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.Value;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Human-readable renderings of API objects shared by several commands. */
final class Views {
  private Views() {}

  static String schema(Collection c) {
    List<String> parts = new ArrayList<>();
    for (FieldSchema f : c.getFieldsList()) {
      String p = f.getName() + ":" + Documents.kindName(f.getKind());
      if (!f.getAnalyzer().isEmpty()) {
        p += "(" + f.getAnalyzer() + ")";
      }
      parts.add(p);
    }
    return parts.isEmpty() ? "(no indexed fields)" : String.join(" ", parts);
  }

  static String kind(Snapshot s) {
    return s.getKind().name().replace("SNAPSHOT_KIND_", "");
  }

  static String state(Fork f) {
    String st = f.getState().name().replace("FORK_STATE_", "");
    return f.getStateReason().isEmpty() ? st : st + " (" + f.getStateReason() + ")";
  }

  static void snapshot(PrintWriter out, Snapshot s) {
    List<String[]> kv = new ArrayList<>();
    kv.add(new String[] {"snapshot", s.getId()});
    kv.add(new String[] {"fork", s.getForkName() + " (" + s.getForkId() + ")"});
    kv.add(new String[] {"seq", Long.toString(s.getSeq())});
    kv.add(new String[] {"kind", kind(s)});
    kv.add(new String[] {"parent", s.getParentId().isEmpty() ? "-" : s.getParentId()});
    kv.add(new String[] {"covered lsn", Long.toString(s.getCoveredLsn())});
    kv.add(new String[] {"segments", Integer.toString(s.getSegmentCount())});
    kv.add(new String[] {"documents", Format.count(s.getStats().getDocCount())});
    kv.add(new String[] {"size", Format.bytes(s.getStats().getSizeBytes())});
    kv.add(new String[] {"created", Format.time(s.getCreateTime())});
    kv.add(new String[] {"tags", s.getTagsList().isEmpty() ? "-" : String.join(", ", s.getTagsList())});
    Table.keyValues(out, kv);
    if (s.getCollectionsCount() > 0) {
      out.println();
      Table t = new Table("COLLECTION", "DOCS", "SCHEMA").right(1);
      for (Collection c : s.getCollectionsList()) {
        t.row(c.getName(), Format.count(c.getDocCount()), schema(c));
      }
      t.print(out);
    }
  }

  static void fork(PrintWriter out, Fork f) {
    List<String[]> kv = new ArrayList<>();
    kv.add(new String[] {"fork", f.getName()});
    kv.add(new String[] {"id", f.getId()});
    kv.add(new String[] {"state", state(f)});
    kv.add(new String[] {"head", f.getHeadSnapshotId()});
    kv.add(new String[] {"base", f.getBaseSnapshotId().isEmpty() ? "-" : f.getBaseSnapshotId()});
    kv.add(new String[] {"base fork", f.getBaseForkName().isEmpty() ? "-" : f.getBaseForkName()});
    kv.add(new String[] {"created", Format.time(f.getCreateTime())});
    Table.keyValues(out, kv);
  }

  static void forks(PrintWriter out, List<Fork> forks) {
    Table t = new Table("FORK", "ID", "STATE", "HEAD SNAPSHOT", "BASE SNAPSHOT", "CREATED");
    for (Fork f : forks) {
      t.row(
          f.getName(),
          f.getId(),
          state(f),
          f.getHeadSnapshotId(),
          f.getBaseSnapshotId().isEmpty() ? "-" : f.getBaseSnapshotId(),
          Format.time(f.getCreateTime()));
    }
    t.print(out);
  }

  static void document(PrintWriter out, Document d) {
    List<String[]> kv = new ArrayList<>();
    kv.add(new String[] {"id", d.getId()});
    Map<String, Value> sorted = new TreeMap<>(d.getFieldsMap());
    for (Map.Entry<String, Value> e : sorted.entrySet()) {
      kv.add(new String[] {e.getKey(), Format.value(e.getValue())});
    }
    Table.keyValues(out, kv);
  }
}
