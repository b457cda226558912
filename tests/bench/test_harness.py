"""The `make bench` harness imports, reads its own process from /proc, finds errors in a
server log, and turns results into the table with targets — without running anything
timed (the benchmark itself is `make bench`, never part of the suite)."""

import os

import pytest

from bench import counts, load, pages, procstat, report, run, scenarios, stack


def test_pages_bench_has_its_own_entry_point():
    assert callable(pages.run) and callable(pages.prepare)


def test_options_select_scenarios_and_rounds():
    assert run.parse_args([]).only == run.ALL
    quick = run.parse_args(["--quick", "--only", "c,a"])
    assert quick.only == "ac"
    assert quick.rounds == 1


def test_procstat_reads_this_process():
    tree = procstat.Tree(os.getpid())
    assert os.getpid() in tree.pids()
    assert tree.rss() > 0
    assert tree.cpu() >= 0
    assert procstat.machine()["cores"] >= 1


def test_log_errors_counts_records_not_traceback_lines():
    log = (
        "2026-12-01 00:56:59,398 ERROR generator.api.base unhandled error\n"
        "Traceback (most recent call last):\n"
        "psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec\n"
        "django.db.utils.OperationalError: couldn't get a connection after 10.00 sec\n"
        "2026-12-01 00:57:00,355 INFO uvicorn fine\n"
        "2026-12-01 00:57:01,000 ERROR asyncio Task exception was never retrieved\n"
        "RuntimeError: CurrentThreadExecutor already quit or is broken\n"
    )
    assert scenarios.log_errors(log) == {
        "error_records": 2,
        "pool_errors": 1,
        "executor_errors": 1,
    }


def test_targets_are_judged_beside_the_figures():
    one = {"errors": 0, "p50_ms": 10.0, "added_ms": 9.8, "cpu_ms": 7.0}
    results = {
        "a": {
            "direct": {"errors": 0, "p50_ms": 0.2},
            "litellm": one,
            "pixdash": {"errors": 0, "p50_ms": 3.0, "added_ms": 2.8, "cpu_ms": 4.0},
        },
        "f": {"pages": {"gallery": {"statements": 12, "p50_ms": 40.0, "p95_ms": 60.0}}},
    }
    rows = {row[0]: row for row in report.rows(results)}
    added = rows["(a) added latency p50 over direct"]
    assert added[3:] == ["9.8 ms", "2.8 ms", "0.29×", "yes"]
    assert rows["(f) gallery: SQL statements / p50 / p95"][-1] == "NO"
    assert "| measure |" in report.markdown_table(report.rows(results))


def test_requests_carry_unique_prompts_and_no_idempotency_key():
    target = load.Target("pixdash", "http://127.0.0.1:1/v1", "key")
    first, second = load.prompt("t", "[[px=64]]"), load.prompt("t", "[[px=64]]")
    assert first != second
    assert target.body(first)["response_format"] == "b64_json"
    assert "Idempotency-Key" not in target.headers


def test_the_bench_only_touches_its_own_databases():
    assert stack.Database("pixdash_bench_run").url.endswith("/pixdash_bench_run")
    with pytest.raises(ValueError):
        stack.Database("pixdash")


def test_pixdash_starts_the_way_the_procfile_says():
    assert stack.procfile_command("web")
    assert stack.procfile_command("worker")


def test_json_logs_count_too():
    log = (
        '{"time": "t", "level": "ERROR", "logger": "x", "message": "couldn\'t get a connection"}\n'
        '{"time": "t", "level": "INFO", "logger": "x", "message": "fine"}\n'
    )
    assert scenarios.log_errors(log) == {
        "error_records": 1,
        "pool_errors": 1,
        "executor_errors": 0,
    }


def test_counting_serves_the_production_app_behind_counters():
    command = counts.instrumented_command()
    assert "bench.instrument:application" in command
    assert "pixdash.asgi:application" not in command
