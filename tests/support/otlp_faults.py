"""Fault injection shared by the gRPC and HTTP sides of the OTLP receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

# OTLP spec mapping between HTTP statuses and gRPC codes, both ways.
_GRPC_CODE_FOR_HTTP_STATUS: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
_HTTP_STATUS_FOR_GRPC_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
}


@dataclass(frozen=True)
class Fault:
    http_status: int
    grpc_code: grpc.StatusCode
    retry_after: float | None

    @property
    def message(self) -> str:
        return f"fault injected by the test OTLP receiver: {self.http_status}/{self.grpc_code.name}"

    def retry_after_header(self) -> str | None:
        """Retry-After value: whole seconds as an integer, fractions as a decimal."""
        if self.retry_after is None:
            return None
        if float(self.retry_after).is_integer():
            return str(int(self.retry_after))
        return repr(float(self.retry_after))

    def rpc_status(self) -> Status:
        """google.rpc.Status for this fault, with RetryInfo when retry_after is set."""
        status = Status(code=self.grpc_code.value[0], message=self.message)
        retry_info = self.retry_info()
        if retry_info is not None:
            detail = AnyProto()
            detail.Pack(retry_info)
            status.details.append(detail)
        return status

    def retry_info(self) -> RetryInfo | None:
        if self.retry_after is None:
            return None
        delay = Duration()
        delay.FromNanoseconds(round(self.retry_after * 1e9))
        return RetryInfo(retry_delay=delay)

    def grpc_trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        """`grpc-status-details-bin` (the gRPC rich-status convention) and
        `google.rpc.retryinfo-bin` (what the OTel Python gRPC exporter actually reads)."""
        retry_info = self.retry_info()
        if retry_info is None:
            return ()
        return (
            ("grpc-status-details-bin", self.rpc_status().SerializeToString()),
            ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
        )


class FaultPlan:
    """Thread-safe: which error the next requests get, and how long to stall before answering."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._remaining: int | None = None
        self._delay = 0.0

    def fail_with(
        self,
        http_status: int | None = None,
        grpc_code: grpc.StatusCode | None = None,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> None:
        if http_status is None and grpc_code is None:
            raise ValueError("fail_with needs http_status or grpc_code (or both)")
        if http_status is None:
            assert grpc_code is not None
            http_status = _HTTP_STATUS_FOR_GRPC_CODE.get(grpc_code, 500)
        if grpc_code is None:
            grpc_code = _GRPC_CODE_FOR_HTTP_STATUS.get(http_status, grpc.StatusCode.UNKNOWN)
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for 'until reset_faults')")
        with self._lock:
            self._fault = Fault(http_status, grpc_code, retry_after)
            self._remaining = times

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, seconds)

    def reset(self) -> None:
        with self._lock:
            self._fault = None
            self._remaining = None
            self._delay = 0.0

    @property
    def current_delay(self) -> float:
        with self._lock:
            return self._delay

    def take_fault(self) -> Fault | None:
        """The fault for the request being answered now (consumes one of `times`)."""
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault = None
                    self._remaining = None
            return fault
