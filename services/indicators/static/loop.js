// Issue 19 in the dashboard's alert panel, kept apart so it can move: each alert's rectification loop (stage,
// plan with its unit and deadline, follow-up samples, escalation), its provisional failures and the cities behind
// a provincial shortfall, its timeline (every step, in China Standard Time) and a form to set a plan; and the
// completeness of reported figures under the scorecard. dashboard.js calls `QWLoop.panel(alert)` for each alert
// it lists and `QWLoop.completeness(rows)` after each refresh, and lends its helpers as `window.QW` (text from
// shared/i18n/dashboard.<locale>.json, CST times, the API with the reader's token). Text only via textContent.
(() => {
  "use strict";

  // alert_id -> {node, summary, actions, timeline, open, form}: one node per alert, kept across refreshes so an
  // open timeline stays open and a half-typed plan is not lost when the panel re-renders.
  const boxes = new Map();
  const MAX_BOXES = 500;
  const Q = () => window.QW;

  function alertsBase() {
    return ((Q().config().alerts_url) || "").replace(/\/$/, "");
  }

  function summaryLines(a) {
    const { t, el, cstLabelled, regionName } = Q();
    const lines = [];
    const loop = a.rectification || null;
    if (a.kind === "report_overdue") lines.push(el("div", { class: "loop-overdue", text: t("loop.overdue", { period: a.window || "" }) }));
    if (loop && loop.stage) {
      lines.push(el("div", { class: "rectification", "data-stage": loop.stage,
        text: t("alerts.rectification", { state: t(`loop.stage.${loop.stage}`) }) }));
      if (loop.plan) {
        lines.push(el("div", { class: "loop-plan-line", text: t("loop.plan", { unit: loop.plan.unit || "—",
          deadline: cstLabelled(loop.plan.deadline) }) + (loop.plan.comment ? ` — ${loop.plan.comment}` : "") }));
      }
      if (loop.follow_ups || loop.stage === "planned") {
        lines.push(el("div", { class: "loop-follow-ups", text: t("loop.follow_ups", { count: loop.follow_ups || 0,
          required: loop.follow_ups_required || "—" }) }));
      }
      if (loop.escalated_at) lines.push(el("div", { class: "loop-escalated", text: t("loop.escalated", { time: cstLabelled(loop.escalated_at) }) }));
    }
    if (a.provisional_failures) {
      lines.push(el("div", { class: "loop-provisional", text: t("loop.provisional", { count: a.provisional_failures }) }));
    }
    if (Array.isArray(a.contributors) && a.contributors.length) {
      const sep = Q().config().locale === "en" ? "; " : "、";
      lines.push(el("div", { class: "loop-contributors", text: t("loop.contributors", { cities: a.contributors.map(
        (c) => t(c.alerting ? "loop.contributor_alerting" : "loop.contributor",
          { name: regionName(c.region), points: Number(c.points).toFixed(1), n: c.n })).join(sep) }) }));
    }
    return lines;
  }

  function entryText(e) {
    const { t, cstLabelled } = Q();
    const d = e.detail || {};
    let text = `${cstLabelled(e.at)} ${t(`loop.entry.${e.kind}`)}`;
    if (e.kind === "plan_set" && d.deadline) text += ` — ${t("loop.plan", { unit: d.unit || "—", deadline: cstLabelled(d.deadline) })}`;
    if (e.actor) text += ` · ${e.actor}`;
    return text;
  }

  async function loadTimeline(id, box) {
    const { api, el, t } = Q();
    try {
      const body = await api(`${alertsBase()}/v1/alerts/${encodeURIComponent(id)}/timeline`);
      box.timeline.replaceChildren(...(body.entries || []).map((e) => el("li", { "data-kind": e.kind, "data-at": e.at, text: entryText(e) })));
    } catch (err) {
      box.timeline.replaceChildren(el("li", { class: "error", text: t("loop.timeline.error", { error: err.message || err }) }));
    }
  }

  function planForm(a, box) {
    const { el, t, api } = Q();
    const unit = el("input", { name: "unit", required: "required", maxlength: "200", placeholder: t("loop.form.unit") });
    const deadline = el("input", { name: "deadline", type: "datetime-local", required: "required" });
    const comment = el("input", { name: "comment", maxlength: "2000", placeholder: t("loop.form.comment") });
    const note = el("span", { class: "loop-note", role: "status" });
    const form = el("form", { class: "loop-form" },
      el("label", { text: t("loop.form.unit") }, unit), el("label", { text: t("loop.form.deadline") }, deadline),
      el("label", { text: t("loop.form.comment") }, comment), el("button", { type: "submit", text: t("loop.form.submit") }), note);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api(`${alertsBase()}/v1/alerts/${encodeURIComponent(a.alert_id)}/rectification`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ unit: unit.value, deadline: `${deadline.value}:00+08:00`, comment: comment.value }) });
        note.textContent = t("loop.form.saved");
        form.remove();
        box.form = null;
        Q().refresh();
      } catch (err) { note.textContent = t("loop.form.failed", { error: err.message || err }); }
    });
    return form;
  }

  function panel(a) {
    const { el, t } = Q();
    const id = a.alert_id || "";
    let box = boxes.get(id);
    if (!box) {
      if (boxes.size > MAX_BOXES) boxes.clear();
      box = { node: el("div", { class: "loop", "data-alert": id }), summary: el("div", { class: "loop-summary" }),
        actions: el("div", { class: "loop-actions" }), timeline: el("ol", { class: "loop-timeline", hidden: "hidden" }),
        open: false, form: null };
      const toggle = el("button", { type: "button", class: "link loop-timeline-toggle", text: t("loop.timeline.show") });
      toggle.addEventListener("click", () => {
        box.open = !box.open;
        box.timeline.hidden = !box.open;
        toggle.textContent = t(box.open ? "loop.timeline.hide" : "loop.timeline.show");
        if (box.open) loadTimeline(id, box);
      });
      box.planButton = el("button", { type: "button", class: "link loop-plan-open", text: t("loop.form.open") });
      box.planButton.addEventListener("click", () => {
        if (box.form) { box.form.remove(); box.form = null; return; }
        box.form = planForm(box.alert, box);
        box.node.append(box.form);
      });
      box.actions.append(toggle, box.planButton);
      box.node.append(box.summary, box.actions, box.timeline);
      boxes.set(id, box);
    }
    box.alert = a;
    box.summary.replaceChildren(...summaryLines(a));
    const stage = (a.rectification && a.rectification.stage) || "open";
    box.planButton.hidden = !(a.state === "firing" && a.kind !== "report_overdue" && (stage === "open" || stage === "planned"));
    if (box.open) loadTimeline(id, box);
    return box.node;
  }

  function completeness(rows) {
    const { el, t, indName, regionName } = Q();
    let section = document.getElementById("completeness");
    if (!section) {
      section = el("section", { id: "completeness", class: "completeness" });
      const detail = document.getElementById("detail");
      if (detail) detail.before(section); else (document.querySelector("main") || document.body).append(section);
    }
    if (!Array.isArray(rows) || !rows.length) { section.hidden = true; return; }
    section.hidden = false;
    const sep = Q().config().locale === "en" ? ", " : "、";
    const head = el("tr", {}, ...["col.indicator", "col.period", "col.reported", "col.rate", "col.missing"].map(
      (k) => el("th", { text: t(`completeness.${k}`) })));
    const body = rows.map((r) => el("tr", { class: r.reported < r.expected ? "short" : "", "data-indicator": r.indicator },
      el("td", { text: indName(r.indicator) }), el("td", { text: r.period }),
      el("td", { class: "num", text: `${r.reported} / ${r.expected}` }),
      el("td", { class: "num", text: `${(r.value * 100).toFixed(1)} %` }),
      el("td", { text: (r.missing || []).map((m) => regionName(m.region)).join(sep) || "—" })));
    section.replaceChildren(el("h2", { text: t("completeness.title") }),
      el("table", { class: "completeness" }, el("thead", {}, head), el("tbody", {}, ...body)));
  }

  window.QWLoop = { panel, completeness };
})();
