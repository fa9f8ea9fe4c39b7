"""The consumer against the real broker and database: exact totals, redelivery, dead letters,
partitions moving between two instances, and figure changes on qw.figures."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import CollectorRegistry

from services.indicators.deadletters import KafkaDeadLetterSink
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor
from shared.catalogue import Catalogue
from shared.kafka import make_consumer, subscribe_when_known
from shared.settings import Settings
from tests.indicators import factory as f
from tests.indicators.kafka_harness import Pipeline, wait_for
from tests.support import FixedClock

pytestmark = pytest.mark.integration
AGRI = "agri_sampling_pass_rate"


@pytest.fixture
def pipeline(kafka_broker, db_url: str, kafka_topic_prefix: str, catalogue: Catalogue) -> Iterator[Pipeline]:  # noqa: ANN001
    settings = Settings(kafka_bootstrap=kafka_broker.bootstrap, database_url=db_url, topic_prefix=kafka_topic_prefix,
                        indicators_group=f"{kafka_topic_prefix}indicators")
    pipe = Pipeline(settings, catalogue, FixedClock(f.NOW))
    yield pipe
    pipe.close()


def inspections(start: int, count: int, fail_every: int = 10) -> list[dict]:
    return [f.inspection(f"e{i}", f"s{i}", "fail" if i % fail_every == 0 else "pass",
                         region=("320100", "320505", "321300")[i % 3]) for i in range(start, start + count)]


def total(pipe: Pipeline) -> float | None:
    return pipe.figure(AGRI).denominator


def test_consumed_events_give_exact_counts(pipeline: Pipeline) -> None:
    registry = CollectorRegistry()
    pipeline.start_consumer(registry=registry)
    pipeline.produce(inspections(0, 300))
    wait_for(lambda: total(pipeline) == 300, what="300 inspections applied")
    fig = pipeline.figure(AGRI)
    assert (fig.numerator, fig.denominator) == (270, 300)
    assert registry.get_sample_value("qw_indicators_events_applied_total", {"type": "inspection.completed"}) == 300
    assert (registry.get_sample_value("qw_indicators_event_latency_seconds_count") or 0) == 300


def test_a_batch_applied_but_not_committed_is_redelivered_and_counted_once(pipeline: Pipeline) -> None:
    pipeline.produce(inspections(0, 200))
    # A first instance applies what it polls, then "crashes" before committing offsets.
    settings = pipeline.settings
    crashed = make_consumer(settings.kafka_bootstrap, group_id=settings.indicators_group, client_id="crashing")
    subscribe_when_known(crashed, settings.events_topic)  # an empty assignment otherwise, seen once in CI
    processor = BatchProcessor(pipeline.catalogue, pipeline.sessions,
                               KafkaDeadLetterSink(pipeline.producer, settings.dead_letter_topic),
                               IndicatorsMetrics(CollectorRegistry()), pipeline.clock)
    applied = 0
    for _ in range(100):
        polled = crashed.poll(timeout_ms=200)
        messages = [r for records in polled.values() for r in records]
        if messages:
            processor.process(messages)
            applied += len(messages)
        if applied >= 200:
            break
    crashed.close(autocommit=False)
    assert total(pipeline) == 200
    registry = CollectorRegistry()
    pipeline.start_consumer(registry=registry)
    wait_for(lambda: (registry.get_sample_value("qw_indicators_duplicates_total") or 0) >= 200,
             what="the uncommitted batch redelivered")
    assert total(pipeline) == 200


def test_undecodable_messages_go_to_the_dead_letter_topic_with_their_reason(pipeline: Pipeline) -> None:
    registry = CollectorRegistry()
    pipeline.start_consumer(registry=registry)
    pipeline.produce_raw(b"sample:x", b"{broken")
    pipeline.produce([f.inspection("ok1", "s1")])
    wait_for(lambda: total(pipeline) == 1, what="the good event applied")
    records = pipeline.read_topic(pipeline.settings.dead_letter_topic, 1)
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert records[0].value == b"{broken" and records[0].key == b"sample:x"
    assert headers["qw-dlq-reason"] == b"decode"
    assert headers["qw-source-topic"] == pipeline.settings.events_topic.encode()
    assert registry.get_sample_value("qw_indicators_dead_letters_total", {"reason": "decode"}) == 1


def test_two_instances_share_six_partitions_and_give_exact_totals_as_partitions_move(pipeline: Pipeline) -> None:
    first = pipeline.start_consumer()
    wait_for(first.ready.is_set, what="first consumer assigned")
    pipeline.produce(inspections(0, 600))
    wait_for(lambda: total(pipeline) == 600, what="first 600 applied")
    second = pipeline.start_consumer()
    wait_for(second.ready.is_set, what="second consumer assigned")
    wait_for(lambda: len(first.assigned) + len(second.assigned) == 6 and len(first.assigned) < 6,
             what="the first instance gave partitions to the second")
    pipeline.produce(inspections(600, 600))
    wait_for(lambda: total(pipeline) == 1200, what="1200 applied")
    assert first.batches > 0 and second.batches > 0
    first.stop()
    wait_for(lambda: len(second.assigned) == 6, what="the second instance took every partition")
    pipeline.produce(inspections(1200, 600))
    wait_for(lambda: total(pipeline) == 1800, timeout=60, what="1800 applied after the first left")
    fig = pipeline.figure(AGRI)
    assert (fig.numerator, fig.denominator) == (1800 - 180, 1800)
    assert pipeline.figure(AGRI, region="321300").denominator == 600


def test_a_figure_crossing_its_target_is_published_on_the_figures_topic(pipeline: Pipeline) -> None:
    pipeline.start_consumer(publish=True)
    pipeline.produce([f.inspection(f"p{i}", f"s{i}", "pass", region="320500") for i in range(100)])
    wait_for(lambda: total(pipeline) == 100)
    pipeline.produce([f.inspection(f"x{i}", f"t{i}", "fail", region="320500") for i in range(20)])
    wait_for(lambda: total(pipeline) == 120)

    def city_changes() -> list[dict]:
        records = pipeline.read_topic(pipeline.settings.figures_topic, 10_000, timeout=3)
        return [orjson.loads(r.value) for r in records
                if r.key == b"agri_sampling_pass_rate|320500|*|30d"]

    changes = wait_for(lambda: [c for c in city_changes() if c["figure"]["status"] == "breach"] and city_changes())
    statuses = [c["figure"]["status"] for c in changes]
    assert statuses[0] == "ok" and statuses[-1] == "breach"
    last = changes[-1]
    assert last["previous_status"] is not None
    assert last["figure"]["numerator"] == 100 and last["figure"]["denominator"] == 120
    assert last["event_ids"]


@pytest.mark.drill
def test_a_postgresql_restart_mid_stream_loses_nothing_and_doubles_nothing(
        kafka_broker, postgres_server, pg_url: str, kafka_topic_prefix: str, catalogue: Catalogue) -> None:  # noqa: ANN001
    settings = Settings(kafka_bootstrap=kafka_broker.bootstrap, database_url=pg_url, topic_prefix=kafka_topic_prefix,
                        indicators_group=f"{kafka_topic_prefix}indicators")
    pipe = Pipeline(settings, catalogue, FixedClock(f.NOW))
    try:
        registry = CollectorRegistry()
        pipe.start_consumer(registry=registry)
        pipe.produce(inspections(0, 300))
        wait_for(lambda: total(pipe) == 300, what="first 300 applied")
        postgres_server.stop("fast")
        pipe.produce(inspections(300, 300))  # consumed while the database is down: batches fail, rewind
        wait_for(lambda: registry.get_sample_value("qw_indicators_batch_failures_total") >= 1, timeout=60,
                 what="a batch failing while the database is down")
        postgres_server.start()
        pipe.produce(inspections(600, 300))
        wait_for(lambda: _safe_total(pipe) == 900, timeout=60, what="900 applied after the restart")
        fig = pipe.figure(AGRI)
        assert (fig.numerator, fig.denominator) == (810, 900)
    finally:
        pipe.close()


def _safe_total(pipe: Pipeline) -> float | None:
    try:
        return total(pipe)
    except Exception:  # noqa: BLE001 - the database is coming back
        return None


def test_an_operator_lists_and_replays_dead_letters_to_the_events_topic(pipeline: Pipeline) -> None:
    from fastapi.testclient import TestClient

    from services.indicators.app import create_app

    pipeline.start_consumer()
    pipeline.produce_raw(b"sample:x", b"{broken")
    settings = pipeline.settings.model_copy(update={"admin_token": "admin-token-for-tests"})
    app = create_app(settings, clock=pipeline.clock, registry=CollectorRegistry(), background=False)
    admin = {"Authorization": "Bearer admin-token-for-tests"}
    with TestClient(app) as client:
        listed = wait_for(lambda: client.get("/v1/dead-letters", headers=admin).json()["dead_letters"], timeout=60,
                          what="the broken message stored as a dead letter")
        assert [(d["reason"], d["value"]) for d in listed] == [("decode", "{broken")]
        resp = client.post("/v1/dead-letters/replay", json={"ids": [listed[0]["id"]]}, headers=admin)
        assert resp.json() == {"replayed": 1, "ids": [listed[0]["id"]]}
        # re-published: consumed again (still broken, so a second dead letter from a new offset)
        again = wait_for(lambda: [d for d in client.get("/v1/dead-letters", headers=admin).json()["dead_letters"]
                                  if d["id"] != listed[0]["id"]], timeout=60, what="the replayed message consumed")
        assert again[0]["source_offset"] != listed[0]["source_offset"]
        everything = client.get("/v1/dead-letters?include_replayed=true", headers=admin).json()["dead_letters"]
        assert everything[0]["replayed_at"] is not None


def test_the_tally_rebuild_refuses_while_the_indicators_consumer_group_has_members(pipeline: Pipeline,
                                                                                  capsys) -> None:  # noqa: ANN001
    from services.indicators.rebuild import group_members, main

    settings = pipeline.settings
    assert group_members(settings.kafka_bootstrap, settings.indicators_group) == 0
    pipeline.start_consumer()
    wait_for(lambda: group_members(settings.kafka_bootstrap, settings.indicators_group) == 1, timeout=60,
             what="the consumer in its group")
    env = {"QW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "QW_INDICATORS_GROUP": settings.indicators_group,
           "QW_DATABASE_URL": settings.effective_database_url}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main([]) == 2
    assert "has 1 member(s): stop the indicators service first" in capsys.readouterr().err
