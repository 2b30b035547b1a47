"""The throughput benchmark's PostgreSQL row: a clear reason when PostgreSQL cannot run here, and
(where the binaries exist) a throwaway server that starts, answers and leaves nothing behind."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from benchmarks import postgres, throughput
from benchmarks.postgres import Postgres, PostgresUnavailable


def test_missing_binaries_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailable, match=r"not found; looked in .*no-bin.*PG_BINDIR"):
        postgres.find_bindir([tmp_path / "no-bin"])


def test_the_harness_turns_missing_postgres_into_a_skipped_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_bindir = postgres.find_bindir
    monkeypatch.setattr(postgres, "find_bindir", lambda: find_bindir([tmp_path / "none"]))
    monkeypatch.setattr(throughput, "_driver_python", lambda python: python)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where its cluster would have gone
    row = throughput._mlflow_server_run(
        "python", tmp_path / "throughput", "postgresql", 1.0, [None], log=lambda _: None
    )
    assert row["label"] == "MLflow server (PostgreSQL)"
    assert row["error"].startswith("skipped: PostgreSQL server binaries")
    assert "levels" not in row
    assert not list(tmp_path.glob("otel-bridge-pg-*"))  # its directory was removed

    [line] = [
        line for line in throughput.render({"seconds": 1, "runs": [row]}) if "PostgreSQL" in line
    ]
    assert line.startswith("| MLflow server (PostgreSQL) | - |") and "skipped:" in line


def test_a_missing_driver_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import peers

    monkeypatch.setattr(peers, "peers_python", lambda: Path("/nonexistent/python"))
    with pytest.raises(PostgresUnavailable, match=r"psycopg2.*--setup-peers"):
        throughput._driver_python("false")  # `false` imports nothing


def test_the_store_count_is_rendered_under_its_row() -> None:
    level = {
        "offered_rate": None,
        "made": 10,
        "window_s": 1.0,
        "drain_s": 0.1,
        "exported_in_window": 8,
        "exported": 10,
        "spooled": 0,
        "replayed": 0,
        "dropped": 0,
        "dropped_by_reason": {},
    }
    run = {
        "label": "MLflow server (PostgreSQL)",
        "levels": [level],
        "stored_traces": 10,
        "backend": {"version": "PostgreSQL 15.18", "settings": dict(postgres.SETTINGS)},
    }
    text = "\n".join(throughput.render({"seconds": 1, "runs": [run]}))
    assert "| (the store holds 10 traces; 10 spans exported) |" in text
    assert "PostgreSQL 15.18" in text and "`fsync`" in text


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_real_server_starts_answers_and_leaves_nothing() -> None:
    try:
        postgres.find_bindir()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    workdir = Path(tempfile.mkdtemp(prefix="otel-bridge-pg-test-"))  # reachable when root
    server = Postgres(workdir)
    try:
        try:
            server.start()
        except PostgresUnavailable as exc:
            pytest.skip(str(exc))
        assert server.uri == f"postgresql://postgres@127.0.0.1:{server.port}/mlflow"
        assert server.query("SELECT current_database(), current_setting('fsync')") == "mlflow|off"
        assert server.query("SHOW listen_addresses") == "127.0.0.1"
        process = server._process
        assert process is not None
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    assert process.poll() is not None
    assert not server.data_dir.exists()
