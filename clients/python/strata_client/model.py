"""Plain Python values for what the API returns, and the conversions to and from its messages.

A document is a ``dict``: its ``"id"`` and its fields, with values ``str``, ``int`` (int64),
``float`` (double), ``bool``, ``bytes`` or ``list[str]`` (a string list). When writing, a nested
``dict`` or a list holding anything but scalars is stored as its JSON text, and ``None`` fields are
left out (as ``strata load`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from . import _stubs

_stubs.ensure_importable()

from strata.v1 import common_pb2, flush_pb2, fork_pb2, snapshot_pb2  # noqa: E402

Document = dict[str, Any]


def to_value(v: Any) -> common_pb2.Value:
    """A Python value as a ``strata.v1.Value`` (see the module comment)."""
    if isinstance(v, bool):  # before int: bool is an int
        return common_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return common_pb2.Value(int64_value=v)
    if isinstance(v, float):
        return common_pb2.Value(double_value=v)
    if isinstance(v, str):
        return common_pb2.Value(string_value=v)
    if isinstance(v, (bytes, bytearray)):
        return common_pb2.Value(bytes_value=bytes(v))
    if isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool)) for x in v):
        texts = [("true" if x else "false") if isinstance(x, bool) else str(x) for x in v]
        return common_pb2.Value(string_list_value=common_pb2.StringList(values=texts))
    return common_pb2.Value(string_value=json.dumps(v, separators=(",", ":"), ensure_ascii=False))


def from_value(v: common_pb2.Value) -> Any:
    """The Python value of a ``strata.v1.Value``."""
    kind = v.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "string_list_value":
        return list(v.string_list_value.values)
    return getattr(v, kind)


def to_document(doc: Mapping[str, Any], id_field: str = "id") -> common_pb2.Document:
    """A dict with an id as a ``strata.v1.Document``; raises ValueError without one."""
    if id_field not in doc or doc[id_field] is None:
        raise ValueError(f"document has no {id_field!r}: {doc!r:.80}")
    out = common_pb2.Document(id=str(doc[id_field]))
    for name, value in doc.items():
        if name != id_field and value is not None:
            out.fields[name].CopyFrom(to_value(value))
    return out


def from_document(d: common_pb2.Document) -> Document:
    """A ``strata.v1.Document`` as a dict: ``{"id": ..., **fields}`` (fields sorted by name)."""
    out: Document = {"id": d.id}
    for name in sorted(d.fields):
        out[name] = from_value(d.fields[name])
    return out


def _time(ts) -> Optional[datetime]:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=timezone.utc)


@dataclass(frozen=True)
class Ticket:
    """A FlushTicket: resolves to the first published snapshot of ``fork_id`` covering ``lsn``.

    ``str(ticket)`` is ``<fork_id>:<seq>:<lsn>``, the form ``strata flush`` prints and
    ``strata await`` and :meth:`parse` read.
    """

    fork_id: str
    lsn: int
    seq: int = 0
    fork_name: str = ""

    def __str__(self) -> str:
        return f"{self.fork_id}:{self.seq}:{self.lsn}"

    @classmethod
    def parse(cls, text: str) -> "Ticket":
        """Parses ``<fork_id>:<seq>:<lsn>`` or ``<fork_id>:<lsn>``; raises ValueError."""
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise ValueError(f"not a ticket: {text!r} (expected <fork_id>:<seq>:<lsn>)")
        try:
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"not a ticket: {text!r} (seq and lsn are integers)") from None
        if any(n < 0 for n in numbers):
            raise ValueError(f"not a ticket: {text!r} (seq and lsn are not negative)")
        seq = numbers[0] if len(numbers) == 2 else 0
        return cls(fork_id=parts[0], seq=seq, lsn=numbers[-1])

    def to_proto(self) -> flush_pb2.FlushTicket:
        return flush_pb2.FlushTicket(fork_id=self.fork_id, fork_name=self.fork_name, seq=self.seq, lsn=self.lsn)

    @classmethod
    def from_proto(cls, t: flush_pb2.FlushTicket) -> "Ticket":
        return cls(fork_id=t.fork_id, lsn=t.lsn, seq=t.seq, fork_name=t.fork_name)


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot (manifest) of a fork; ``proto`` is the full ``strata.v1.Snapshot``."""

    id: str
    fork_id: str
    fork_name: str
    seq: int
    parent_id: str
    covered_lsn: int
    kind: str  # FLUSH, COMPACTION, FORK, MERGE
    segment_count: int
    doc_count: int
    size_bytes: int
    created: Optional[datetime]
    tags: tuple[str, ...]
    proto: snapshot_pb2.Snapshot = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, s: snapshot_pb2.Snapshot) -> "Snapshot":
        return cls(
            id=s.id,
            fork_id=s.fork_id,
            fork_name=s.fork_name,
            seq=s.seq,
            parent_id=s.parent_id,
            covered_lsn=s.covered_lsn,
            kind=snapshot_pb2.SnapshotKind.Name(s.kind).replace("SNAPSHOT_KIND_", ""),
            segment_count=s.segment_count,
            doc_count=s.stats.doc_count,
            size_bytes=s.stats.size_bytes,
            created=_time(s.create_time),
            tags=tuple(s.tags),
            proto=s,
        )


@dataclass(frozen=True)
class Fork:
    """A fork (a writable line of history); ``proto`` is the full ``strata.v1.Fork``."""

    name: str
    id: str
    state: str  # ACTIVE, READ_ONLY, DROPPING
    head_snapshot_id: str
    base_snapshot_id: str
    base_fork_name: str
    created: Optional[datetime]
    proto: fork_pb2.Fork = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, f: fork_pb2.Fork) -> "Fork":
        return cls(
            name=f.name,
            id=f.id,
            state=fork_pb2.ForkState.Name(f.state).replace("FORK_STATE_", ""),
            head_snapshot_id=f.head_snapshot_id,
            base_snapshot_id=f.base_snapshot_id,
            base_fork_name=f.base_fork_name,
            created=_time(f.create_time),
            proto=f,
        )


@dataclass(frozen=True)
class WriteResult:
    """An acknowledged write: its WAL position. ``ticket`` awaits it without forcing a flush."""

    lsn: int
    fork_id: str

    @property
    def ticket(self) -> Ticket:
        return Ticket(fork_id=self.fork_id, lsn=self.lsn)


@dataclass(frozen=True)
class SearchHit:
    id: str
    score: float
    document: Document


@dataclass(frozen=True)
class SearchResult:
    """Hits of a search, the number of matches (a lower bound when ``total_hits_lower_bound``) and
    the snapshot searched."""

    hits: list[SearchHit]
    total_hits: int
    total_hits_lower_bound: bool
    snapshot_id: str


@dataclass(frozen=True)
class DropResult:
    """What dropping a fork removed."""

    fork_id: str
    drained_flushes: int
    deleted_snapshots: int
    deleted_tags: tuple[str, ...]
    reclaimed_segments: int
    reclaimed_bytes: int


@dataclass(frozen=True)
class MergeConflict:
    """A document (or, kind ``SCHEMA``, a collection) both sides of a merge changed since the base."""

    kind: str  # DOCUMENT, SCHEMA
    collection: str
    id: str
    source_lsn: int
    target_lsn: int
    source_deleted: bool
    target_deleted: bool
    detail: str


@dataclass(frozen=True)
class MergeResult:
    """What ``merge_fork`` did (or, with ``dry_run``, would do). ``outcome`` is FAST_FORWARD,
    THREE_WAY, UP_TO_DATE or CONFLICTS (nothing written; ``conflicts`` is one page of them, the next
    one fetched with ``conflict_page_token=next_conflict_page_token`` and ``dry_run=True``).
    ``ticket`` resolves to the snapshot that holds the merge."""

    outcome: str
    dry_run: bool
    base_snapshot_id: str
    source_snapshot_id: str
    target_head_snapshot_id: str
    ticket: Optional[Ticket]
    documents_put: int
    documents_deleted: int
    collections_created: int
    conflict_count: int
    conflicts: list[MergeConflict]
    next_conflict_page_token: str
    merge_lsn: int

    @classmethod
    def from_proto(cls, r: fork_pb2.MergeForkResponse) -> "MergeResult":
        return cls(
            outcome=fork_pb2.MergeOutcome.Name(r.outcome).replace("MERGE_OUTCOME_", ""),
            dry_run=r.dry_run,
            base_snapshot_id=r.base_snapshot_id,
            source_snapshot_id=r.source_snapshot_id,
            target_head_snapshot_id=r.target_head_snapshot_id,
            ticket=Ticket.from_proto(r.ticket) if r.HasField("ticket") else None,
            documents_put=r.documents_put,
            documents_deleted=r.documents_deleted,
            collections_created=r.collections_created,
            conflict_count=r.conflict_count,
            conflicts=[
                MergeConflict(
                    kind=fork_pb2.ConflictKind.Name(c.kind).replace("CONFLICT_KIND_", ""),
                    collection=c.collection,
                    id=c.id,
                    source_lsn=c.source_lsn,
                    target_lsn=c.target_lsn,
                    source_deleted=c.source_deleted,
                    target_deleted=c.target_deleted,
                    detail=c.detail,
                )
                for c in r.conflicts
            ],
            next_conflict_page_token=r.next_conflict_page_token,
            merge_lsn=r.merge_lsn,
        )


@dataclass(frozen=True)
class Change:
    """One document-level change of a snapshot: ``op`` PUT (``document`` is the new version) or
    DELETE (``document`` is None); ``lsn`` is the write's LSN in the WAL of the fork that made it."""

    snapshot_id: str
    collection: str
    id: str
    op: str
    document: Optional[Document]
    lsn: int


@dataclass(frozen=True)
class ChangeBatch:
    """One message of the change feed: changes of snapshot ``snapshot_id`` (at most about 1,000).
    ``complete`` marks the snapshot's last batch: everything up to it is delivered, and
    ``watch_changes(after=snapshot_id)`` resumes exactly after it."""

    snapshot_id: str
    seq: int
    kind: str
    changes: list[Change]
    complete: bool

    @classmethod
    def from_proto(cls, r: snapshot_pb2.WatchChangesResponse) -> "ChangeBatch":
        return cls(
            snapshot_id=r.snapshot_id,
            seq=r.seq,
            kind=snapshot_pb2.SnapshotKind.Name(r.kind).replace("SNAPSHOT_KIND_", ""),
            changes=[
                Change(
                    snapshot_id=c.snapshot_id,
                    collection=c.collection,
                    id=c.id,
                    op=snapshot_pb2.ChangeOp.Name(c.op).replace("CHANGE_OP_", ""),
                    document=from_document(c.document) if c.op == snapshot_pb2.CHANGE_OP_PUT else None,
                    lsn=c.lsn,
                )
                for c in r.changes
            ],
            complete=r.snapshot_complete,
        )
