"""What a notice says, on every channel, in the subscription's language.

An alert's notice (``firing``/``escalated``/``reminder``/``resolved`` in the outbox) becomes a
:class:`Item`: what happened (``started``, ``escalated``, ``reminder``, ``resolved``), the
indicator's and region's names from the catalogue, the value as a percentage with n, the 95 %
interval and the target, since when (China Standard Time) and a link to the figure on the
dashboard. Each channel renders items with its own template (the strings live in
``shared/i18n/notices.<locale>.json``): markdown (DingTalk, WeCom), plain text and HTML (email), a
summary (webhook JSON, Alertmanager annotations).

Data (region and indicator names, categories, acknowledgement comments) is escaped for the channel
it goes into: markdown punctuation is backslash-escaped and line breaks flattened, HTML is
entity-escaped, so nothing a sender or an acknowledging user typed can add a link, a heading or
markup. Adding a notice kind is one entry in :data:`KINDS` and one ``kind.<name>`` string per locale.

Issue 19's notices go through the same templates: a report-overdue alert's notices read ``overdue``,
``overdue_reminder`` and ``overdue_resolved`` (the period instead of a value and target); the rectification
loop's ``rectify_overdue`` (the plan's unit and deadline), ``rectified`` (the follow-up samples) and
``closed``. Every notice with provisional failures says how many of the failures are still provisional,
and a provincial alert's notice names the cities behind the shortfall (percentage points of the gap, n),
from the alert's loop fields (``services.alerts.loop.loop_fields``) passed as ``extras``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from services.alerts.loop import OVERDUE_PREFIX
from services.alerts.models import Alert
from shared.catalogue import Catalogue
from shared.clock import CST, rfc3339
from shared.i18n import DEFAULT_LOCALE, Translator

# outbox notice -> what a reader is told happened
KINDS: dict[str, str] = {"firing": "started", "escalated": "escalated", "reminder": "reminder",
                         "resolved": "resolved", "rectify_overdue": "rectify_overdue", "rectified": "rectified",
                         "closed": "closed"}
# a report-overdue alert's outbox notice -> what its reader is told
OVERDUE_KINDS: dict[str, str] = {"firing": "overdue", "escalated": "overdue", "reminder": "overdue_reminder",
                                 "resolved": "overdue_resolved"}
_OPS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()#!|<>~])")


def kind_of(notice: str) -> str:
    return KINDS.get(notice, notice)


# ---- escaping (one function per target format) ----------------------------------------------------------
def plain(text: str) -> str:
    """One line of plain text: control characters and line breaks become spaces."""
    return _CONTROL.sub(" ", text).strip()


def md(text: str) -> str:
    """Data inside markdown: one line, the characters that make links, emphasis, code, tables, HTML and
    headings backslash-escaped (data never starts a line, so list and heading markers need no escape)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain(text))


def htm(text: str) -> str:
    return html.escape(plain(text), quote=True)


@dataclass(frozen=True)
class Item:
    """One alert in a notice, as text (not yet escaped for any channel)."""

    alert_id: str
    kind: str
    state: str
    severity: str | None
    indicator_id: str
    region_code: str
    category: str | None
    window: str
    indicator: str
    region: str
    value: str
    n: str | None
    ci: str | None
    target: str
    since: str | None  # "2026-11-20 10:00" in China Standard Time
    since_at: dt.datetime | None
    resolved: str | None
    resolved_at: dt.datetime | None
    link: str
    acks: tuple[tuple[str, str], ...]
    label: str = ""  # the ``kind.<label>`` text shown (``kind`` unless a report-overdue alert's)
    overdue: bool = False  # a report-overdue alert: ``window`` is the period not reported
    provisional: int | None = None  # failures still provisional (open to objection or awaiting a re-test)
    contributors: tuple[Contributor, ...] = ()  # a provincial alert's cities behind the shortfall
    plan_unit: str | None = None  # rectify_overdue: the plan's responsible unit and deadline (CST)
    plan_deadline: str | None = None
    follow_ups: int | None = None  # rectified: follow-up samples received


@dataclass(frozen=True)
class Contributor:
    """A city behind a provincial shortfall: its name, percentage points of the gap, its n, whether it is
    alerting itself."""

    name: str
    points: str
    n: str
    alerting: bool


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _local(instant: dt.datetime | None) -> str | None:
    return instant.astimezone(CST).strftime("%Y-%m-%d %H:%M") if instant is not None else None


def acks_of(alert: Alert, acks: Sequence[object] | None = None) -> tuple[tuple[str, str], ...]:
    """Who acknowledged the alert and what they wrote: the episode's acks (``services.alerts.acks``,
    per agency, as a webhook carries them) if given, else the alert's own acknowledgement columns."""
    if acks:
        return tuple((_field(a, "by", "acked_by"), _field(a, "comment")) for a in acks)
    if alert.acked_at is not None and alert.acked_by:
        return ((alert.acked_by, alert.ack_comment or ""),)
    return ()


def _field(ack: object, *names: str) -> str:
    for name in names:
        value = ack.get(name) if isinstance(ack, dict) else getattr(ack, name, None)
        if value:
            return str(value)
    return ""


class NoticeRenderer:
    def __init__(self, catalogue: Catalogue, dashboard_url: str) -> None:
        self.catalogue = catalogue
        self.dashboard_url = dashboard_url.rstrip("/")

    # ---- the facts ------------------------------------------------------------------------------------
    def link(self, alert: Alert) -> str:
        query = {"indicator": alert.indicator, "region": alert.region, "window": alert.window}
        if alert.category:
            query["category"] = alert.category
        return f"{self.dashboard_url}/?{urlencode(query)}"

    def region_name(self, code: str, locale: str) -> str:
        if locale == "en":
            province = self.catalogue.regions.province
            named = province if code == province.code else self.catalogue.regions.cities.get(code)
            if named is not None and named.name_en:
                return named.name_en
        return self.catalogue.region_name(code)

    def item(self, alert: Alert, notice: str, locale: str, *, acks: Sequence[object] | None = None,
             extras: dict[str, Any] | None = None) -> Item:
        """The alert's notice as text; ``extras``: its loop fields (``loop_fields``: provisional failures,
        contributors) and, for a loop notice, ``loop`` (the notice's details)."""
        extras = extras or {}
        spec = self.catalogue.indicator(alert.indicator)
        english = locale == "en"
        indicator = (spec.name_en if english else spec.name_zh) if spec is not None else alert.indicator
        rate = spec.is_rate if spec is not None else (alert.target_value <= 1.0)
        region = self.region_name(alert.region, locale)
        overdue = (alert.figure_key or "").startswith(OVERDUE_PREFIX) or extras.get("kind") == "report_overdue"
        loop = extras.get("loop")
        detail: dict[str, Any] = loop if isinstance(loop, dict) else {}

        def show(value: float) -> str:
            return f"{value * 100:.1f}%" if rate else _number(value)

        value = show(alert.value) if alert.value is not None else "—"
        n = _number(alert.denominator) if rate and alert.denominator is not None else None
        ci = (f"{show(alert.ci95_lo)}–{show(alert.ci95_hi)}"
              if alert.ci95_lo is not None and alert.ci95_hi is not None else None)
        target = f"{_OPS.get(alert.target_op, alert.target_op)} {show(alert.target_value)}"
        since_at = alert.started_at or alert.active_at
        if overdue:  # missing since first found so, not since its alert fired
            since_at = alert.active_at or alert.started_at
        return Item(alert_id=alert.alert_id, kind=kind_of(notice), state=alert.state, severity=alert.severity,
                    indicator_id=alert.indicator, region_code=alert.region, category=alert.category,
                    window=alert.window, indicator=indicator, region=region, value=value, n=n, ci=ci, target=target,
                    since=_local(since_at), since_at=since_at,
                    resolved=_local(alert.resolved_at) if notice == "resolved" else None,
                    resolved_at=alert.resolved_at if notice == "resolved" else None,
                    link=self.link(alert), acks=acks_of(alert, acks),
                    label=OVERDUE_KINDS.get(notice, kind_of(notice)) if overdue else kind_of(notice),
                    overdue=overdue, provisional=_count(extras.get("provisional_failures")),
                    contributors=self.contributors(extras.get("contributors"), locale),
                    plan_unit=str(detail["unit"]) if detail.get("unit") else None,
                    plan_deadline=_local(_instant(detail.get("deadline"))),
                    follow_ups=_count(detail.get("follow_ups")))

    def contributors(self, items: object, locale: str) -> tuple[Contributor, ...]:
        if not isinstance(items, list):
            return ()
        return tuple(Contributor(name=self.region_name(str(c.get("region")), locale),
                                 points=f"{float(c.get('points') or 0):.1f}", n=_number(float(c.get("n") or 0)),
                                 alerting=bool(c.get("alerting")))
                     for c in items if isinstance(c, dict))

    # ---- the webhook JSON grows by these fields ---------------------------------------------------------
    def webhook_fields(self, alert: Alert, notice: str, locale: str,
                       extras: dict[str, Any] | None = None) -> dict[str, Any]:
        item = self.item(alert, notice, locale, extras=extras)
        return {"notice": item.kind, "indicator_name": item.indicator, "region_name": item.region,
                "value_text": item.value, "ci95_text": item.ci, "target_text": item.target,
                "since": rfc3339(item.since_at) if item.since_at else None, "dashboard_url": item.link,
                "summary": self.summary(item, locale), "locale": locale}

    # ---- templates --------------------------------------------------------------------------------------
    def summary(self, item: Item, locale: str) -> str:
        t = Translator("notices", locale)
        if item.overdue:
            text = t("summary.overdue", kind=t(f"kind.{item.label}"), indicator=plain(item.indicator),
                     region=plain(item.region), period=plain(item.window))
        else:
            text = t("summary", indicator=plain(item.indicator), region=plain(item.region),
                     severity=t(f"severity.{item.severity or 'none'}"), value=item.value, target=item.target)
            if item.label not in ("started", "escalated", "reminder", "resolved"):
                text = t("summary.loop", kind=t(f"kind.{item.label}"), summary=text)
        if item.provisional:
            text += t("summary.provisional", count=item.provisional)
        return text

    def title(self, items: Sequence[Item], locale: str) -> str:
        t = Translator("notices", locale)
        if len(items) == 1:
            (item,) = items
            return t("title.one", kind=t(f"kind.{item.label}"), indicator=plain(item.indicator),
                     region=plain(item.region))
        return t("title.many", count=len(items))

    def _lines(self, item: Item, locale: str, esc: Any) -> list[str]:
        t = Translator("notices", locale)
        lines = [t("line.state", kind=t(f"kind.{item.label}"), severity=t(f"severity.{item.severity or 'none'}"))]
        if item.overdue:
            lines.append(t("line.period", period=esc(item.window)))
            lines.append(t("line.overdue_resolved" if item.label == "overdue_resolved" else "line.overdue"))
            if item.since:
                lines.append(t("line.overdue_since", since=item.since))
            if item.resolved:
                lines.append(t("line.resolved", resolved=item.resolved))
            lines.extend(t("line.ack", by=esc(by), comment=esc(comment)) for by, comment in item.acks)
            return lines
        if item.plan_unit is not None or item.plan_deadline is not None:
            lines.append(t("line.plan", unit=esc(item.plan_unit or "—"), deadline=item.plan_deadline or "—"))
        if item.follow_ups is not None:
            lines.append(t("line.follow_ups", count=item.follow_ups))
        if item.label == "closed":
            lines.append(t("line.closed"))
        if item.n is not None and item.ci is not None:
            lines.append(t("line.value", value=esc(item.value), n=esc(item.n), ci=esc(item.ci)))
        else:
            lines.append(t("line.value_plain", value=esc(item.value)))
        lines.append(t("line.target", target=esc(item.target)))
        lines.append(t("line.window", window=esc(item.window)))
        if item.category:
            lines.append(t("line.category", category=esc(item.category)))
        if item.since:
            lines.append(t("line.since", since=item.since))
        if item.resolved:
            lines.append(t("line.resolved", resolved=item.resolved))
        if item.provisional:
            lines.append(t("line.provisional", count=item.provisional))
        if item.contributors:
            sep = "、" if locale != "en" else "; "
            lines.append(t("line.contributors", cities=sep.join(
                t("line.contributor_alerting" if c.alerting else "line.contributor", name=esc(c.name),
                  points=c.points, n=c.n) for c in item.contributors)))
        for by, comment in item.acks:
            lines.append(t("line.ack", by=esc(by), comment=esc(comment)))
        return lines

    def markdown_item(self, item: Item, locale: str) -> str:
        t = Translator("notices", locale)
        head = "#### " + t("headline", kind=t(f"kind.{item.label}"), indicator=md(item.indicator),
                           region=md(item.region))
        body = [f"- {line}" for line in self._lines(item, locale, md)]
        body.append(f"- [{t('line.link')}]({item.link})")
        return "\n".join([head, *body])

    def markdown(self, items: Sequence[Item], locale: str, *, max_bytes: int) -> str:
        """Items as markdown, at most ``max_bytes`` of UTF-8: whole items, then "…and N more"; a single item
        longer than the limit is cut at a character boundary."""
        t = Translator("notices", locale)
        blocks = [self.markdown_item(i, locale) for i in items]
        text = "\n\n".join(blocks)
        if len(text.encode()) <= max_bytes:
            return text
        for keep in range(len(blocks) - 1, 0, -1):
            more = "\n\n" + t("more", count=len(blocks) - keep)
            text = "\n\n".join(blocks[:keep]) + more
            if len(text.encode()) <= max_bytes:
                return text
        more = "\n\n" + t("more", count=len(blocks) - 1) if len(blocks) > 1 else ""
        room = max_bytes - len(more.encode())
        return cut_utf8(blocks[0], room) + more

    def text(self, items: Sequence[Item], locale: str) -> str:
        t = Translator("notices", locale)
        parts = [t("email.intro"), ""]
        for item in items:
            parts.append(t("headline", kind=t(f"kind.{item.label}"), indicator=plain(item.indicator),
                           region=plain(item.region)))
            parts.extend(f"  {line}" for line in self._lines(item, locale, plain))
            parts.append(f"  {t('line.link')}: {item.link}")
            parts.append("")
        parts.append(t("email.footer"))
        return "\n".join(parts) + "\n"

    def html(self, items: Sequence[Item], locale: str) -> str:
        t = Translator("notices", locale)
        lang = "zh-CN" if locale == DEFAULT_LOCALE else locale
        parts = [f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><body>', f"<p>{htm(t('email.intro'))}</p>"]
        for item in items:
            parts.append("<h3>" + htm(t("headline", kind=t(f"kind.{item.label}"), indicator=item.indicator,
                                          region=item.region)) + "</h3><ul>")
            parts.extend(f"<li>{line}</li>" for line in self._lines(item, locale, _html_data))
            parts.append(f'<li><a href="{html.escape(item.link, quote=True)}">{htm(t("line.link"))}</a></li></ul>')
        parts.append(f"<p><small>{htm(t('email.footer'))}</small></p></body></html>")
        return "\n".join(parts)

    # ---- Alertmanager ------------------------------------------------------------------------------------
    def alertmanager_alerts(self, alert: Alert, notice: str, agency_id: str,
                            left: Mapping[str, dt.datetime] | None = None,
                            extras: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The postableAlerts of one alert (Alertmanager API v2). Severity is a label, so Alertmanager holds
        one alert per severity, as for Prometheus' warning and critical rules: beside the alert at its
        severity goes the alert at each severity it ``left`` during this episode (``store.severities_left``),
        ended when it left it, so a severity change while firing leaves nothing stale behind."""
        current = self.alertmanager_alert(alert, notice, agency_id, extras)
        ended = [{**current, "labels": {**current["labels"], "severity": severity}, "endsAt": rfc3339(at)}
                 for severity, at in sorted((left or {}).items()) if severity != current["labels"]["severity"]]
        return [current, *ended]

    def alertmanager_alert(self, alert: Alert, notice: str, agency_id: str,
                           extras: dict[str, Any] | None = None) -> dict[str, Any]:
        """One postableAlert: labels identify the alert (the same labels on every push while its severity
        holds, so Alertmanager keeps one alert), annotations say what it is in both languages."""
        zh, en = self.item(alert, notice, "zh-CN", extras=extras), self.item(alert, notice, "en", extras=extras)
        alertname = "QualityWatchReportOverdue" if zh.overdue else "QualityWatchIndicatorBreach"
        labels = {"alertname": alertname, "indicator": alert.indicator, "region": alert.region,
                  "window": alert.window, "severity": alert.severity or "warning", "agency": agency_id,
                  "category": alert.category or "all"}
        body: dict[str, Any] = {
            "labels": labels,
            "annotations": {"summary": self.summary(zh, "zh-CN"), "summary_en": self.summary(en, "en"),
                            "indicator_name": plain(zh.indicator), "region_name": plain(zh.region),
                            "value": zh.value, "target": zh.target, "n": zh.n or "", "ci95": zh.ci or "",
                            "notice": zh.kind, "dashboard_url": zh.link},
            "generatorURL": zh.link,
        }
        if zh.provisional:
            body["annotations"]["provisional_failures"] = str(zh.provisional)
        if zh.contributors:
            body["annotations"]["contributors"] = "、".join(f"{c.name} {c.points} pp n={c.n}" for c in zh.contributors)
        if zh.since_at is not None:
            body["startsAt"] = rfc3339(zh.since_at)
        if alert.state == "resolved" and alert.resolved_at is not None:
            body["endsAt"] = rfc3339(alert.resolved_at)
        return body


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _instant(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _html_data(text: str) -> str:
    return htm(text)


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``max_bytes`` (never half a character)."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[:max(0, max_bytes)].decode("utf-8", errors="ignore")
