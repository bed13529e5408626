"""strata_client against real servers (see conftest.py): every method, deadlines, tokens, retries."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time

import grpc
import pytest

from conftest import ADMIN_TOKEN, WRITER_TOKEN
from strata_client import NO_RETRY, Client, RetryPolicy, Snapshot, StrataError, Ticket

_names = itertools.count()


def unique(prefix: str) -> str:
    """A fresh collection or fork name: tests share their server."""
    return f"{prefix}-{next(_names)}-{time.monotonic_ns() % 1_000_000}"


@pytest.fixture
def client(server):
    with Client(server.address) as c:
        yield c


@pytest.fixture
def packages(client):
    """A collection shaped like the README's Debian corpus, with 30 documents, flushed."""
    name = unique("packages")
    client.create_collection(
        name, text=["summary"], keyword=["section"], long=["installed_size_kib"], double=["score"]
    )
    docs = [
        {
            "id": f"pkg-{i:03d}",
            "summary": ("text editor " if i % 3 == 0 else "network tool ") + str(i),
            "section": "editors" if i % 3 == 0 else "net",
            "installed_size_kib": 100 * i,
            "score": i / 10,
            "tags": ["a", "b"],
            "meta": {"nested": True},
            "homepage": None,
        }
        for i in range(30)
    ]
    client.write(name, put=docs)
    client.await_flush(client.flush(), timeout=60)
    return name


def test_create_collection_is_idempotent_and_reports_the_schema(client):
    name = unique("schema")
    first = client.create_collection(name, text=["title"], keyword=["lang"], long=["stars"])
    again = client.create_collection(name, text=["title"], keyword=["lang"], long=["stars"])
    assert first.created and not again.created
    assert first.fields == {"title": "TEXT", "lang": "KEYWORD", "stars": "LONG"}


def test_write_then_get_and_batch_get_at_the_head(client, packages):
    result = client.write(packages, put=[{"id": "new", "summary": "fresh", "installed_size_kib": 7}], delete=["pkg-001"])
    assert result.lsn > 0 and result.fork_id.startswith("main")
    # read-your-writes: the head sees the write before any flush
    assert client.get(packages, "new") == {"id": "new", "installed_size_kib": 7, "summary": "fresh"}
    doc = client.get(packages, "pkg-003")
    assert doc["section"] == "editors" and doc["installed_size_kib"] == 300 and doc["score"] == 0.3
    assert doc["tags"] == ["a", "b"] and doc["meta"] == '{"nested":true}' and "homepage" not in doc
    found = client.batch_get(packages, ["pkg-002", "pkg-001", "nope"])
    assert list(found) == ["pkg-002", "pkg-001", "nope"]
    assert found["pkg-002"]["id"] == "pkg-002" and found["pkg-001"] is None and found["nope"] is None


def test_get_of_a_missing_document_is_not_found_with_its_reason(client, packages):
    with pytest.raises(StrataError) as e:
        client.get(packages, "no-such-id")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    assert e.value.reason == "DOCUMENT_NOT_FOUND"
    assert not e.value.retryable


def test_bad_input_is_invalid_argument_with_field_violations(client, packages):
    with pytest.raises(StrataError) as e:
        client.search(packages, "summary:(unbalanced")
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.reason == "REQUEST_INVALID"
    assert e.value.field_violations and e.value.field_violations[0][0] == "query"
    with pytest.raises(ValueError):
        client.write(packages, put=[{"summary": "no id"}])


def test_scan_pages_through_every_document_in_id_order(client, packages):
    ids = [d["id"] for d in client.scan(packages, page_size=7)]
    assert ids == [f"pkg-{i:03d}" for i in range(30)]
    assert [d["id"] for d in client.scan(packages, limit=5, page_size=2)] == [f"pkg-{i:03d}" for i in range(5)]
    assert [d["id"] for d in client.scan(packages, prefix="pkg-02")] == [f"pkg-{i:03d}" for i in range(20, 30)]
    assert [d["id"] for d in client.scan(packages, start_after="pkg-027", page_size=1)] == ["pkg-028", "pkg-029"]
    # stopping early ends the stream
    first = next(iter(client.scan(packages, page_size=3)))
    assert first["id"] == "pkg-000"


def test_search_with_filters_ranges_sort_and_a_snapshot(client, packages):
    r = client.search(packages, "editor", filters={"section": "editors"}, limit=100)
    assert r.total_hits == 10 and not r.total_hits_lower_bound
    assert all(h.document["section"] == "editors" for h in r.hits)
    assert r.snapshot_id.startswith("main")
    ranged = client.search(packages, "", ranges={"installed_size_kib": (1000, 1900)}, sort="-installed_size_kib")
    assert [h.id for h in ranged.hits] == [f"pkg-{i:03d}" for i in range(19, 9, -1)]
    assert client.search(packages, "", ranges={"score": (None, 0.25)}).total_hits == 3
    at = client.search(packages, "editor", snapshot=r.snapshot_id, limit=1)
    assert at.snapshot_id == r.snapshot_id and len(at.hits) == 1


def test_flush_returns_a_ticket_that_await_flush_resolves_blocking_and_as_a_future(client, packages):
    written = client.write(packages, put=[{"id": "late", "summary": "written late"}])
    ticket = client.flush()
    assert isinstance(ticket, Ticket) and ticket.lsn >= written.lsn
    assert Ticket.parse(str(ticket)) == Ticket(ticket.fork_id, ticket.lsn, ticket.seq)
    snapshot = client.await_flush(ticket, timeout=60)
    assert isinstance(snapshot, Snapshot)
    assert snapshot.covered_lsn >= written.lsn and snapshot.fork_name == "main"
    assert snapshot.kind in ("FLUSH", "COMPACTION") and snapshot.doc_count >= 31
    future = client.await_flush_future(str(ticket), timeout=60)
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=60).id == snapshot.id
    assert client.search(packages, "late", snapshot=snapshot.id).hits[0].id == "late"


def test_an_expired_deadline_is_deadline_exceeded_and_the_ticket_stays_valid(client, packages):
    written = client.write(packages, put=[{"id": "pending", "summary": "not flushed yet"}])
    ticket = written.ticket  # no flush: nothing publishes it (flush.interval is off)
    with pytest.raises(StrataError) as e:
        client.await_flush(ticket, timeout=0.3)
    assert e.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    future = client.await_flush_future(ticket, timeout=0.3)
    with pytest.raises(StrataError) as fe:
        future.result(timeout=30)
    assert fe.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    client.flush()
    assert client.await_flush(ticket, timeout=60).covered_lsn >= written.lsn


def test_watch_snapshots_replays_then_follows_new_ones(client, packages):
    seen = []
    watch = client.watch_snapshots(after_seq=-1, timeout=60)
    first = next(watch)
    seen.append(first)

    def flush_soon():
        time.sleep(0.3)
        client.write(packages, put=[{"id": "watched", "summary": "watched"}])
        client.flush()

    threading.Thread(target=flush_soon, daemon=True).start()
    head = client.search(packages, "").snapshot_id
    for s in watch:
        seen.append(s)
        if s.id > head and s.id.startswith("main"):
            break
    watch.close()
    assert seen[0].fork_name == "main"
    assert [s.seq for s in seen] == sorted(s.seq for s in seen)
    assert seen[-1].id > head
    # a watch with a time limit ends quietly
    assert all(s.seq > seen[-1].seq for s in client.watch_snapshots(after_seq=seen[-1].seq, timeout=0.5))


def test_create_fork_write_on_it_and_drop_it(client, packages):
    base = client.await_flush(client.flush(), timeout=60)
    name = unique("exp")
    fork = client.create_fork(name, from_snapshot=base.id)
    assert fork.name == name and fork.base_snapshot_id == base.id and fork.state == "ACTIVE"
    client.write(packages, delete=["pkg-000"], fork=name)
    on_fork = client.await_flush(client.flush(fork=name), timeout=60)
    assert on_fork.fork_name == name
    assert client.batch_get(packages, ["pkg-000"], fork=name) == {"pkg-000": None}
    assert client.get(packages, "pkg-000")["id"] == "pkg-000"  # main unchanged
    other = client.create_fork(unique("from-head"), from_fork="main", flush_first=True)
    assert other.base_snapshot_id.startswith("main")
    dropped = client.drop_fork(name, drain_timeout=10)
    assert dropped.fork_id == fork.id and dropped.deleted_snapshots >= 1
    client.drop_fork(other.name)
    with pytest.raises(StrataError) as e:
        client.get_fork(name)
    assert e.value.code == grpc.StatusCode.NOT_FOUND and e.value.reason == "FORK_NOT_FOUND"
    with pytest.raises(StrataError) as main:
        client.drop_fork("main")
    assert main.value.code == grpc.StatusCode.FAILED_PRECONDITION and main.value.reason == "MAIN_FORK_PROTECTED"


def test_tokens_missing_wrong_and_too_weak_are_refused(strict_server):
    with Client(strict_server.address) as anonymous:
        with pytest.raises(StrataError) as e:
            anonymous.create_collection(unique("c"), text=["t"])
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED and e.value.reason == "AUTH_TOKEN_MISSING"
    with Client(strict_server.address, token="wrong") as wrong:
        with pytest.raises(StrataError) as e:
            wrong.flush()
        assert e.value.code == grpc.StatusCode.UNAUTHENTICATED and e.value.reason == "AUTH_TOKEN_INVALID"
    with Client(strict_server.address, token=WRITER_TOKEN) as writer:
        name = unique("c")
        writer.create_collection(name, text=["t"])
        writer.write(name, put=[{"id": "1", "t": "x"}])
        with pytest.raises(StrataError) as e:
            writer.create_fork(unique("f"))
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED and e.value.reason == "ROLE_INSUFFICIENT"
    with Client(strict_server.address, token=ADMIN_TOKEN) as admin:
        admin.drop_fork(admin.create_fork(unique("f"), flush_first=True).name)


def _flush_behind_another(client: Client, writer: Client, collection: str) -> tuple[Ticket, Ticket]:
    """Starts a flush of 3,000 documents (its stream phase takes far more than the server's 1 ms
    write-stall timeout) and, while it holds the only permit, asks ``client`` for another flush.
    Returns both tickets."""
    writer.write(collection, put=[{"id": f"d{i}", "t": f"document number {i} " * 8} for i in range(3000)])
    first = writer.flush()
    writer.write(collection, put=[{"id": "last", "t": "the last one"}])
    return first, client.flush()


def test_resource_exhausted_carries_retry_info_and_is_retried_after_its_delay(strict_server):
    # the writer itself waits as long as it takes for its own flushes to get a permit
    with Client(strict_server.address, token=WRITER_TOKEN, retry=RetryPolicy(max_attempts=100)) as writer:
        name = unique("bp")
        writer.create_collection(name, text=["t"])
        writer.await_flush(writer.flush(), timeout=60)
        # without retries, the caller sees the back-pressure and its RetryInfo
        with Client(strict_server.address, token=WRITER_TOKEN, retry=NO_RETRY) as once:
            with pytest.raises(StrataError) as e:
                _flush_behind_another(once, writer, name)
        writer.await_flush(writer.flush(), timeout=60)  # the first flush is out of the way
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.reason == "WRITE_STALLED" and e.value.metadata.get("fork") == "main"
        assert e.value.retry_delay == pytest.approx(0.1) and e.value.retryable
        # with the default policy, the client waits the server's delay and the flush goes through
        retries = []
        with Client(
            strict_server.address,
            token=WRITER_TOKEN,
            retry=RetryPolicy(max_attempts=50),
            on_retry=lambda method, n, error, delay: retries.append((method, error.code, delay)),
        ) as patient:
            _, ticket = _flush_behind_another(patient, writer, name)
            assert patient.await_flush(ticket, timeout=60).covered_lsn >= ticket.lsn
        assert retries and retries[0] == ("Flush", grpc.StatusCode.RESOURCE_EXHAUSTED, pytest.approx(0.1))


def test_merge_fork_fast_forward_three_way_conflicts_and_watch_changes(client, packages):
    # A fork of a fork, merged back into its parent: the shared server's main stays untouched.
    parent = unique("mparent")
    client.create_fork(parent, from_fork="main", flush_first=True)
    start = client.get_fork(parent).head_snapshot_id
    feat = unique("mfeat")
    client.create_fork(feat, from_fork=parent)
    client.write(packages, put=[{"id": "pkg-new", "summary": "added on the fork"}], delete=["pkg-001"], fork=feat)

    dry = client.merge_fork(feat, flush_source=True, dry_run=True)
    assert dry.outcome == "FAST_FORWARD" and dry.dry_run and dry.ticket is None
    ff = client.merge_fork(feat)
    assert ff.outcome == "FAST_FORWARD" and ff.ticket is not None
    merged = client.await_flush(ff.ticket, timeout=60)
    assert merged.kind == "MERGE" and merged.proto.merged_snapshot_id == ff.source_snapshot_id
    assert client.get(packages, "pkg-new", fork=parent)["summary"] == "added on the fork"

    # Both sides change pkg-002: FAIL lists the conflict and writes nothing; source-wins merges.
    client.write(packages, put=[{"id": "pkg-002", "summary": "fork side"}], fork=feat)
    client.write(packages, put=[{"id": "pkg-002", "summary": "parent side"}], fork=parent)
    head = client.await_flush(client.flush(fork=parent), timeout=60)
    conflicts = client.merge_fork(feat, into=parent, flush_source=True)
    assert conflicts.outcome == "CONFLICTS" and conflicts.conflict_count == 1
    (c,) = conflicts.conflicts
    assert (c.collection, c.id, c.kind, c.source_deleted) == (packages, "pkg-002", "DOCUMENT", False)
    assert client.get(packages, "pkg-002", fork=parent)["summary"] == "parent side"
    with pytest.raises(StrataError) as moved:
        client.merge_fork(feat, expected_target_head=start, strategy="source-wins")
    assert moved.value.code == grpc.StatusCode.FAILED_PRECONDITION and moved.value.reason == "MERGE_TARGET_MOVED"
    current = client.get_fork(parent).head_snapshot_id  # head, or a compaction of it published since
    assert moved.value.metadata["head_snapshot_id"] == current and current >= head.id
    won = client.merge_fork(feat, strategy="source-wins", expected_target_head=current)
    assert won.outcome == "THREE_WAY" and won.conflict_count == 1
    client.await_flush(won.ticket, timeout=60)
    assert client.get(packages, "pkg-002", fork=parent)["summary"] == "fork side"
    with pytest.raises(ValueError):
        client.merge_fork(feat, strategy="both")

    # The parent's change feed from its first snapshot, applied to the state there, equals its head.
    state = {d["id"]: d for d in client.scan(packages, fork=parent, snapshot=start)}
    last = None
    batches = list(client.watch_changes(start, fork=parent, collection=packages))
    for batch in batches:
        for ch in batch.changes:
            assert ch.snapshot_id == batch.snapshot_id
            if ch.op == "PUT":
                state[ch.id] = ch.document
            else:
                state.pop(ch.id, None)
        if batch.complete:
            last = batch.snapshot_id
    assert last == client.get_fork(parent).head_snapshot_id
    assert state == {d["id"]: d for d in client.scan(packages, fork=parent)}
    # Resuming after the last complete snapshot: no more changes (a background compaction may
    # publish a snapshot without any), and a follow stream times out quietly.
    assert all(not b.changes for b in client.watch_changes(last, fork=parent))
    assert all(not b.changes for b in client.watch_changes(last, fork=parent, follow=True, timeout=0.5))
    with pytest.raises(StrataError) as bad:
        list(client.watch_changes("junk", fork=parent))
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
