"""The quality report's issue-19 parts: final figures for closed periods, which figures are still
provisional, and the completeness of reported figures (reported ÷ expected)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException, Request

from services.indicators.report_format import esc, region_label
from shared.catalogue import Catalogue
from shared.i18n import Translator


async def scorecard_body(request: Request, window: str, basis: str) -> dict[str, Any]:
    """The scorecard for ``window`` on ``basis``, read in-process with the caller's token."""
    transport = httpx.ASGITransport(app=request.app)
    headers = {"Authorization": request.headers.get("authorization", "")}
    async with httpx.AsyncClient(transport=transport, base_url="http://indicators.internal") as client:
        resp = await client.get("/v1/scorecard", params={"window": window, "basis": basis}, headers=headers)
    if resp.status_code != 200:
        raise HTTPException(status_code=resp.status_code if resp.status_code < 500 else 502,
                            detail=f"scorecard for window {window!r} failed: {resp.text[:300]}")
    body: dict[str, Any] = resp.json()
    return body


def loop_sections(catalogue: Catalogue, figures: dict[tuple[str, str], dict[str, Any]],
                  completeness: list[dict[str, Any]], basis: str, t: Translator) -> str:
    basis_line = ("本报告期已结束，合格率按已确定结果计算（异议期内或复检中的不合格结果不计入）。"
                  "The period is closed: pass rates count settled verdicts only (failures still open to objection "
                  "or awaiting a re-test are left out)." if basis == "final" else
                  "本报告期尚未结束，合格率含尚在异议期内的不合格结果。The period is open: pass rates count every "
                  "verdict, including failures still open to objection.")
    provisional = [(key, fig) for key, fig in sorted(figures.items()) if fig.get("provisional")]
    rows = "".join(f'<tr><td>{esc(key[0])}</td><td>{region_label(catalogue, key[1], t)}</td>'
                   f'<td class="num">{esc(fig["provisional"])}</td></tr>' for key, fig in provisional)
    pending = (f'<table class="provisional"><thead><tr><th>指标 Indicator</th><th>地区 Region</th>'
               f'<th>待定不合格 Provisional failures</th></tr></thead><tbody>{rows}</tbody></table>'
               if provisional else '<p>无待定结果。No figure has provisional results.</p>')
    comp_rows = "".join(
        f'<tr><td>{esc(c["name_zh"])}</td><td>{esc(c["period"])}</td><td class="num">{c["reported"]}/{c["expected"]}'
        f'</td><td class="num">{c["value"] * 100:.1f} %</td><td>'
        f'{esc("、".join(m["name"] + " " + m["period"] for m in c["missing"]) or "—")}</td></tr>'
        for c in completeness)
    comp = (f'<table class="completeness"><thead><tr><th>指标 Indicator</th><th>报告期 Period</th>'
            f'<th>已报/应报 Reported/expected</th><th>完整率 Completeness</th><th>未报 Missing</th></tr></thead>'
            f'<tbody>{comp_rows}</tbody></table>' if completeness else '<p>本期无应报数据。No reports expected.</p>')
    return (f'<h2>四、结果确定性 Provisional results</h2><p class="note basis">{esc(basis_line)}</p>{pending}'
            f'<h2>五、数据报送完整率 Completeness of reported figures</h2>{comp}')
