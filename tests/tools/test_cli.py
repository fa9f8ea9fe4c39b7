import json
import socket
from pathlib import Path

import pytest

from qwcli import main, parse_duration
from qwcli.regions import region_index
from shared.settings import DEFAULT_CATALOGUE
from tests.tools.fakehttp import FakeServer


def run(fake: FakeServer | None, *argv: str, token: str | None = "op-token") -> int:
    urls = []
    if fake is not None:
        urls = [f"--intake-url={fake.url}", f"--indicators-url={fake.url}", f"--alerts-url={fake.url}"]
    return main([*argv, *urls, *(["--token", token] if token else [])])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QW_TOKEN", "QW_INTAKE_URL", "QW_INDICATORS_URL", "QW_ALERTS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_keys_create_posts_the_role_and_prints_the_key_once(fake_server: FakeServer, capsys) -> None:
    fake_server.route("POST", "/v1/api-keys", (201, {"api_key": "qw_secret", "key_id": "k1", "role": "lab",
                                                      "lab_id": "LAB-0001", "agency_id": None, "name": "x"}))
    assert run(fake_server, "keys", "create", "--role", "lab", "--lab-id", "LAB-0001", "--name", "x") == 0
    (call,) = fake_server.calls("POST", "/v1/api-keys")
    assert call.body == {"role": "lab", "lab_id": "LAB-0001", "name": "x"}
    assert call.headers["authorization"] == "Bearer op-token"
    out = capsys.readouterr().out
    assert "api_key: qw_secret" in out and "shown once" in out


def test_a_lab_key_without_a_lab_id_is_a_usage_error(fake_server: FakeServer, capsys) -> None:
    assert run(fake_server, "keys", "create", "--role", "lab") == 2
    assert "--lab-id" in capsys.readouterr().err
    assert fake_server.requests == []


def test_keys_list_prints_a_table_and_json_on_request(fake_server: FakeServer, capsys) -> None:
    keys = [{"key_id": "k1", "role": "agency", "lab_id": None, "agency_id": "agri", "name": None,
             "created_at": "2026-11-28T10:00:00+08:00", "created_by": "admin-token", "revoked_at": None,
             "last_used_at": "2026-12-02T14:19:00+08:00"}]
    fake_server.route("GET", "/v1/api-keys", (200, keys))
    assert run(fake_server, "keys", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY_ID", "ROLE", "LAB_ID", "AGENCY_ID", "NAME", "CREATED_AT", "REVOKED_AT",
                                "LAST_USED_AT"]
    assert lines[1].split() == ["k1", "agency", "-", "agri", "-", "2026-11-28T10:00:00+08:00", "-",
                                "2026-12-02T14:19:00+08:00"]
    assert run(fake_server, "--json", "keys", "list") == 0
    assert json.loads(capsys.readouterr().out) == keys


def test_keys_revoke_deletes_the_key(fake_server: FakeServer, capsys) -> None:
    fake_server.route("DELETE", "/v1/api-keys/k1", (204, ""))
    assert run(fake_server, "keys", "revoke", "k1") == 0
    assert "revoked k1" in capsys.readouterr().out


def test_a_403_prints_the_servers_detail_and_exits_1(fake_server: FakeServer, capsys) -> None:
    fake_server.route("GET", "/v1/api-keys", (403, {"detail": "operator role required"}))
    assert run(fake_server, "keys", "list") == 1
    err = capsys.readouterr().err
    assert "intake answered 403 Forbidden: operator role required" in err


def test_a_401_names_the_problem(fake_server: FakeServer, capsys) -> None:
    fake_server.route("GET", "/v1/alerts", (401, {"detail": "invalid or revoked token"}))
    assert run(fake_server, "alerts", "list") == 1
    assert "401 Unauthorized: invalid or revoked token" in capsys.readouterr().err


def test_a_422_lists_every_problem_with_its_path(fake_server: FakeServer, tmp_path: Path, capsys) -> None:
    fake_server.route("POST", "/v1/events/batch", (422, {
        "detail": "1 event is invalid; nothing was accepted",
        "errors": [{"index": 1, "path": "$.data.verdict", "message": "Input should be 'pass' or 'fail'"}]}))
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([{"event_id": "a"}, {"event_id": "b"}]))
    assert run(fake_server, "post-event", str(batch)) == 1
    err = capsys.readouterr().err
    assert "nothing was accepted" in err and "event 1 $.data.verdict: Input should be 'pass' or 'fail'" in err
    assert fake_server.calls("POST", "/v1/events/batch")[0].body == {"events": [{"event_id": "a"},
                                                                                {"event_id": "b"}]}


def test_fastapi_validation_details_are_printed_by_location(fake_server: FakeServer, capsys) -> None:
    fake_server.route("POST", "/v1/agencies/agri/subscriptions", (422, {
        "detail": [{"loc": ["body", "secret"], "msg": "String should have at least 16 characters"}]}))
    assert run(fake_server, "subscriptions", "add", "agri", "--url", "https://x.example", "--secret", "short") == 1
    assert "body.secret: String should have at least 16 characters" in capsys.readouterr().err


def test_post_event_sends_a_single_event_to_the_single_endpoint(fake_server: FakeServer, tmp_path: Path,
                                                                capsys) -> None:
    fake_server.route("POST", "/v1/events", (202, {"accepted": 1, "duplicates": 0, "event_ids": ["e1"]}))
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"event_id": "e1"}))
    assert run(fake_server, "post-event", str(one)) == 0
    assert "accepted 1, duplicates 0: e1" in capsys.readouterr().out


def test_connection_refused_names_the_service_and_url_and_exits_2(capsys) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["alerts", "list", "--alerts-url", url, "--token", "t"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach alerts at {url}" in err and "connection refused" in err


def test_a_missing_token_is_a_usage_error(fake_server: FakeServer, capsys) -> None:
    assert run(fake_server, "alerts", "list", token=None) == 2
    assert "QW_TOKEN" in capsys.readouterr().err


def test_the_token_and_urls_come_from_the_environment(fake_server: FakeServer, monkeypatch, capsys) -> None:
    fake_server.route("GET", "/v1/alerts", (200, {"alerts": [], "count": 0}))
    monkeypatch.setenv("QW_TOKEN", "env-token")
    monkeypatch.setenv("QW_ALERTS_URL", fake_server.url)
    assert main(["alerts", "list", "--state", "all"]) == 0
    (call,) = fake_server.calls("GET", "/v1/alerts")
    assert call.headers["authorization"] == "Bearer env-token" and call.query == "state=all"
    assert "(none)" in capsys.readouterr().out


def test_alerts_list_prints_one_row_per_alert(fake_server: FakeServer, capsys) -> None:
    fake_server.route("GET", "/v1/alerts", (200, {"alerts": [
        {"alert_id": "a1", "severity": "critical", "state": "firing", "indicator": "agri_sampling_pass_rate",
         "region": "320300", "category": None, "window": "30d", "value": 0.9123, "ci95": [0.87, 0.95],
         "started_at": "2026-11-28T10:00:00+08:00", "acked": False}], "count": 1}))
    assert run(fake_server, "alerts", "list") == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:8] == ["a1", "critical", "firing", "agri_sampling_pass_rate", "320300", "-", "30d", "0.9123"]


def test_ack_and_silence_send_what_the_alert_service_expects(fake_server: FakeServer, capsys) -> None:
    fake_server.route("POST", "/v1/alerts/a1/ack", (200, {"alert_id": "a1"}))
    fake_server.route("POST", "/v1/silences", (201, {"silence_id": "s1", "indicator": "agri_sampling_pass_rate",
                                                     "region": "320300", "state": "active"}))
    assert run(fake_server, "alerts", "ack", "a1", "--comment", "on it") == 0
    assert fake_server.calls("POST", "/v1/alerts/a1/ack")[0].body == {"comment": "on it"}
    assert run(fake_server, "silences", "add", "--indicator", "agri_sampling_pass_rate", "--region", "320300",
               "--duration", "2h", "--reason", "known lab outage") == 0
    assert fake_server.calls("POST", "/v1/silences")[0].body == {
        "indicator": "agri_sampling_pass_rate", "region": "320300", "duration_seconds": 7200.0,
        "reason": "known lab outage"}
    assert "s1" in capsys.readouterr().out


def test_durations_read_as_seconds() -> None:
    assert parse_duration("90s") == 90 and parse_duration("1h30m") == 5400 and parse_duration("7d") == 604800
    with pytest.raises(Exception, match="cannot read duration"):
        parse_duration("two hours")


def test_dead_letter_replay_sends_the_chosen_ids(fake_server: FakeServer, capsys) -> None:
    fake_server.route("POST", "/v1/dead-letters/replay", (200, {"replayed": 2, "ids": [3, 4]}))
    assert run(fake_server, "dead-letters", "replay", "--id", "3", "--id", "4") == 0
    assert fake_server.calls("POST", "/v1/dead-letters/replay")[0].body == {"ids": [3, 4]}
    assert "replayed 2 dead letter(s): 3, 4" in capsys.readouterr().out


def test_deliveries_list_filters_by_status_and_redeliver_posts(fake_server: FakeServer, capsys) -> None:
    fake_server.route("GET", "/v1/deliveries", (200, {"deliveries": [
        {"delivery_id": "d1", "agency_id": "agri", "status": "failed", "attempts": 7, "last_status_code": 500}]}))
    fake_server.route("POST", "/v1/deliveries/d1/redeliver", (202, {"delivery_id": "d1", "status": "pending"}))
    assert run(fake_server, "deliveries", "list", "--status", "failed") == 0
    assert fake_server.calls("GET", "/v1/deliveries")[0].query == "status=failed"
    assert capsys.readouterr().out.splitlines()[1].split()[:4] == ["d1", "agri", "failed", "7"]
    assert run(fake_server, "deliveries", "redeliver", "d1") == 0
    assert "status pending" in capsys.readouterr().out


METRICS = """# HELP qw_indicators_consumer_lag End offset minus position, per partition
# TYPE qw_indicators_consumer_lag gauge
qw_indicators_consumer_lag{partition="0"} 3.0
qw_indicators_consumer_lag{partition="1"} 2.0
# HELP qw_alerts_consumer_lag lag
# TYPE qw_alerts_consumer_lag gauge
qw_alerts_consumer_lag{partition="0"} 4.0
# HELP qw_alerts_pending_deliveries pending
# TYPE qw_alerts_pending_deliveries gauge
qw_alerts_pending_deliveries 6.0
"""


def status_routes(fake: FakeServer) -> None:
    fake.route("GET", "/readyz", (200, {"status": "ready"}))
    fake.route("GET", "/metrics", (200, METRICS))
    fake.route("GET", "/v1/dead-letters", (200, {"dead_letters": [{"id": 1}, {"id": 2}]}))
    fake.route("GET", "/v1/alerts", (200, {"alerts": [{"severity": "critical"}, {"severity": "warning"},
                                                      {"severity": "warning"}]}))


def test_status_sums_lag_and_counts_dead_letters_and_firing_alerts(fake_server: FakeServer, capsys) -> None:
    status_routes(fake_server)
    assert run(fake_server, "status") == 1  # the two dead letters make it degraded
    out = capsys.readouterr().out
    assert "indicators 5, alerts 4 (total 9)" in out
    assert "pending deliveries  6" in out and "dead letters        2" in out
    assert "critical 1, warning 2" in out
    assert out.rstrip().splitlines()[-1] == "verdict: degraded: 2 dead letters not replayed (qw dead-letters list)"
    assert run(fake_server, "--json", "status") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["consumer_lag"]["total"] == 9 and report["firing_alerts"] == {"critical": 1, "warning": 2}
    assert report["verdict"] == "degraded"


def test_status_ends_healthy_when_everything_is_ready_and_caught_up(fake_server: FakeServer, capsys) -> None:
    status_routes(fake_server)
    fake_server.route("GET", "/v1/dead-letters", (200, {"dead_letters": []}))
    assert run(fake_server, "status") == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "verdict: healthy"  # firing alerts: the plan's


def test_status_says_why_it_is_degraded_most_serious_first(fake_server: FakeServer, capsys) -> None:
    status_routes(fake_server)
    fake_server.route("GET", "/readyz", (503, {"status": "not ready", "failing": {"kafka": "NoBrokersAvailable"}}))
    assert run(fake_server, "status", "--max-lag", "4", "--max-pending", "5") == 1
    verdict = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert verdict.startswith("verdict: degraded: intake not ready: kafka: NoBrokersAvailable; ")
    assert "indicators consumer lag 5 > 4" in verdict and "6 webhook deliveries pending > 5" in verdict


def test_status_names_the_failing_part_and_exits_1(fake_server: FakeServer, capsys) -> None:
    status_routes(fake_server)
    fake_server.route("GET", "/readyz", (503, {"status": "not ready", "failing": {"kafka": "NoBrokersAvailable"}}))
    assert run(fake_server, "status") == 1
    assert "not ready: kafka: NoBrokersAvailable" in capsys.readouterr().out


def test_status_reports_an_unreachable_service_and_exits_2(fake_server: FakeServer, capsys) -> None:
    status_routes(fake_server)
    dead = f"http://127.0.0.1:{closed_port()}"
    assert main(["status", "--token", "t", "--intake-url", dead, "--indicators-url", fake_server.url,
                 "--alerts-url", fake_server.url]) == 2
    out = capsys.readouterr().out
    assert f"intake      {dead}  unreachable" in out


def test_scorecard_and_figures_show_print_the_figures(fake_server: FakeServer, capsys) -> None:
    figure = {"indicator": "agri_sampling_pass_rate", "region": "320500", "category": None, "window": "30d",
              "value": 0.97, "ci95": [0.9575, 0.9789], "numerator": 970, "denominator": 1000,
              "target": {"op": ">=", "value": 0.97}, "status": "ok"}
    fake_server.route("GET", "/v1/indicators/agri_sampling_pass_rate", (200, figure))
    fake_server.route("GET", "/v1/scorecard", (200, {"window": "30d", "regions": [{"region": "320500",
                                                                                  "figures": [figure]}]}))
    assert run(fake_server, "figures", "show", "agri_sampling_pass_rate", "--region", "320500",
               "--window", "30d") == 0
    assert fake_server.calls("GET", "/v1/indicators/agri_sampling_pass_rate")[0].query == "region=320500&window=30d"
    out = capsys.readouterr().out
    assert "ci95           [0.9575, 0.9789]" in out and "target         >= 0.97" in out
    assert run(fake_server, "scorecard", "--window", "30d") == 0
    assert "320500  agri_sampling_pass_rate  30d" in capsys.readouterr().out


def test_plan_validate_accepts_the_shipped_catalogue(capsys) -> None:
    assert main(["plan", "validate", str(DEFAULT_CATALOGUE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "agri_sampling_pass_rate" in out and ">= 0.97" in out
    assert "programmes: agri-routine-monitoring, national-spot-check" in out


def test_plan_validate_names_the_line_of_a_broken_catalogue(tmp_path: Path, capsys) -> None:
    lines = DEFAULT_CATALOGUE.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if 'target: {op: ">=", value: 0.90}' in line)
    lines[index] = lines[index].replace('">="', '"=>"')
    broken = tmp_path / "broken.yaml"
    broken.write_text("\n".join(lines), encoding="utf-8")
    assert main(["plan", "validate", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:{index + 1}: indicators.1.target.op" in err


def test_indicators_list_shows_each_indicator_with_its_target(fake_server: FakeServer, capsys) -> None:
    fake_server.route("GET", "/v1/indicators", (200, {"plan": "jiangsu-2020", "indicators": [
        {"indicator": "agri_sampling_pass_rate", "name_zh": "主要农产品质量安全例行监测合格率", "kind": "rate",
         "target": {"op": ">=", "value": 0.97}, "windows": ["30d", "ytd"], "min_sample": 30,
         "lead_agency": "agri"}]}))
    assert run(fake_server, "indicators", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["INDICATOR", "NAME_ZH", "KIND"]
    assert lines[1].split()[:5] == ["agri_sampling_pass_rate", "主要农产品质量安全例行监测合格率", "rate", ">=", "0.97"]


@pytest.mark.parametrize(("given", "code"), [("南京市", "320100"), ("南京", "320100"), ("Xuzhou", "320300"),
                                             ("江苏省", "320000"), ("320583", "320583")])
def test_region_arguments_take_a_name_or_a_code(fake_server: FakeServer, given: str, code: str) -> None:
    fake_server.route("GET", "/v1/alerts", (200, {"alerts": []}))
    fake_server.route("GET", "/v1/indicators/agri_sampling_pass_rate", (200, {"indicator": "x"}))
    fake_server.route("POST", "/v1/silences", (201, {"silence_id": "s1"}))
    assert run(fake_server, "alerts", "list", "--region", given) == 0
    assert run(fake_server, "figures", "show", "agri_sampling_pass_rate", "--region", given) == 0
    assert run(fake_server, "silences", "add", "--region", given, "--duration", "1h", "--reason", "r") == 0
    assert fake_server.calls("GET", "/v1/alerts")[0].query == f"state=firing&region={code}"
    assert fake_server.calls("GET", "/v1/indicators/agri_sampling_pass_rate")[0].query == f"region={code}"
    assert fake_server.calls("POST", "/v1/silences")[0].body["region"] == code


def test_county_names_resolve_whatever_shape_the_catalogue_gives_its_county_list() -> None:
    nested = {"province": {"code": "320000", "name": "江苏省"},
              "cities": {"320500": {"name": "苏州市", "name_en": "Suzhou",
                                    "counties": {"320583": {"name": "昆山市", "name_en": "Kunshan"}}}}}
    flat = {"province": {"code": "320000", "name": "江苏省"}, "cities": {"320500": {"name": "苏州市"}},
            "counties": [{"code": "320583", "name": "昆山市", "city": "320500"},
                         {"code": "320281", "name": "江阴市"}, {"code": "320312", "name": "铜山区"}]}
    for regions in (nested, flat):
        index = region_index(regions)
        assert index["昆山市"] == ("320583",) and index["昆山"] == ("320583",) and index["苏州市"] == ("320500",)
    assert region_index(nested)["kunshan"] == ("320583",)


def test_an_unknown_region_name_is_a_usage_error_with_suggestions(fake_server: FakeServer, capsys) -> None:
    assert run(fake_server, "alerts", "list", "--region", "南京西") == 2
    assert "unknown region '南京西'" in capsys.readouterr().err
    assert fake_server.requests == []
