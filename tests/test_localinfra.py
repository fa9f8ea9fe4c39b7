"""The local infrastructure really works: Kafka broker (KRaft, from Maven jars) and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from devtools.localinfra import LocalKafka, LocalPostgres
from devtools.localinfra.kafka import new_cluster_id
from devtools.ports import free_port_pair, port_open

pytestmark = pytest.mark.integration


def _produce(kafka: LocalKafka, topic: str, key: bytes, value: bytes) -> int:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", retries=5)
    try:
        meta = producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()
    return meta.offset


def _consume_all(kafka: LocalKafka, topic: str, group: str | None, expect: int, timeout: float = 30):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_cluster_id_format() -> None:
    cid = new_cluster_id()
    assert len(cid) == 22 and not cid.startswith("-")


def test_topic_created_with_six_partitions(kafka_broker: LocalKafka, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}events"
    kafka_broker.create_topics({topic: 6})
    kafka_broker.create_topics({topic: 6})  # idempotent
    with kafka_broker.admin() as admin:
        (described,) = admin.describe_topics([topic])
    assert len(described["partitions"]) == 6
    assert all(p["leader_id"] == 1 for p in described["partitions"])


def test_auto_create_is_off(kafka_broker: LocalKafka, kafka_topic_prefix: str) -> None:
    with kafka_broker.admin() as admin:
        assert f"{kafka_topic_prefix}nothing" not in admin.list_topics()


def test_produce_acks_all_and_consume_back(kafka_broker: LocalKafka, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}roundtrip"
    kafka_broker.create_topics({topic: 6})
    value = uuid.uuid4().bytes
    _produce(kafka_broker, topic, b"k1", value)
    records = _consume_all(kafka_broker, topic, group=f"{kafka_topic_prefix}g", expect=1)
    assert [(r.key, r.value) for r in records] == [(b"k1", value)]


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this module's own for the kill and restart tests: the session's broker holds every
    topic the suite made so far, and a killed broker recovers all their logs on restart (over a minute
    late in a full run on a loaded machine), which is the suite's history, not what these tests check."""
    port = free_port_pair()
    broker = LocalKafka(tmp_path_factory.mktemp("own-kafka"), port=port, controller_port=port + 1)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.drill
def test_kill_then_start_keeps_messages(own_broker: LocalKafka, kafka_topic_prefix: str) -> None:
    kafka_broker = own_broker
    topic = f"{kafka_topic_prefix}durable"
    kafka_broker.create_topics({topic: 1})
    value = uuid.uuid4().bytes
    offset = _produce(kafka_broker, topic, b"before-kill", value)

    kafka_broker.kill()
    assert not kafka_broker.running()
    assert not port_open(kafka_broker.port)
    kafka_broker.kill()  # no-op when already dead
    kafka_broker.start()

    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        records = []
        deadline = time.monotonic() + 30
        while not records and time.monotonic() < deadline:
            records = consumer.poll(timeout_ms=500).get(tp, [])
    finally:
        consumer.close()
    assert records and records[0].value == value


def test_second_start_reuses_running_broker(own_broker: LocalKafka) -> None:
    twin = LocalKafka(own_broker.home, port=own_broker.port, controller_port=own_broker.controller_port)
    twin.start(timeout=10)  # must attach to the running broker, not spawn a second one
    assert twin.running()
    assert twin._proc is None


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_postgres_url_works_with_psycopg_and_sqlalchemy(postgres_server: LocalPostgres, pg_url: str) -> None:
    with psycopg.connect(_plain(pg_url)) as conn:
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SELECT current_user").fetchone() == (postgres_server.user,)
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id int primary key, v text)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1, 'x')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT v FROM t")).scalar_one() == "x"
    finally:
        engine.dispose()


def test_default_database_exists(postgres_server: LocalPostgres) -> None:
    with psycopg.connect(_plain(postgres_server.url())) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("qualitywatch",)


def test_create_database_gives_a_fresh_empty_one(postgres_server: LocalPostgres) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    url = postgres_server.create_database(name)
    with psycopg.connect(_plain(url)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    postgres_server.drop_database(name)


@pytest.mark.drill
def test_postgres_restart_keeps_data(postgres_server: LocalPostgres, pg_url: str) -> None:
    with psycopg.connect(_plain(pg_url)) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('committed')")
    postgres_server.restart()
    with psycopg.connect(_plain(pg_url)) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("committed",)]


def test_db_url_runs_on_both_backends(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id integer primary key)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (7)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id FROM probe")).scalar_one() == 7
    finally:
        engine.dispose()
