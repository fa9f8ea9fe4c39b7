// Issue 19 on the dashboard, kept apart so it can move: the rectification loop of each alert (stage, plan,
// follow-ups, escalation, the cities behind a provincial shortfall, the timeline), a form to set a plan,
// and the completeness of reported figures. Plain JS, no build step; text only through textContent.
(function () {
  "use strict";
  const TOKEN_KEY = "qw.token";
  const STAGE = { open: "待整改 open", planned: "整改中 planned", rectified: "已整改 rectified", closed: "已闭环 closed" };
  let config = null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function api(url, options) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return null;
    const resp = await fetch(url, Object.assign({ cache: "no-store" }, options || {}, {
      headers: Object.assign({ Authorization: `Bearer ${token}` }, (options || {}).headers || {}),
    }));
    if (!resp.ok) throw new Error(`${resp.status} ${(await resp.text()).slice(0, 200)}`);
    return resp.json();
  }

  function alertsBase() {
    return ((config && config.alerts_url) || "").replace(/\/$/, "");
  }

  function planForm(alert, box) {
    const form = el("form", null, "loop-plan");
    const unit = el("input"); unit.name = "unit"; unit.placeholder = "责任单位 responsible unit"; unit.required = true;
    const deadline = el("input"); deadline.name = "deadline"; deadline.type = "datetime-local"; deadline.required = true;
    const comment = el("input"); comment.name = "comment"; comment.placeholder = "整改措施 measures";
    const submit = el("button", "设定整改计划 Set plan"); submit.type = "submit";
    const note = el("span", "", "loop-note");
    form.append(unit, deadline, comment, submit, note);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api(`${alertsBase()}/v1/alerts/${encodeURIComponent(alert.alert_id)}/rectification`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ unit: unit.value, deadline: `${deadline.value}:00+08:00`, comment: comment.value }),
        });
        note.textContent = "已保存 saved";
        refresh();
      } catch (err) { note.textContent = String(err.message || err); }
    });
    box.append(form);
  }

  async function showTimeline(alert, box) {
    const body = await api(`${alertsBase()}/v1/alerts/${encodeURIComponent(alert.alert_id)}/timeline`);
    const list = el("ol", null, "loop-timeline");
    for (const e of body.entries) {
      const actor = e.actor ? ` · ${e.actor}` : "";
      list.append(el("li", `${e.at.replace("T", " ").slice(0, 19)} ${e.kind}${actor}`));
    }
    box.append(list);
  }

  function alertCard(alert) {
    const box = el("div", null, "loop-alert");
    const loop = alert.rectification || {};
    const kind = alert.kind === "report_overdue" ? "逾期未报 report overdue" : (alert.severity || "");
    box.append(el("h4", `${alert.indicator} · ${alert.region} · ${alert.window} · ${kind} · ${alert.state}`));
    if (loop.stage) box.append(el("p", `${STAGE[loop.stage] || loop.stage}` +
      (loop.plan ? ` — ${loop.plan.unit}，期限 due ${loop.plan.deadline}` : "") +
      ` · 跟踪抽检 follow-ups ${loop.follow_ups || 0}/${loop.follow_ups_required || "-"}` +
      (loop.escalated_at ? " · 已升级 escalated" : "")));
    if (alert.provisional_failures) box.append(el("p", `待定不合格 provisional failures: ${alert.provisional_failures}`));
    if (alert.contributors && alert.contributors.length) {
      box.append(el("p", "主要影响城市 cities behind the gap: " + alert.contributors.map(
        (c) => `${c.name} ${c.points} pp (n=${c.n})${c.alerting ? " ⚑" : ""}`).join("，")));
    }
    const show = el("button", "时间线 Timeline");
    show.addEventListener("click", () => { show.disabled = true; showTimeline(alert, box).catch(() => {}); });
    box.append(show);
    if (alert.state === "firing" && alert.kind !== "report_overdue" && (!loop.stage || loop.stage === "open" || loop.stage === "planned")) {
      planForm(alert, box);
    }
    return box;
  }

  function completenessTable(rows) {
    const table = el("table", null, "loop-completeness");
    const head = el("tr");
    for (const h of ["指标 Indicator", "报告期 Period", "已报/应报", "完整率", "未报 Missing"]) head.append(el("th", h));
    table.append(head);
    for (const r of rows) {
      const tr = el("tr");
      tr.append(el("td", r.name_zh), el("td", r.period), el("td", `${r.reported}/${r.expected}`),
        el("td", `${(r.value * 100).toFixed(1)} %`), el("td", r.missing.map((m) => m.name).join("、") || "—"));
      table.append(tr);
    }
    return table;
  }

  async function refresh() {
    const section = document.getElementById("loop");
    if (!section || !sessionStorage.getItem(TOKEN_KEY)) return;
    try {
      const [alerts, card] = await Promise.all([
        api(`${alertsBase()}/v1/alerts?state=all&limit=50`), api("/v1/scorecard?window=30d")]);
      section.replaceChildren(el("h2", "整改闭环 Rectification loop"));
      for (const a of (alerts ? alerts.alerts : []).filter((a) => a.state === "firing" || a.rectification)) {
        section.append(alertCard(a));
      }
      section.append(el("h2", "数据报送完整率 Completeness of reported figures"));
      section.append(completenessTable((card && card.completeness) || []));
    } catch (err) {
      section.replaceChildren(el("p", `整改闭环暂不可用 loop unavailable: ${err.message || err}`));
    }
  }

  async function boot() {
    const main = document.querySelector("main") || document.body;
    const section = el("section", null, "loop");
    section.id = "loop";
    main.append(section);
    config = await (await fetch("/dashboard/config.json", { cache: "no-store" })).json();
    refresh();
    setInterval(refresh, 30000);
  }

  document.addEventListener("DOMContentLoaded", () => { boot().catch(() => {}); });
})();
