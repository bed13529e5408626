"""The one exception type of the client: a failed call with its gRPC status and Strata's details."""

from __future__ import annotations

from typing import Optional

import grpc

from . import _stubs

_stubs.ensure_importable()

from google.rpc import error_details_pb2, status_pb2  # noqa: E402  (generated, see _stubs)

_DETAILS_KEY = "grpc-status-details-bin"


class StrataError(Exception):
    """A call that failed, as the server (or the channel) answered it.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode.NOT_FOUND``, ...).
        message: the status message.
        reason: ``google.rpc.ErrorInfo.reason``, a ``strata.v1.ErrorReason`` name such as
            ``"FORK_NOT_FOUND"`` or ``"WRITE_STALLED"``; None when the error has no ErrorInfo.
            Switch on it rather than on the message.
        metadata: ``ErrorInfo.metadata`` (``fork``, ``collection``, ``snapshot_id``, ...).
        retry_delay: ``google.rpc.RetryInfo.retry_delay`` in seconds on back-pressure
            (``RESOURCE_EXHAUSTED``, nothing was applied: send it again after that long); else None.
        field_violations: ``google.rpc.BadRequest`` field violations as (field, description).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: Optional[str] = None,
        metadata: Optional[dict[str, str]] = None,
        retry_delay: Optional[float] = None,
        field_violations: Optional[list[tuple[str, str]]] = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.retry_delay = retry_delay
        self.field_violations = list(field_violations or [])

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "StrataError":
        """The StrataError of a failed gRPC call (reads the ``grpc-status-details-bin`` trailer)."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = (error.details() if hasattr(error, "details") else None) or ""
        reason = None
        metadata: dict[str, str] = {}
        retry_delay = None
        violations: list[tuple[str, str]] = []
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        for key, value in trailers or ():
            if key != _DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            message = status.message or message
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason or None
                    metadata = dict(info.metadata)
                elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    retry_delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    info = error_details_pb2.BadRequest()
                    detail.Unpack(info)
                    violations = [(v.field, v.description) for v in info.field_violations]
        return cls(code, message, reason, metadata, retry_delay, violations)

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed: back-pressure with a RetryInfo
        delay, or UNAVAILABLE (server unreachable or restarting)."""
        if self.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return self.retry_delay is not None
        return self.code == grpc.StatusCode.UNAVAILABLE
