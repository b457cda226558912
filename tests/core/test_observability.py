"""Log lines carry the request's context; one line per API request; never a key."""

import json
import logging

from django.conf import settings

from pixdash.core import observability


def _api_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "api_request"]


def test_each_api_request_logs_one_line_with_route_status_latency_and_credits(
    client, db, alice_key, caplog
):
    caplog.set_level(logging.INFO)

    response = client.get("/v1/models/nano-banana", headers=alice_key.headers)

    [line] = _api_lines(caplog)
    assert line.route == "/v1/models/<str:model_id>"
    assert line.method == "GET" and line.status == 200
    assert line.latency_ms >= 0
    assert line.credits == "0"
    assert line.request_id == response["X-Request-Id"]
    assert line.team == alice_key.api_key.team_id
    assert line.key_prefix == alice_key.api_key.prefix


def test_lines_logged_during_a_request_carry_its_context_and_never_the_key(
    client, db, alice_key, caplog, monkeypatch
):
    from generator import catalog

    resolve = catalog.resolve

    def logging_resolve(name):
        logging.getLogger("generator.catalog").warning("resolving %s", name)
        return resolve(name)

    monkeypatch.setattr(catalog, "resolve", logging_resolve)
    caplog.set_level(logging.INFO)

    response = client.get("/v1/models/nano-banana", headers=alice_key.headers)

    [inner] = [r for r in caplog.records if r.name == "generator.catalog"]
    assert inner.request_id == response["X-Request-Id"]
    assert inner.key_prefix == alice_key.api_key.prefix
    assert "team=" in inner.context and response["X-Request-Id"] in inner.context
    for record in caplog.records:
        assert alice_key.raw not in record.getMessage()
        assert alice_key.raw not in json.dumps(vars(record), default=str)


def test_a_rejected_key_is_logged_with_the_request_id_but_no_team(client, db, caplog):
    caplog.set_level(logging.INFO)

    client.get("/v1/models", headers={"Authorization": "Bearer pd_live_" + "x" * 38})

    [line] = _api_lines(caplog)
    assert line.status == 401
    assert not hasattr(line, "team")


def test_dashboard_requests_are_not_api_lines(client, db, caplog):
    caplog.set_level(logging.INFO)

    client.get("/accounts/login/")

    assert _api_lines(caplog) == []


def test_the_json_format_writes_one_object_per_line_with_the_context():
    config = dict(settings.LOGGING["formatters"]["json"])
    formatter = observability.JsonFormatter(**{k: v for k, v in config.items() if k != "()"})
    record = logging.LogRecord("generator.jobs", logging.INFO, __file__, 1, "done %s", ("x",), None)
    token = observability.start(request_id="req_1")
    try:
        observability.bind(team=7, key_prefix="pd_live_abcd1234", generation="gen_01")
        observability.ContextFilter().filter(record)
    finally:
        observability.end(token)

    line = json.loads(formatter.format(record))
    assert line["message"] == "done x"
    assert line["level"] == "INFO" and line["logger"] == "generator.jobs"
    assert line["request_id"] == "req_1" and line["team"] == 7
    assert line["key_prefix"] == "pd_live_abcd1234" and line["generation"] == "gen_01"
    assert "context" not in line and "time" in line


def test_outside_a_request_records_have_no_context():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)

    observability.ContextFilter().filter(record)

    assert record.context == ""
    assert not hasattr(record, "request_id")


def test_a_sync_generation_logs_its_credits_and_generation_id(
    client, db, alice_key, fake_gemini, caplog
):
    from tests.generator.conftest import post_generation

    caplog.set_level(logging.INFO)

    response = post_generation(client, alice_key, {"model": "nano-banana", "prompt": "x", "n": 2})

    generation = response.json()["id"]
    [line] = _api_lines(caplog)
    assert line.route == "/v1/images/generations" and line.status == 200
    assert line.credits == "4.00"
    assert line.generation == generation
    [finished] = [r for r in caplog.records if getattr(r, "event", "") == "generation_finished"]
    assert finished.generation == generation and finished.request_id == line.request_id
    assert finished.outcome == "completed" and finished.images == 2
