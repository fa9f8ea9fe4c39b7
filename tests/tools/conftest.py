from collections.abc import Iterator

import pytest

from tests.tools.fakehttp import FakeServer, start


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    fake = FakeServer()
    server = start(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
