"""The Strata client: one gRPC channel, typed methods, deadlines, retries that honour RetryInfo."""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import grpc

from . import _stubs
from .errors import StrataError
from .model import (
    ChangeBatch,
    Document,
    DropResult,
    Fork,
    MergeResult,
    SearchHit,
    SearchResult,
    Snapshot,
    Ticket,
    WriteResult,
    from_document,
    to_document,
)

_stubs.ensure_importable()

from google.protobuf import duration_pb2  # noqa: E402
from strata.v1 import (  # noqa: E402
    collection_pb2,
    common_pb2,
    collection_pb2_grpc,
    document_pb2,
    document_pb2_grpc,
    flush_pb2,
    flush_pb2_grpc,
    fork_pb2,
    fork_pb2_grpc,
    snapshot_pb2,
    snapshot_pb2_grpc,
)

TlsOption = Union[None, bool, str, Path, bytes]


@dataclass(frozen=True)
class RetryPolicy:
    """When the client sends a failed call again.

    * ``RESOURCE_EXHAUSTED`` with a ``google.rpc.RetryInfo`` (Strata's back-pressure: nothing was
      applied) is retried after exactly the server's ``retry_delay``; without RetryInfo it is not
      back-pressure (e.g. a request above the server's size limit) and is not retried.
    * ``UNAVAILABLE`` (server unreachable, restarting or shutting down) is retried after a random
      wait in ``[0, b)``: ``b`` starts at ``initial_backoff`` seconds and is multiplied by
      ``multiplier`` after each retry, up to ``max_backoff`` (full jitter). Not for ``create_fork``
      and ``drop_fork``, which must not be repeated blindly after a broken connection.

    At most ``max_attempts`` attempts (the first included), all within the call's one timeout: a
    retry whose wait would pass it is not made.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1: {self.max_attempts}")
        if not 0 < self.initial_backoff <= self.max_backoff or self.multiplier < 1:
            raise ValueError(f"need 0 < initial_backoff <= max_backoff and multiplier >= 1: {self}")


NO_RETRY = RetryPolicy(max_attempts=1)

#: called before each retry with (method, retry number from 1, the error, the wait in seconds)
RetryListener = Callable[[str, int, StrataError, float], None]


@dataclass(frozen=True)
class Collection:
    """A collection: its schema (field name -> TEXT, KEYWORD, LONG, DOUBLE, STORED) and, from
    ``create_collection``, whether this call created it."""

    name: str
    fields: dict[str, str]
    doc_count: int
    created: bool = False


class Client:
    """A connection to a Strata server.

    ``Client(address, token=None, tls=None)``: ``address`` is ``host:port``; ``token`` is sent as
    ``authorization: Bearer <token>`` on every call (None for a server without tokens); ``tls`` is
    None or False for plaintext, True for TLS trusting the system's CAs, or the path (or the PEM
    bytes) of the CA certificates to trust.

    Every call has a deadline: its ``timeout`` argument, else the client's ``timeout`` (30 s).
    A failed call raises :class:`StrataError`; calls are retried per ``retry`` (:class:`RetryPolicy`).
    ``fork`` is the default fork of every method (``"main"``).

    One channel per client; thread-safe (share one client between threads). Close it (or use it as
    a context manager) to release the connection.
    """

    def __init__(
        self,
        address: str = "127.0.0.1:7700",
        token: Optional[str] = None,
        tls: TlsOption = None,
        *,
        fork: str = "main",
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        on_retry: Optional[RetryListener] = None,
        max_message_bytes: int = 64 << 20,
    ) -> None:
        self.address = address
        self.fork = fork
        self.timeout = timeout
        self.retry = retry
        self.on_retry = on_retry
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.primary_user_agent", "strata-client-python"),
        ]
        if tls is None or tls is False:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            roots = None
            if isinstance(tls, (str, Path)):
                roots = Path(tls).read_bytes()
            elif isinstance(tls, bytes):
                roots = tls
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(roots), options=options)
        self._collections = collection_pb2_grpc.CollectionServiceStub(self._channel)
        self._documents = document_pb2_grpc.DocumentServiceStub(self._channel)
        self._flushes = flush_pb2_grpc.FlushServiceStub(self._channel)
        self._forks = fork_pb2_grpc.ForkServiceStub(self._channel)
        self._snapshots = snapshot_pb2_grpc.SnapshotServiceStub(self._channel)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls and retries

    def _retry_delay(self, error: StrataError, attempt: int, bound: float, unavailable_too: bool) -> Optional[float]:
        """The wait before the next attempt, or None if ``error`` is final."""
        if attempt >= self.retry.max_attempts:
            return None
        if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is not None:
            return error.retry_delay
        if error.code == grpc.StatusCode.UNAVAILABLE and unavailable_too:
            return random.uniform(0, bound)
        return None

    def _wait_before_retry(self, method: str, attempt: int, error: StrataError, delay: float, bound: float) -> float:
        """Tells the listener, sleeps ``delay`` and returns the next back-off bound."""
        if self.on_retry is not None:
            self.on_retry(method, attempt, error, delay)
        time.sleep(delay)
        return min(bound * self.retry.multiplier, self.retry.max_backoff)

    def _call(self, method: str, rpc: Any, request: Any, timeout: Optional[float], idempotent: bool = True) -> Any:
        """One unary call with its deadline, retried per the policy."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        bound = self.retry.initial_backoff
        attempt = 1
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                return rpc(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as e:
                error = StrataError.from_rpc_error(e)
                cause = e
            delay = self._retry_delay(error, attempt, bound, idempotent)
            if delay is None or time.monotonic() + delay >= deadline:
                raise error from cause
            bound = self._wait_before_retry(method, attempt, error, delay, bound)
            attempt += 1

    def _fork(self, fork: Optional[str]) -> str:
        return self.fork if fork is None else fork

    # ------------------------------------------------------------------ collections

    def create_collection(
        self,
        name: str,
        *,
        text: Sequence[str] = (),
        keyword: Sequence[str] = (),
        long: Sequence[str] = (),
        double: Sequence[str] = (),
        fork: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Collection:
        """Creates the collection with this schema, or returns it if it exists with the same one
        (``ALREADY_EXISTS``/``FAILED_PRECONDITION`` if with another). Fields not named are stored,
        not indexed."""
        fields = []
        for kind, names in (("TEXT", text), ("KEYWORD", keyword), ("LONG", long), ("DOUBLE", double)):
            for n in names:
                fields.append(
                    common_pb2.FieldSchema(name=n, kind=common_pb2.FieldKind.Value("FIELD_KIND_" + kind))
                )
        request = collection_pb2.CreateOrGetCollectionRequest(fork=self._fork(fork), name=name, fields=fields)
        r = self._call("CreateOrGetCollection", self._collections.CreateOrGetCollection, request, timeout)
        return _collection(r.collection, r.created)

    # ------------------------------------------------------------------ documents

    def write(
        self,
        collection: str,
        put: Iterable[Mapping[str, Any]] = (),
        delete: Iterable[str] = (),
        *,
        fork: Optional[str] = None,
        durable: bool = True,
        timeout: Optional[float] = None,
    ) -> WriteResult:
        """One atomic write: puts (dicts with an ``"id"``, replacing whole documents) and deletes
        by id, all or nothing. ``durable`` (default) answers after the WAL's fsync, else after the
        append (fsynced within ``wal.sync_interval``). Returns the write's LSN."""
        mutations = [document_pb2.Mutation(put=to_document(d)) for d in put]
        mutations += [document_pb2.Mutation(delete_id=i) for i in delete]
        request = document_pb2.WriteRequest(
            fork=self._fork(fork),
            collection=collection,
            mutations=mutations,
            durability=document_pb2.DURABILITY_SYNC if durable else document_pb2.DURABILITY_ASYNC,
        )
        r = self._call("Write", self._documents.Write, request, timeout)
        return WriteResult(lsn=r.lsn, fork_id=r.fork_id)

    def get(
        self,
        collection: str,
        id: str,
        *,
        snapshot: Optional[str] = None,
        fork: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Document:
        """One document, at the fork's head (including writes not flushed yet) or at a snapshot.
        A missing one raises StrataError ``NOT_FOUND`` (reason ``DOCUMENT_NOT_FOUND``)."""
        request = document_pb2.GetRequest(
            fork=self._fork(fork), collection=collection, id=id, snapshot_id=snapshot or ""
        )
        return from_document(self._call("Get", self._documents.Get, request, timeout).document)

    def batch_get(
        self,
        collection: str,
        ids: Sequence[str],
        *,
        snapshot: Optional[str] = None,
        fork: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> dict[str, Optional[Document]]:
        """Up to 1000 documents by id: ``{id: document, or None if missing}`` in the order asked."""
        request = document_pb2.BatchGetRequest(
            fork=self._fork(fork), collection=collection, ids=list(ids), snapshot_id=snapshot or ""
        )
        r = self._call("BatchGet", self._documents.BatchGet, request, timeout)
        return {x.id: (from_document(x.document) if x.found else None) for x in r.results}

    def scan(
        self,
        collection: str,
        *,
        prefix: Optional[str] = None,
        start_after: Optional[str] = None,
        limit: Optional[int] = None,
        snapshot: Optional[str] = None,
        page_size: int = 1000,
        fork: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Iterator[Document]:
        """Documents in id order, fetched a page (``page_size``) at a time: each page is one Scan
        call with its own deadline that starts after the last id seen, so a long scan never
        outlives a deadline and a broken stream resumes where it stopped. Pass ``snapshot`` for a
        consistent view across pages (the head can change between them)."""
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1: {page_size}")
        last = start_after
        left = limit
        bound = self.retry.initial_backoff
        attempt = 1
        while left is None or left > 0:
            want = page_size if left is None else min(page_size, left)
            request = document_pb2.ScanRequest(
                fork=self._fork(fork),
                collection=collection,
                snapshot_id=snapshot or "",
                id_prefix=prefix or "",
                limit=want,
            )
            if last is not None:
                request.start_after_id = last
            got = 0
            stream = self._documents.Scan(
                request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata
            )
            try:
                for response in stream:
                    for d in response.documents:
                        got += 1
                        last = d.id
                        if left is not None:
                            left -= 1
                        yield from_document(d)
            except grpc.RpcError as e:
                error = StrataError.from_rpc_error(e)
                delay = self._retry_delay(error, attempt, bound, True)
                if delay is None:
                    raise error from e
                bound = self._wait_before_retry("Scan", attempt, error, delay, bound)
                attempt += 1
                continue  # resume after `last`
            finally:
                stream.cancel()  # no-op once finished; ends the call if the caller stopped early
            if got < want:
                return
            attempt = 1

    def search(
        self,
        collection: str,
        query: str = "",
        *,
        filters: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        ranges: Optional[Mapping[str, tuple[Optional[float], Optional[float]]]] = None,
        sort: Optional[str] = None,
        limit: int = 10,
        snapshot: Optional[str] = None,
        wait: bool = False,
        fork: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> SearchResult:
        """A Lucene query-string search over a published snapshot (the fork's head by default).

        ``filters`` keep documents whose KEYWORD field has a value; ``ranges`` map a LONG/DOUBLE
        field to ``(low, high)`` (inclusive, either may be None); ``sort`` orders by a LONG/DOUBLE
        field (``"-field"`` descending) instead of by score; ``wait`` first makes every write
        acknowledged so far searchable (``WAIT_FOR_FLUSHED``); ``snapshot`` searches that one.
        """
        request = document_pb2.SearchRequest(
            fork=self._fork(fork),
            collection=collection,
            query=query,
            limit=limit,
            snapshot_id=snapshot or "",
            wait_for=document_pb2.WAIT_FOR_FLUSHED if wait else document_pb2.WAIT_FOR_NONE,
        )
        for name, values in (filters or {}).items():
            values = [values] if isinstance(values, str) else list(values)
            request.term_filters.add(field=name, values=values)
        for name, (low, high) in (ranges or {}).items():
            r = request.range_filters.add(field=name)
            for bound, value in ((r.lower, low), (r.upper, high)):
                if value is None:
                    continue
                if isinstance(value, int):
                    bound.long_value = value
                else:
                    bound.double_value = float(value)
        if sort:
            descending = sort.startswith("-")
            request.sort.field = sort.lstrip("-")
            request.sort.order = document_pb2.SORT_ORDER_DESCENDING if descending else document_pb2.SORT_ORDER_ASCENDING
        r = self._call("Search", self._documents.Search, request, timeout)
        return SearchResult(
            hits=[SearchHit(id=h.id, score=h.score, document=from_document(h.document)) for h in r.hits],
            total_hits=r.total_hits,
            total_hits_lower_bound=r.total_hits_lower_bound,
            snapshot_id=r.snapshot_id,
        )

    # ------------------------------------------------------------------ flushes and snapshots

    def flush(self, *, fork: Optional[str] = None, timeout: Optional[float] = None) -> Ticket:
        """Flushes the fork: every write acknowledged so far goes into the next snapshot. Returns
        the ticket at once; :meth:`await_flush` waits for its snapshot."""
        request = flush_pb2.FlushRequest(fork=self._fork(fork), wait=False)
        return Ticket.from_proto(self._call("Flush", self._flushes.Flush, request, timeout).ticket)

    def await_flush(self, ticket: Union[Ticket, str], timeout: Optional[float] = None) -> Snapshot:
        """Blocks until ``ticket`` resolves and returns its snapshot: the first published snapshot
        of the ticket's fork that covers its LSN. Raises StrataError ``DEADLINE_EXCEEDED`` once
        ``timeout`` (default: the client's) passes; the ticket stays valid, await it again."""
        return self.await_flush_future(ticket, timeout).result()

    def await_flush_future(
        self, ticket: Union[Ticket, str], timeout: Optional[float] = None
    ) -> "concurrent.futures.Future[Snapshot]":
        """:meth:`await_flush` without blocking: a ``concurrent.futures.Future`` of the snapshot
        (or of the StrataError). No thread waits meanwhile; cancelling the future cancels the call.
        ``UNAVAILABLE`` is retried per the policy, within ``timeout``."""
        if isinstance(ticket, str):
            ticket = Ticket.parse(ticket)
        request = flush_pb2.AwaitFlushRequest(ticket=ticket.to_proto())
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        result: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()
        self._await_attempt(request, deadline, result, 1, self.retry.initial_backoff)
        return result

    def _await_attempt(self, request, deadline: float, result: concurrent.futures.Future, attempt: int, bound: float) -> None:
        if result.done():
            return
        call = self._flushes.AwaitFlush.future(
            request, timeout=max(0.0, deadline - time.monotonic()), metadata=self._metadata
        )
        result.add_done_callback(lambda f: call.cancel() if f.cancelled() else None)

        def done(c: grpc.Future) -> None:
            if result.done():
                return
            try:
                snapshot = Snapshot.from_proto(c.result().snapshot)
            except grpc.FutureCancelledError:
                return
            except grpc.RpcError as e:
                error = StrataError.from_rpc_error(e)
                delay = self._retry_delay(error, attempt, bound, True)
                if delay is not None and time.monotonic() + delay < deadline:
                    if self.on_retry is not None:
                        self.on_retry("AwaitFlush", attempt, error, delay)
                    nxt = min(bound * self.retry.multiplier, self.retry.max_backoff)
                    timer = threading.Timer(delay, self._await_attempt, (request, deadline, result, attempt + 1, nxt))
                    timer.daemon = True
                    timer.start()
                    return
                _settle(result, error=error)
                return
            _settle(result, value=snapshot)

        call.add_done_callback(done)

    def watch_snapshots(
        self,
        *,
        fork: Optional[str] = None,
        after_seq: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Iterator[Snapshot]:
        """The fork's snapshots as they are published: first the retained ones with a seq greater
        than ``after_seq`` (-1: all retained), then each new one, blocking in between. Ends
        quietly once ``timeout`` seconds have passed (None: never); close the iterator to stop
        earlier. A broken stream (``UNAVAILABLE``) is resumed after the last seq seen."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = after_seq
        bound = self.retry.initial_backoff
        attempt = 1
        while True:
            request = flush_pb2.WatchSnapshotsRequest(fork=self._fork(fork))
            if last is not None:
                request.after_seq = last
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            stream = self._flushes.WatchSnapshots(request, timeout=remaining, metadata=self._metadata)
            try:
                for response in stream:
                    last = response.snapshot.seq
                    attempt = 1
                    yield Snapshot.from_proto(response.snapshot)
                return
            except grpc.RpcError as e:
                error = StrataError.from_rpc_error(e)
                if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
                    return  # the watch's time is up
                delay = self._retry_delay(error, attempt, bound, True)
                if delay is None or (deadline is not None and time.monotonic() + delay >= deadline):
                    raise error from e
                bound = self._wait_before_retry("WatchSnapshots", attempt, error, delay, bound)
                attempt += 1
            finally:
                stream.cancel()

    # ------------------------------------------------------------------ forks (admin)

    def create_fork(
        self,
        name: str,
        *,
        from_snapshot: Optional[str] = None,
        from_fork: Optional[str] = None,
        flush_first: bool = False,
        timeout: Optional[float] = None,
    ) -> Fork:
        """Creates a fork in O(1) from a retained snapshot, or from another fork's head (default:
        this client's fork), optionally flushing it first so that every write acknowledged on it is
        included. Needs an admin token on a server with tokens."""
        request = fork_pb2.CreateForkRequest(name=name)
        if from_snapshot is not None:
            if from_fork is not None or flush_first:
                raise ValueError("from_snapshot excludes from_fork and flush_first")
            request.from_snapshot_id = from_snapshot
        else:
            request.from_fork = from_fork or self.fork
            request.flush_first = flush_first
        r = self._call("CreateFork", self._forks.CreateFork, request, timeout, idempotent=False)
        return Fork.from_proto(r.fork)

    def drop_fork(self, name: str, *, drain_timeout: float = 30.0, timeout: Optional[float] = None) -> DropResult:
        """Drops a fork (not ``main``): waits up to ``drain_timeout`` seconds for its flushes in
        flight, then deletes its WAL, snapshots and tags and reclaims the segments no other fork
        uses. ``DEADLINE_EXCEEDED`` (reason ``DRAIN_TIMEOUT``) leaves the fork whole. The call's
        deadline is ``timeout`` plus the drain timeout."""
        seconds = int(drain_timeout)
        request = fork_pb2.DropForkRequest(
            name=name,
            drain_timeout=duration_pb2.Duration(seconds=seconds, nanos=int((drain_timeout - seconds) * 1e9)),
        )
        call_timeout = (self.timeout if timeout is None else timeout) + drain_timeout
        r = self._call("DropFork", self._forks.DropFork, request, call_timeout, idempotent=False)
        return DropResult(
            fork_id=r.fork_id,
            drained_flushes=r.drained_flushes,
            deleted_snapshots=r.deleted_snapshots,
            deleted_tags=tuple(r.deleted_tags),
            reclaimed_segments=r.reclaimed_segments,
            reclaimed_bytes=r.reclaimed_bytes,
        )

    def get_fork(self, name: str, *, timeout: Optional[float] = None) -> Fork:
        """One fork by name (``NOT_FOUND`` if there is none)."""
        r = self._call("GetFork", self._forks.GetFork, fork_pb2.GetForkRequest(name=name), timeout)
        return Fork.from_proto(r.fork)


    _STRATEGIES = {
        "fail": fork_pb2.MERGE_STRATEGY_FAIL,
        "source-wins": fork_pb2.MERGE_STRATEGY_SOURCE_WINS,
        "target-wins": fork_pb2.MERGE_STRATEGY_TARGET_WINS,
    }

    def merge_fork(
        self,
        source: str,
        *,
        into: Optional[str] = None,
        strategy: str = "fail",
        expected_target_head: Optional[str] = None,
        dry_run: bool = False,
        flush_source: bool = False,
        conflict_page_size: int = 0,
        conflict_page_token: str = "",
        timeout: Optional[float] = None,
    ) -> MergeResult:
        """Merges fork ``source`` into ``into`` (default: the fork it was created from): a
        fast-forward when the target did not change since the merge base, else a three-way merge
        written atomically. ``strategy`` ``fail`` (default) writes nothing when a document changed
        on both sides and returns the conflicts (outcome CONFLICTS, not an error); ``source-wins``
        and ``target-wins`` resolve them. ``expected_target_head`` makes it conditional
        (``FAILED_PRECONDITION``, reason ``MERGE_TARGET_MOVED``, when the target moved). Admin
        token. Not retried: a merge that may have run is checked with ``dry_run=True``."""
        if strategy not in self._STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(self._STRATEGIES)}, got {strategy!r}")
        request = fork_pb2.MergeForkRequest(
            source=source,
            target=into or "",
            strategy=self._STRATEGIES[strategy],
            expected_target_head=expected_target_head or "",
            dry_run=dry_run,
            flush_source=flush_source,
            conflict_page_size=conflict_page_size,
            conflict_page_token=conflict_page_token,
        )
        r = self._call("MergeFork", self._forks.MergeFork, request, timeout, idempotent=False)
        return MergeResult.from_proto(r)

    def watch_changes(
        self,
        after: str,
        *,
        fork: Optional[str] = None,
        collection: Optional[str] = None,
        follow: bool = False,
        timeout: Optional[float] = None,
    ) -> Iterator[ChangeBatch]:
        """The change feed of a fork: every put and delete of each snapshot published after
        snapshot ``after`` (a snapshot of the fork or its base snapshot), in snapshot order, as
        batches; a snapshot's last batch has ``complete`` set, and ``after=`` its ``snapshot_id``
        resumes exactly there (across reconnects, restarts and compactions). Applying the changes
        to the state at ``after`` (a ``scan`` at that snapshot) gives the state at each snapshot.
        With ``follow`` the iterator then waits for new snapshots; it ends quietly once ``timeout``
        seconds have passed (None: never) or when closed. A position retention has expired fails
        with ``FAILED_PRECONDITION``, reason ``CHANGE_POSITION_EXPIRED``, and
        ``metadata["oldest_retained_snapshot_id"]``."""
        request = snapshot_pb2.WatchChangesRequest(
            fork=self._fork(fork), collection=collection or "", after_snapshot_id=after, follow=follow
        )
        stream = self._snapshots.WatchChanges(request, timeout=timeout, metadata=self._metadata)
        try:
            for response in stream:
                yield ChangeBatch.from_proto(response)
        except grpc.RpcError as e:
            error = StrataError.from_rpc_error(e)
            if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
                return  # the watch's time is up
            raise error from e
        finally:
            stream.cancel()

def _collection(c: collection_pb2.Collection, created: bool = False) -> Collection:
    fields = {f.name: common_pb2.FieldKind.Name(f.kind).replace("FIELD_KIND_", "") for f in c.fields}
    return Collection(name=c.name, fields=fields, doc_count=c.doc_count, created=created)


def _settle(result: concurrent.futures.Future, value: Any = None, error: Optional[BaseException] = None) -> None:
    """Completes ``result`` unless the caller cancelled it meanwhile."""
    try:
        if error is not None:
            result.set_exception(error)
        else:
            result.set_result(value)
    except concurrent.futures.InvalidStateError:
        pass
