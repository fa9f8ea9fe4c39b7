"""A publisher that keeps what it is given instead of sending it to Kafka."""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.publisher import Delivery, OutgoingMessage, PublishUnavailable


class FakePublisher:
    """Keeps what it was asked to publish; ``down = True`` makes it fail like a dead broker."""

    def __init__(self) -> None:
        self.published: list[tuple[str, OutgoingMessage]] = []
        self.down = False
        self.closed = False

    def publish(self, topic: str, messages: Sequence[OutgoingMessage], *, timeout: float) -> list[Delivery]:
        if self.down:
            raise PublishUnavailable("fake broker is down")
        start = len(self.published)
        self.published.extend((topic, m) for m in messages)
        return [Delivery(0, start + i) for i in range(len(messages))]

    def ping(self) -> None:
        if self.down:
            raise ConnectionError("fake broker is down")

    def close(self) -> None:
        self.closed = True
