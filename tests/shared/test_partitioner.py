"""The producers' partitioner places keyed records where kafka-python's default (and the Java client) would."""

from __future__ import annotations

from kafka.partitioner import DefaultPartitioner

from shared.kafka import KeyHashPartitioner


class Cluster:
    """The part of kafka-python's ClusterMetadata a partitioner reads."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.partitions[topic]) if topic in self.partitions else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


def test_every_key_lands_on_the_partition_the_default_partitioner_picks():
    cluster = Cluster({"qw.events": set(range(6)), "qw.figures": {0, 1, 2}})
    ours, default = KeyHashPartitioner(), DefaultPartitioner()
    keys = [f"sample:S-{n}".encode() for n in range(2000)] + [b"", b"figure:agri:320500:2026", "样品".encode()]
    for topic in ("qw.events", "qw.figures"):
        placed = [ours.partition(topic, k, k, None, b"v", cluster) for k in keys]
        assert placed == [default.partition(topic, k, k, None, b"v", cluster) for k in keys]
        assert set(placed) == cluster.partitions[topic], "keys spread over every partition"


def test_a_topic_that_gains_partitions_is_placed_over_all_of_them():
    cluster = Cluster({"qw.events": {0, 1}})
    partitioner = KeyHashPartitioner()
    keys = [f"k{n}".encode() for n in range(200)]
    assert {partitioner.partition("qw.events", k, k, None, b"", cluster) for k in keys} == {0, 1}
    cluster.partitions["qw.events"] = set(range(6))
    assert {partitioner.partition("qw.events", k, k, None, b"", cluster) for k in keys} == set(range(6))


def test_keyless_records_go_to_some_partition_of_the_topic():
    cluster = Cluster({"t": {0, 1, 2}})
    assert {KeyHashPartitioner().partition("t", None, None, None, b"v", cluster) for _ in range(50)} <= {0, 1, 2}
