"""A short soak of the served door (bench/load.py, which `make bench` runs for minutes): clients that
query, download, abandon downloads, leave before the first byte, send what is refused and queries
that run away, while the warehouse publishes twice; then the service must be as it was."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench import load
from bench.served import served
from orchestration import publications
from orchestration.publishing.published_file import publish
from orchestration.settings import PUBLISHED_SCHEMAS, Settings
from tests.conftest import copy_home, environment

SECONDS = 18
CLIENTS = 6
TIME_LIMIT_S = 2
PUBLISH_AT = (5.0, 11.0)
# Each client sends a runaway about twice in the run, and leaves before the first byte about four times.
EVERY_S = {"runaway": 8.0, "disconnect": 4.0}


@pytest.mark.slow
def test_the_served_door_outlasts_a_soak_with_two_publications(built, tmp_path, monkeypatch):
    # Retention runs in the publishing process: one publication kept, so each publish removes the file before.
    monkeypatch.setenv("WAREHOUSE_KEEP_PUBLICATIONS", "1")
    settings = Settings(home=copy_home(built, tmp_path / "home"), snapshots_dir=built.snapshots_dir)
    env = {
        **environment(tmp_path),
        "WAREHOUSE_KEEP_PUBLICATIONS": "1",
        "WAREHOUSE_QUERY_TIMEOUT_S": str(TIME_LIMIT_S),
    }
    published = []

    def publish_now() -> None:
        publish(settings, PUBLISHED_SCHEMAS, run_id=uuid.uuid4().hex)
        published.append(publications.current(settings).id)

    with served(env) as service:
        pid = load.service_pid(service.process.pid)
        result = load.soak(
            service.url,
            pid,
            SECONDS,
            CLIENTS,
            publish_now,
            PUBLISH_AT,
            timeout_s=30.0,
            every_s=EVERY_S,
            warmup_s=1.0,
        )
        started = time.perf_counter()
        after = requests.post(f"{service.url}/api/query", json={"sql": load.SMALL_SQL}, timeout=10)
        after_s = time.perf_counter() - started
        health = requests.get(f"{service.url}/healthz", timeout=10).json()

    seen = json.dumps(result.json(), indent=1) + "\n" + "\n".join(result.server_log[-40:])
    assert result.unexpected == 0 and result.client_timeouts == 0, seen
    assert all(tally.meant > 0 for tally in result.tallies.values()), seen  # every kind was sent and answered
    assert [p.error for p in result.publishes] == [None, None] and len(published) == 2, seen
    assert after.status_code == 200 and after_s < 1.0, (after.text, after_s)
    assert health["status"] == "ok" and health["publication"] == published[-1], health

    current = str(publications.kept_file(settings, publications.current(settings)))
    assert result.end.deleted == () and result.end.gone_publications == (), seen
    assert result.end.publication_files == (current,), seen
    assert result.end.fds <= result.start.fds + 2, seen

    families = {family.name: family for family in text_string_to_metric_families(result.metrics)}
    assert result.settled and families["warehouse_serve_queries_running"].samples[0].value == 0, result.metrics
    assert families["warehouse_serve_publications_open"].samples[0].value == 1, result.metrics
    assert families["warehouse_serve_query_timeouts"].samples[0].value >= result.tallies["runaway"].meant
