// QualityWatch dashboard: scorecard × regions, 90-day trend (inline SVG), firing alerts.
// Plain JS, no build step, no outside resources. Token: #token=... in the URL, kept in sessionStorage.
(() => {
  "use strict";

  const TOKEN_KEY = "qw.token";
  const WINDOW_KEY = "qw.window";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const STATUS_COLOUR = {
    ok: "#3d9a47", on_track: "#3d9a47", at_risk: "#f2ad16", breach: "#d32f2f", behind: "#ec6c0c",
    insufficient_data: "#9aa1a8", no_data: "#c5cbd1",
  };
  const STATUS_TEXT = {
    ok: "达标 ok", at_risk: "有风险 at risk", breach: "未达标 breach", insufficient_data: "样本不足",
    on_track: "进度正常 on track", behind: "进度落后 behind", no_data: "未报送 no data",
  };

  const state = {
    config: null, token: null, window: "30d", selected: null, figures: new Map(),
    alerts: [], alertsError: null, timer: null, busy: false, trendKey: null,
  };
  const $ = (id) => document.getElementById(id);

  // ---- helpers ------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const present = (...items) => items.filter((c) => c !== null && c !== undefined);

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function indicatorSpec(id) {
    return state.config.indicators.find((i) => i.id === id) || { id, name_zh: id, name_en: "", unit: "percent",
      target: { op: ">=", value: 0 } };
  }

  function regionSpec(code) {
    return state.config.regions.find((r) => r.code === code) || { code, name: code, name_en: "" };
  }

  function fmt(unit, v) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "—";
    v = Number(v);
    if (unit === "percent") return (v * 100).toFixed(1) + "%";
    if (unit === "score") return v.toFixed(1);
    return String(Math.round(v));
  }

  function fmtCi(unit, ci) {
    if (!Array.isArray(ci) || ci.length !== 2 || ci[0] === null) return "";
    return `${fmt(unit, ci[0])}–${fmt(unit, ci[1])}`;
  }

  function fmtTarget(ind) {
    const t = ind.target || {};
    const op = { ">=": "≥", "<=": "≤" }[t.op] || t.op;
    const base = `${op} ${fmt(ind.unit, t.value)}`;
    return ind.unit === "count" && state.config.plan ? `${base} by ${state.config.plan.deadline}` : base;
  }

  function sampleSize(f) {
    const n = [f.sample_size, f.n, f.denominator].find((v) => v !== undefined && v !== null);
    return n === null || n === undefined ? null : Number(n);
  }

  // Every figure-shaped object in a scorecard answer, whatever wraps it (list, rows, groups).
  function collectFigures(node, out) {
    if (Array.isArray(node)) node.forEach((c) => collectFigures(c, out));
    else if (node && typeof node === "object") {
      if ("indicator" in node && "region" in node && "status" in node && "value" in node) out.push(node);
      else Object.values(node).forEach((c) => collectFigures(c, out));
    }
    return out;
  }

  function collectPoints(body) {
    if (Array.isArray(body)) return body;
    if (body && typeof body === "object") {
      for (const key of ["points", "trend", "days", "items"]) if (Array.isArray(body[key])) return body[key];
    }
    return [];
  }

  function readFragment() {
    return new URLSearchParams(location.hash.replace(/^#/, ""));
  }

  function writeFragment() {
    let frag = `window=${encodeURIComponent(state.window)}`;
    if (state.selected) {
      const { indicator, region } = state.selected;
      frag += `&cell=${encodeURIComponent(indicator)}:${encodeURIComponent(region)}`;
    }
    history.replaceState(null, "", `${location.pathname}${location.search}#${frag}`);
  }

  class AuthError extends Error {}

  async function api(url) {
    const resp = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store" });
    if (resp.status === 401) throw new AuthError("API key refused (401)");
    if (resp.status === 403) throw new AuthError("API key lacks read access (403): use an agency or operator key");
    if (!resp.ok) throw new Error(`${url.split("?")[0]}: HTTP ${resp.status}`);
    return resp.json();
  }

  // ---- auth ---------------------------------------------------------------------------------
  function showAuth(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    $("auth").hidden = false;
    $("main").hidden = true;
    $("sign-out").hidden = true;
    $("auth-message").textContent = message || "";
    $("api-key").focus();
  }

  function onTokenSubmit(event) {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    $("api-key").value = "";
    sessionStorage.setItem(TOKEN_KEY, key);
    start(key);
  }

  // ---- scorecard ----------------------------------------------------------------------------
  function buildScorecard() {
    const headRow = document.querySelector("#scorecard thead tr");
    for (const r of state.config.regions) {
      headRow.append(el("th", { class: `region ${r.level}`, "data-region": r.code, scope: "col" },
        r.name, el("span", { class: "en", text: r.name_en })));
    }
    const body = document.querySelector("#scorecard tbody");
    for (const ind of state.config.indicators) {
      const row = el("tr", { "data-indicator": ind.id });
      const name = el("th", { class: "ind", scope: "row", title: ind.clause || "" },
        el("div", { class: "zh", text: ind.name_zh }), el("div", { class: "en", text: ind.name_en }),
        el("div", { class: "target", text: `目标 target ${fmtTarget(ind)}` }));
      name.addEventListener("click", () => select(ind.id, state.config.regions[0].code));
      row.append(name);
      for (const r of state.config.regions) {
        const button = el("button", { type: "button", "aria-label": `${ind.name_zh} ${r.name}` },
          el("div", { class: "value", text: "…" }));
        button.addEventListener("click", () => select(ind.id, r.code));
        row.append(el("td", { class: "cell missing", "data-indicator": ind.id, "data-region": r.code }, button));
      }
      body.append(row);
    }
  }

  function renderCells() {
    const firing = new Set(state.alerts.filter((a) => a.state === "firing" || !a.state)
      .map((a) => `${a.indicator}|${a.region}`));
    for (const td of document.querySelectorAll("#scorecard td.cell")) {
      const { indicator, region } = td.dataset;
      const ind = indicatorSpec(indicator);
      const f = state.figures.get(`${indicator}|${region}`);
      const button = td.querySelector("button");
      const sel = state.selected && state.selected.indicator === indicator && state.selected.region === region;
      if (!f) {
        td.className = `cell missing${sel ? " selected" : ""}`;
        td.dataset.status = "";
        const note = ind.scope === "province" && region !== state.config.regions[0].code ? "全省指标 province-wide" : "no figure";
        button.replaceChildren(el("div", { class: "value", text: "—" }), el("div", { class: "n", text: note }));
        continue;
      }
      const n = sampleSize(f);
      td.className = `cell ${f.status}${sel ? " selected" : ""}`;
      td.dataset.status = f.status;
      const ci = fmtCi(ind.unit, f.ci95);
      button.title = `${ind.name_zh} · ${regionSpec(region).name}: ${STATUS_TEXT[f.status] || f.status}`;
      button.replaceChildren(...present(
        firing.has(`${indicator}|${region}`) ? el("span", { class: "flag", title: "firing alert", text: "⚑" }) : null,
        el("div", { class: "value", text: fmt(ind.unit, f.value) }),
        el("div", { class: "n", text: n === null ? "" : `n=${n.toLocaleString("en-US")}` }),
        ci ? el("div", { class: "ci", text: ci }) : null,
      ));
    }
    for (const tr of document.querySelectorAll("#scorecard tbody tr")) {
      tr.classList.toggle("selected", !!state.selected && tr.dataset.indicator === state.selected.indicator);
    }
  }

  async function loadScorecard() {
    const body = await api(`/v1/scorecard?window=${encodeURIComponent(state.window)}`);
    const figures = new Map();
    for (const f of collectFigures(body, [])) {
      const key = `${f.indicator}|${f.region}`;
      if (!figures.has(key) || f.category === null || f.category === undefined) figures.set(key, f);
    }
    state.figures = figures;
    const asOf = [...figures.values()].map((f) => f.as_of).filter(Boolean).sort().pop();
    return asOf;
  }

  // ---- trend --------------------------------------------------------------------------------
  function select(indicator, region) {
    state.selected = { indicator, region };
    writeFragment();
    renderCells();
    renderAlerts();
    loadTrend(true).catch(handleError);
  }

  async function loadTrend(scroll) {
    if (!state.selected) return;
    const { indicator, region } = state.selected;
    const ind = indicatorSpec(indicator);
    const days = state.config.trend_days || 90;
    const key = `${indicator}|${region}|${state.window}`;
    if (state.trendKey !== key) {
      $("trend-title").replaceChildren(`${ind.name_zh} · ${regionSpec(region).name} `,
        el("span", { class: "muted", text: `${ind.name_en}, ${regionSpec(region).name_en} — rolling ${state.window}` }));
      $("trend").replaceChildren(el("p", { class: "muted", text: "加载中 loading…" }));
    }
    state.trendKey = key;
    // The cell's own window: milestones are judged over the plan period whatever the selector says.
    const cell = state.figures.get(`${indicator}|${region}`);
    const window = (cell && cell.window) || state.window;
    const url = `/v1/indicators/${encodeURIComponent(indicator)}/trend?region=${encodeURIComponent(region)}` +
      `&window=${encodeURIComponent(window)}&days=${days}`;
    const points = collectPoints(await api(url));
    if (state.trendKey !== key) return; // the selection moved on while loading
    drawTrend(ind, points);
    if (scroll) $("detail").scrollIntoView({ block: "nearest" });
  }

  function drawTrend(ind, points) {
    const box = $("trend");
    const rows = points.filter((p) => p && p.date).sort((a, b) => (a.date < b.date ? -1 : 1));
    const last = lastValued(rows);
    const summary = el("p", { class: "summary" });
    if (last) {
      const n = sampleSize(last);
      summary.append(`${last.date}: `, el("strong", { text: fmt(ind.unit, last.value) }),
        n === null ? "" : ` · n=${n.toLocaleString("en-US")}`,
        fmtCi(ind.unit, last.ci95) ? ` · 95% ${fmtCi(ind.unit, last.ci95)}` : "",
        ` · ${STATUS_TEXT[last.status] || last.status || ""} · 目标 target ${fmtTarget(ind)}`);
    } else {
      summary.append(`no values in the last ${rows.length} days · 目标 target ${fmtTarget(ind)}`);
    }
    box.replaceChildren(summary, trendSvg(ind, rows));
  }

  function trendSvg(ind, rows) {
    const W = 720, H = 280, L = 58, R = 16, T = 14, B = 32;
    const target = Number(ind.target.value);
    const vals = [target];
    for (const p of rows) {
      if (p.value !== null && p.value !== undefined) vals.push(Number(p.value));
      if (Array.isArray(p.ci95) && p.ci95[0] !== null) vals.push(Number(p.ci95[0]), Number(p.ci95[1]));
    }
    let lo = Math.min(...vals), hi = Math.max(...vals);
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.05 || 1;
    lo -= pad; hi += pad;
    if (ind.unit === "percent") { lo = Math.max(0, lo); hi = Math.min(1, hi); }
    if (ind.unit !== "percent" && lo > 0 && lo < pad * 3) lo = 0;
    const t0 = rows.length ? Date.parse(rows[0].date) : Date.now();
    const t1 = rows.length > 1 ? Date.parse(rows[rows.length - 1].date) : t0 + 86400000;
    const x = (d) => L + ((Date.parse(d) - t0) / (t1 - t0 || 1)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo || 1)) * (H - T - B);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "trend-chart", role: "img",
      "aria-label": `${ind.name_en} trend` });

    const grid = svg("g", { class: "grid axis" });
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      grid.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      grid.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(ind.unit, v)));
    }
    const step = Math.max(1, Math.round(rows.length / 6));
    rows.forEach((p, i) => {
      if (i % step === 0 || i === rows.length - 1) {
        grid.append(svg("text", { x: x(p.date), y: H - B + 18, "text-anchor": "middle" }, p.date.slice(5)));
      }
    });
    root.append(grid);

    // CI band and value line, broken where a day has no figure.
    const segments = [];
    let seg = [];
    for (const p of rows) {
      if (p.value === null || p.value === undefined) { if (seg.length) segments.push(seg); seg = []; } else seg.push(p);
    }
    if (seg.length) segments.push(seg);
    for (const s of segments) {
      const band = s.filter((p) => Array.isArray(p.ci95) && p.ci95[0] !== null);
      if (band.length > 1) {
        const upper = band.map((p) => `${x(p.date).toFixed(1)},${y(p.ci95[1]).toFixed(1)}`);
        const lower = band.slice().reverse().map((p) => `${x(p.date).toFixed(1)},${y(p.ci95[0]).toFixed(1)}`);
        root.append(svg("polygon", { class: "ci-band", points: upper.concat(lower).join(" ") }));
      }
      const d = s.map((p, i) => `${i ? "L" : "M"}${x(p.date).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
      root.append(svg("path", { class: "value-line", d }));
      if (s.length === 1) root.append(svg("circle", { cx: x(s[0].date), cy: y(s[0].value), r: 3, fill: "#1f5fae" }));
    }
    const ty = y(target);
    root.append(svg("line", { class: "target-line", x1: L, x2: W - R, y1: ty, y2: ty, "data-value": target }));
    root.append(svg("text", { class: "target-label", x: W - R - 4, y: ty - 5, "text-anchor": "end" },
      `目标 target ${fmtTarget(ind)}`));
    const p = lastValued(rows);
    if (p) {
      root.append(svg("circle", { cx: x(p.date), cy: y(p.value), r: 4.5, class: `last ${p.status || ""}`,
        fill: STATUS_COLOUR[p.status] || "#1f5fae", stroke: "#fff", "stroke-width": 1.5 }));
    }
    if (!rows.length) root.append(svg("text", { class: "label", x: W / 2, y: H / 2, "text-anchor": "middle" },
      "no data"));
    return root;
  }

  function lastValued(rows) {
    return [...rows].reverse().find((p) => p.value !== null && p.value !== undefined);
  }

  // ---- alerts -------------------------------------------------------------------------------
  async function loadAlerts() {
    const base = (state.config.alerts_url || "").replace(/\/$/, "");
    try {
      const body = await api(`${base}/v1/alerts?state=firing`);
      state.alerts = Array.isArray(body) ? body : body.alerts || body.items || [];
      state.alertsError = null;
    } catch (err) {
      if (err instanceof AuthError) state.alertsError = `alert service: ${err.message}`;
      else state.alertsError = `告警服务不可达 alert service unreachable (${base})`;
      state.alerts = [];
    }
  }

  function renderAlerts() {
    const box = $("alerts");
    if (state.alertsError) {
      $("alert-count").textContent = "";
      box.replaceChildren(el("p", { class: "error", text: state.alertsError }));
      return;
    }
    $("alert-count").textContent = `(${state.alerts.length})`;
    if (!state.alerts.length) {
      box.replaceChildren(el("p", { class: "muted", text: "无告警 nothing firing" }));
      return;
    }
    const sel = state.selected;
    const score = (a) => (sel && a.indicator === sel.indicator ? (a.region === sel.region ? 0 : 1) : 2);
    const sorted = state.alerts.slice().sort((a, b) => score(a) - score(b) ||
      (a.severity === b.severity ? 0 : a.severity === "critical" ? -1 : 1));
    const list = el("ul", { class: "alerts" });
    for (const a of sorted) {
      const ind = indicatorSpec(a.indicator);
      const n = sampleSize(a);
      list.append(el("li", { class: score(a) < 2 ? "match" : "", "data-alert": a.alert_id || "" },
        el("span", { class: `sev ${a.severity}`, text: a.severity || "?" }),
        el("strong", { text: `${ind.name_zh} · ${regionSpec(a.region).name}` }),
        el("div", { class: "muted", text: `${fmt(ind.unit, a.value)}${n === null ? "" : ` (n=${n})`} · ` +
          `${a.window || ""} · ${a.category || "全部 all categories"} · ` +
          `since ${(a.started_at || "").replace("T", " ").slice(0, 16)}` })));
    }
    box.replaceChildren(list);
  }

  // ---- refresh loop -------------------------------------------------------------------------
  function handleError(err) {
    if (err instanceof AuthError) { showAuth(err.message); return; }
    $("error").hidden = false;
    $("error").textContent = `刷新失败 refresh failed: ${err.message}`;
  }

  async function refresh() {
    if (state.busy || !state.token) return;
    state.busy = true;
    try {
      const [asOf] = await Promise.all([loadScorecard(), loadAlerts()]);
      renderCells();
      renderAlerts();
      if (state.selected) await loadTrend(false);
      $("error").hidden = true;
      const now = new Date().toLocaleTimeString("zh-CN", { hour12: false });
      $("updated").textContent = `更新 updated ${now}` +
        (asOf ? ` · 数据截至 as of ${asOf.replace("T", " ").slice(0, 19)}` : "");
    } catch (err) {
      handleError(err);
    } finally {
      state.busy = false;
    }
  }

  function start(token) {
    state.token = token;
    $("auth").hidden = true;
    $("main").hidden = false;
    $("sign-out").hidden = false;
    if (state.timer) clearInterval(state.timer);
    state.timer = setInterval(refresh, (state.config.refresh_seconds || 10) * 1000);
    refresh();
  }

  async function init() {
    const frag = readFragment();
    if (frag.get("token")) sessionStorage.setItem(TOKEN_KEY, frag.get("token"));
    const win = frag.get("window") || sessionStorage.getItem(WINDOW_KEY);
    const cell = (frag.get("cell") || "").split(":");
    const resp = await fetch("/dashboard/config.json", { cache: "no-store" });
    state.config = await resp.json();
    if (win && state.config.windows.includes(win)) state.window = win;
    if (cell.length === 2 && cell[0] && cell[1]) state.selected = { indicator: cell[0], region: cell[1] };
    writeFragment(); // drops the token from the address bar and history
    const plan = state.config.plan || {};
    $("plan-subtitle").textContent = `${plan.title || ""} ${plan.title_en || ""}`;
    $("window").value = state.window;
    $("window").addEventListener("change", () => {
      state.window = $("window").value;
      sessionStorage.setItem(WINDOW_KEY, state.window);
      writeFragment();
      refresh();
    });
    $("token-form").addEventListener("submit", onTokenSubmit);
    $("sign-out").addEventListener("click", () => showAuth(""));
    buildScorecard();
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) start(token);
    else showAuth("");
  }

  init().catch((err) => {
    $("error").hidden = false;
    $("error").textContent = `dashboard failed to start: ${err.message}`;
  });
})();
