"""The spool on its own: atomic files, oldest-first eviction, corrupt files set aside, claims
that two processes never share, and what a dead process left behind."""

from __future__ import annotations

import os
import subprocess
import sys

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_bridge.exporters.stats import DestinationStats
from otel_bridge.spool import Spool, decode_file, destination_directory, encode_file
from otel_bridge.spool.payload import Payload


def payload(spans: int, name: str = "s", run_id: str | None = None) -> Payload:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(spans):
        span = scope.spans.add()
        span.name = f"{name}-{i}"
        span.trace_id = bytes(range(16))
        span.span_id = i.to_bytes(8, "big") or b"\x01" * 8
    return Payload(request, {"run_id": run_id} if run_id else {})


def names(p: Payload) -> list[str]:
    return [s.name for r in p.request.resource_spans for sc in r.scope_spans for s in sc.spans]


def test_a_batch_round_trips_with_its_options(tmp_path):
    stats = DestinationStats("mlflow")
    spool = Spool(tmp_path, 1 << 20, stats)
    assert spool.put(payload(3, "a", run_id="run-1"))
    assert spool.put(payload(2, "b"))
    level = stats.snapshot()["spool"]
    assert (level["files"], level["spans"], level["corrupt_files"]) == (2, 5, 0)
    first = spool.claim_oldest()
    assert first is not None and first.spans == 3
    got = spool.read(first)
    assert got is not None and names(got) == ["a-0", "a-1", "a-2"]
    assert got.options == {"run_id": "run-1"}
    spool.done(first)
    second = spool.claim_oldest()
    assert second is not None and names(spool.read(second)) == ["b-0", "b-1"]
    spool.release(second)  # not sent: back, still the oldest
    again = spool.claim_oldest()
    assert again is not None and again.name == second.name
    assert stats.snapshot()["spooled"] == 5


def test_a_full_spool_evicts_the_oldest_batches_and_counts_them(tmp_path):
    stats = DestinationStats("otlp")
    one = len(encode_file(payload(10, "batch0")))
    spool = Spool(tmp_path, one * 3 + 10, stats)
    for i in range(5):
        assert spool.put(payload(10, f"batch{i}"))
    snap = stats.snapshot()
    assert snap["dropped_by_reason"] == {"spool_full": 20}  # the two oldest batches
    assert snap["spool"]["files"] == 3
    kept = []
    while (entry := spool.claim_oldest()) is not None:
        kept.append(names(spool.read(entry))[0])
        spool.done(entry)
    assert kept == ["batch2-0", "batch3-0", "batch4-0"]


def test_a_batch_larger_than_the_whole_spool_is_counted(tmp_path):
    stats = DestinationStats("otlp")
    spool = Spool(tmp_path, 1024, stats)
    assert not spool.put(payload(100))
    # never spooled, so not "spool_full" (an eviction of spans spooled before): spool_error
    assert stats.snapshot()["dropped_by_reason"] == {"spool_error": 100}


def test_a_corrupt_file_is_set_aside_and_counted_never_raised(tmp_path):
    stats = DestinationStats("otlp")
    spool = Spool(tmp_path, 1 << 20, stats)
    spool.put(payload(4, "good"))
    good = sorted(tmp_path.glob("*.span"))[0]
    # a truncated copy, and plain garbage, named like batches (older than the good one)
    data = good.read_bytes()
    (tmp_path / f"{'0' * 19}1-1-000000-7.span").write_bytes(data[: len(data) // 2])
    (tmp_path / f"{'0' * 19}2-1-000000-3.span").write_bytes(b"\x00garbage")
    read = []
    while (entry := spool.claim_oldest()) is not None:
        got = spool.read(entry)
        if got is not None:
            read.append(names(got))
            spool.done(entry)
    assert read == [["good-0", "good-1", "good-2", "good-3"]]
    assert len(list(tmp_path.glob("*.corrupt"))) == 2
    snap = stats.snapshot()
    assert snap["spool"]["corrupt_files"] == 2
    # counted from the files' headers, not their names (which claim 7 and 3): the truncated
    # copy's header says 4; the garbage has no header, so nothing can be counted for it
    assert snap["dropped_by_reason"] == {"spool_corrupt": 4}


def test_leftovers_of_a_dead_process_are_cleaned_and_its_claims_put_back(tmp_path):
    stats = DestinationStats("otlp")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    data = encode_file(payload(2, "claimed"))
    name = f"{'0' * 19}5-{pid}-000000-2.span"
    (tmp_path / f"{name}.claimed-{pid}").write_bytes(data)
    (tmp_path / f".tmp-{pid}-x.span").write_bytes(data[:10])  # a write cut short
    spool = Spool(tmp_path, 1 << 20, stats)
    assert not list(tmp_path.glob(".tmp-*"))
    entry = spool.claim_oldest()
    assert entry is not None and entry.name == name
    assert names(spool.read(entry)) == ["claimed-0", "claimed-1"]


def test_two_spools_on_one_directory_never_take_the_same_batch(tmp_path):
    a = Spool(tmp_path, 1 << 20, DestinationStats())
    b = Spool(tmp_path, 1 << 20, DestinationStats())
    for i in range(20):
        a.put(payload(1, f"p{i}"))
    taken: list[str] = []
    while True:
        ea, eb = a.claim_oldest(), b.claim_oldest()
        if ea is None and eb is None:
            break
        taken += [e.name for e in (ea, eb) if e is not None]
    assert len(taken) == len(set(taken)) == 20


def test_files_are_private_and_decode_checks_integrity(tmp_path):
    spool = Spool(tmp_path / "svc" / "otlp", 1 << 20, DestinationStats())
    spool.put(payload(1))
    [file] = (tmp_path / "svc" / "otlp").glob("*.span")
    assert file.stat().st_mode & 0o077 == 0
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    try:
        decode_file(bytes(data))
    except ValueError as error:
        assert "checksum" in str(error)
    else:
        raise AssertionError("a flipped byte went unnoticed")


def test_destination_directory_is_per_service_and_destination(tmp_path):
    assert destination_directory(tmp_path, "checkout bot/v2", "mlflow") == (
        tmp_path / "checkout_bot_v2" / "mlflow"
    )
    assert destination_directory(tmp_path, None, "otlp") == tmp_path / "unknown_service" / "otlp"
    assert os.sep not in destination_directory(tmp_path, "../../etc", "otlp").parent.name


def test_span_counts_come_from_the_files_content_never_their_names(tmp_path):
    """A name that claims 10^11 spans (a file someone named, or a future format) moves no
    counter by 10^11: the level, the evictions and the replay count the checked content."""
    stats = DestinationStats("otlp")
    huge = "99999999999"
    good = encode_file(payload(3, "named-huge"))
    (tmp_path / f"{'0' * 19}1-1-000001-{huge}.span").write_bytes(good)
    (tmp_path / f"{'0' * 19}2-1-000002-{huge}.span").write_bytes(b"\x00not a batch")
    spool = Spool(tmp_path, len(good) * 2, stats)
    assert stats.snapshot()["spool"]["spans"] == 3

    entry = spool.claim_oldest()
    assert entry is not None and entry.spans == 3
    got = spool.read(entry)
    assert got is not None and got.spans == 3
    spool.release(entry)
    for i in range(3):  # past the bound: the oldest (the 3-span file) is evicted first
        assert spool.put(payload(2, f"new{i}"))
    while (entry := spool.claim_oldest()) is not None:
        if spool.read(entry) is not None:
            spool.done(entry)
    snap = stats.snapshot()
    assert snap["dropped"] <= 3 + 2 * 3, snap  # at most every batch there was, each counted
    assert snap["dropped_by_reason"].get("spool_corrupt", 0) == 0  # no header: nothing counted
    assert snap["spool"]["spans"] == 0 and snap["spool"]["corrupt_files"] == 1


def test_decode_counts_the_spans_in_the_checked_body_not_the_header(tmp_path):
    data = bytearray(encode_file(payload(2, "h")))
    data[9:13] = (10**9).to_bytes(4, "big")  # the header's count, outside the checksum
    assert decode_file(bytes(data)).spans == 2
