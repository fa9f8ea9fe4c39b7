"""The integration marker follows the fixtures a test uses, and an unmarked test cannot start a server.

Each case runs pytest on a small test file in a subprocess, with the real test plugin and stand-ins for
the server fixtures (recording a start the way the real ones do), so no server starts here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]

STAND_INS = '''
import pytest
from tests import infra_fixtures

@pytest.fixture(scope="session")
def kafka_broker():
    infra_fixtures._servers_started.append("the Kafka broker")
    return "broker"

@pytest.fixture(scope="session")
def postgres_server():
    infra_fixtures._servers_started.append("PostgreSQL")
    return "server"

@pytest.fixture
def pg_url(postgres_server):
    return "postgresql+psycopg://stand-in/db"
'''


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(STAND_INS)

    def run_tests(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_sample=source)
        return pytester.runpytest_subprocess("-p", "tests.infra_fixtures", "-p", "no:cacheprovider", *args)

    return run_tests


def test_tests_using_a_server_fixture_are_left_out_of_the_unit_selection(run) -> None:
    result = run('''
def test_pure(): pass
def test_on_postgres(pg_url): pass
def test_on_the_broker(kafka_broker): pass
def test_on_both_databases(db_url): pass
''', "-m", "not integration", "-v")
    result.assert_outcomes(passed=2, deselected=3)
    result.stdout.fnmatch_lines(["*test_pure PASSED*", "*test_on_both_databases?sqlite? PASSED*"])


def test_an_unmarked_test_that_starts_a_server_itself_fails(run) -> None:
    result = run('''
import pytest

def test_sneaky(request):
    request.getfixturevalue("kafka_broker")

@pytest.mark.integration
def test_honest(request):
    request.getfixturevalue("postgres_server")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_sneaky started the Kafka broker but is not marked integration*"])
