"""Python client of Strata, the storage server with snapshots and O(1) forks (``strata.v1`` gRPC API).

    from strata_client import Client

    with Client("127.0.0.1:7700") as strata:
        strata.create_collection("notes", text=["body"], keyword=["tag"])
        strata.write("notes", put=[{"id": "n1", "body": "hello world", "tag": "demo"}])
        snapshot = strata.await_flush(strata.flush())
        print(strata.search("notes", "hello", snapshot=snapshot.id).hits)

The gRPC stubs are generated from the repository's ``proto/`` with Debian's ``protoc`` the first
time this package is imported (see ``strata_client._stubs``).
"""

from .client import NO_RETRY, Client, Collection, RetryListener, RetryPolicy
from .errors import StrataError
from .model import (
    Change,
    ChangeBatch,
    Document,
    DropResult,
    Fork,
    MergeConflict,
    MergeResult,
    SearchHit,
    SearchResult,
    Snapshot,
    Ticket,
    WriteResult,
)

__all__ = [
    "Change",
    "ChangeBatch",
    "Client",
    "Collection",
    "Document",
    "DropResult",
    "Fork",
    "MergeConflict",
    "MergeResult",
    "NO_RETRY",
    "RetryListener",
    "RetryPolicy",
    "SearchHit",
    "SearchResult",
    "Snapshot",
    "StrataError",
    "Ticket",
    "WriteResult",
]
