// QualityWatch dashboard: scorecard × regions at each indicator's judged window, county drill-down, 90-day trend
// (inline SVG), firing alerts with their acknowledgements, a signed link to the period's report.
// Plain JS, no build step, no outside resources. Token: #token=... in the URL, kept in sessionStorage.
// Text: the config's `strings` (shared/i18n/dashboard.<locale>.json), chosen by the qw_lang cookie the toggle sets.
// Times: every instant is shown in China Standard Time (UTC+8) and labelled, whatever offset the API used.
(() => {
  "use strict";

  const TOKEN_KEY = "qw.token";
  const WINDOW_KEY = "qw.window";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const CST_MS = 8 * 3600 * 1000;
  const STATUS_COLOUR = {
    ok: "#3d9a47", on_track: "#3d9a47", achieved: "#3d9a47", at_risk: "#f2ad16", breach: "#d32f2f",
    behind: "#ec6c0c", missed: "#d32f2f", insufficient_data: "#9aa1a8", no_data: "#c5cbd1",
  };
  const LEGEND = ["ok", "at_risk", "breach", "insufficient_data", "no_data", "on_track", "behind", "achieved",
    "missed"];

  const state = {
    config: null, token: null, window: "judged", selected: null, figures: new Map(), rows: new Map(),
    alerts: [], alertsError: null, timer: null, busy: false, trendKey: null, county: null, asOf: null,
    lastReportUrl: null, completeness: [],
  };
  const $ = (id) => document.getElementById(id);

  // ---- text and time ------------------------------------------------------------------------
  function t(key, params) {
    const strings = (state.config && state.config.strings) || {};
    let text = strings[key] !== undefined ? strings[key] : key;
    for (const [k, v] of Object.entries(params || {})) text = text.split(`{${k}}`).join(String(v));
    return text;
  }
  const en = () => state.config && state.config.locale === "en";

  // Any RFC 3339 instant (Z or an offset, any fraction digits) → "YYYY-MM-DD HH:MM" in China Standard Time.
  function parseInstant(text) {
    if (!text) return null;
    const m = String(text).match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i);
    if (!m) return null;
    const frac = m[3] ? "." + (m[3] + "00").slice(0, 3) : "";
    let zone = m[4] || "+08:00";
    if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const ms = Date.parse(`${m[1]}T${m[2].length === 5 ? m[2] + ":00" : m[2]}${frac}${zone.toUpperCase()}`);
    return Number.isNaN(ms) ? null : ms;
  }
  function cstText(msOrText, withSeconds) {
    const ms = typeof msOrText === "number" ? msOrText : parseInstant(msOrText);
    if (ms === null || ms === undefined) return "—";
    const iso = new Date(ms + CST_MS).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)}`;
  }
  const cstLabelled = (v, s) => `${cstText(v, s)} (${t("tz")})`;
  const cstMonth = (ms) => new Date(ms + CST_MS).toISOString().slice(0, 7);

  // ---- helpers ------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
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
    return state.config.indicators.find((i) => i.id === id) || { id, name_zh: id, name_en: id, unit: "percent",
      target: { op: ">=", value: 0 } };
  }
  const indName = (ind) => (en() && ind.name_en ? ind.name_en : ind.name_zh);

  function regionSpec(code) {
    return state.config.regions.find((r) => r.code === code) || { code, name: code, name_en: "" };
  }
  const regionName = (r) => (en() && r.name_en ? r.name_en : r.name);
  const provinceCode = () => state.config.regions[0].code;

  function fmt(unit, v) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "—";
    v = Number(v);
    if (unit === "percent") return (v * 100).toFixed(1) + "%";
    if (unit === "score") return v.toFixed(1);
    return String(Math.round(v));
  }

  // An interval in a cell: without repeated units, so 13 cities fit at 1366 px ("96.0–97.2").
  function fmtCi(unit, ci) {
    if (!Array.isArray(ci) || ci.length !== 2 || ci[0] === null) return "";
    const part = (v) => (unit === "percent" ? (Number(v) * 100).toFixed(1) : fmt(unit, v));
    const lo = part(ci[0]), hi = part(ci[1]);
    return lo === hi ? "" : `${lo}–${hi}`;
  }

  function fmtTarget(ind) {
    const tg = ind.target || {};
    const op = { ">=": "≥", "<=": "≤" }[tg.op] || tg.op;
    const base = `${op} ${fmt(ind.unit, tg.value)}`;
    return ind.unit === "count" && state.config.plan ? t("target.by", { target: base, deadline: state.config.plan.deadline })
      : base;
  }

  const windowName = (w) => { const k = `window.${w}`; const s = t(k); return s === k ? w : s; };

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

  function indexFigures(body) {
    const figures = new Map();
    for (const f of collectFigures(body, [])) {
      const key = `${f.indicator}|${f.region}`;
      if (!figures.has(key) || f.category === null || f.category === undefined) figures.set(key, f);
    }
    return figures;
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
    if (state.county) frag += `&county=${encodeURIComponent(state.county)}`;
    history.replaceState(null, "", `${location.pathname}${location.search}#${frag}`);
  }

  class AuthError extends Error {}

  async function api(url, options) {
    const resp = await fetch(url, { cache: "no-store", ...(options || {}),
      headers: { Authorization: `Bearer ${state.token}`, ...((options || {}).headers || {}) } });
    if (resp.status === 401) throw new AuthError(t("auth.refused"));
    if (resp.status === 403) throw new AuthError(t("auth.forbidden"));
    if (!resp.ok) throw new Error(`${url.split("?")[0]}: HTTP ${resp.status}`);
    return resp.json();
  }

  // ---- language -----------------------------------------------------------------------------
  function applyStrings() {
    document.documentElement.lang = state.config.locale;
    document.title = `QualityWatch · ${t("page.title")}`;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    const toggle = $("lang-toggle");
    toggle.textContent = t("language.switch");
    toggle.title = t("language.switch_title");
    toggle.lang = en() ? "zh-CN" : "en";
    const legend = $("legend");
    legend.replaceChildren(...LEGEND.map((s) => el("li", { "data-status": s },
      el("span", { class: `swatch ${s}` }), t(`status.${s}`))), el("li", { class: "muted", text: t("legend.note") }));
  }

  function switchLanguage() {
    const other = en() ? "zh-CN" : "en";
    document.cookie = `${state.config.lang_cookie || "qw_lang"}=${other}; path=/; max-age=31536000; SameSite=Lax`;
    location.reload();
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
    $("report-links").hidden = true;
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
    const colgroup = document.querySelector("#scorecard colgroup");
    for (const r of state.config.regions) {
      colgroup.append(el("col", { class: "c-region" }));
      const label = regionName(r);
      const th = el("th", { class: `region ${r.level}`, "data-region": r.code, scope: "col" });
      if (r.level === "city") {
        const button = el("button", { type: "button", class: "city", title: t("counties.hint", { city: label }),
          text: label });
        button.addEventListener("click", () => openCounties(r.code));
        th.append(button);
      } else th.append(label);
      headRow.append(th);
    }
    const body = document.querySelector("#scorecard tbody");
    const regions = state.config.regions;
    for (const ind of state.config.indicators) {
      const row = el("tr", { "data-indicator": ind.id, "data-scope": ind.scope });
      const name = el("th", { class: "ind", scope: "row", title: ind.clause || "" },
        el("div", { class: "name", text: indName(ind) }),
        el("div", { class: "target", text: t("target", { target: fmtTarget(ind) }) }));
      name.addEventListener("click", () => select(ind.id, provinceCode()));
      row.append(name, el("td", { class: "judged", "data-judged": ind.judged_window }, windowName(ind.judged_window)));
      // A province-only indicator (milestones…): one cell across the row, not the same note in 13 cities.
      const cells = ind.scope === "province" ? [{ code: provinceCode(), span: regions.length }]
        : regions.map((r) => ({ code: r.code, span: 1 }));
      for (const { code, span } of cells) {
        const button = el("button", { type: "button", "aria-label": `${indName(ind)} ${regionName(regionSpec(code))}` },
          el("div", { class: "value", text: "…" }));
        button.addEventListener("click", () => select(ind.id, code));
        row.append(el("td", { class: `cell missing${span > 1 ? " span" : ""}`, colspan: span > 1 ? span : null,
          "data-indicator": ind.id, "data-region": code }, button));
      }
      body.append(row);
    }
  }

  // A figure with nothing behind it reads "no data", not "too few samples".
  const verdict = (f) => (f.status === "insufficient_data" && !sampleSize(f) && (f.value === null || f.value === undefined)
    ? "no_data" : f.status);

  function cellContent(ind, f, wide, firing) {
    const n = sampleSize(f);
    if (verdict(f) === "no_data") {  // (a milestone with nothing counted reads no_data since issue 19)
      return present(el("div", { class: "value", text: "—" }), el("div", { class: "st", text: t("status.no_data") }),
        wide ? el("div", { class: "note", text: t("province_only") }) : null);
    }
    const ci = fmtCi(ind.unit, f.ci95);
    const parts = present(
      firing ? el("span", { class: "flag", title: t("flag.firing"), text: "⚑" }) : null,
      el("div", { class: "value", text: fmt(ind.unit, f.value) }),
      el("div", { class: "st", text: t(`status.${f.status}`) }),
      n === null ? null : el("div", { class: "n", text: `n=${n.toLocaleString("en-US")}` }),
      ci ? el("div", { class: "ci", text: ci }) : null,
    );
    if (wide) parts.push(el("div", { class: "note", text: t("province_only") }));
    return parts;
  }

  function renderCells() {
    const firing = new Set(state.alerts.filter((a) => a.state === "firing" || !a.state)
      .map((a) => `${a.indicator}|${a.region}`));
    for (const td of document.querySelectorAll("#scorecard td.cell")) {
      const { indicator, region } = td.dataset;
      const ind = indicatorSpec(indicator);
      const f = state.figures.get(`${indicator}|${region}`);
      const button = td.querySelector("button");
      const wide = td.classList.contains("span");
      const sel = state.selected && state.selected.indicator === indicator && state.selected.region === region;
      if (!f) {
        td.className = `cell missing${wide ? " span" : ""}${sel ? " selected" : ""}`;
        td.dataset.status = "";
        button.replaceChildren(el("div", { class: "value", text: "—" }), el("div", { class: "n", text: t("no_figure") }));
        continue;
      }
      td.className = `cell ${verdict(f)}${wide ? " span" : ""}${sel ? " selected" : ""}`;
      td.dataset.status = f.status;
      td.dataset.window = f.window || "";
      button.title = `${indName(ind)} · ${regionName(regionSpec(region))}: ${t(`status.${f.status}`)} · ${windowName(f.window)}`;
      button.replaceChildren(...cellContent(ind, f, wide, firing.has(`${indicator}|${region}`)));
    }
    for (const tr of document.querySelectorAll("#scorecard tbody tr")) {
      tr.classList.toggle("selected", !!state.selected && tr.dataset.indicator === state.selected.indicator);
      const row = state.rows.get(tr.dataset.indicator);
      const judged = tr.querySelector("td.judged");
      if (row && judged) {
        const other = row.window && row.window !== row.judged_window;
        judged.replaceChildren(windowName(row.judged_window || judged.dataset.judged),
          ...(other ? [el("div", { class: "shown", text: t("col.shown_other", { window: windowName(row.window) }) })] : []));
        judged.classList.toggle("overridden", !!other);
      }
    }
  }

  async function loadScorecard() {
    const body = await api(`/v1/scorecard?window=${encodeURIComponent(state.window)}`);
    state.figures = indexFigures(body);
    state.rows = new Map((body.indicators || []).map((r) => [r.indicator, r]));
    state.completeness = body.completeness || [];
    return body.as_of || [...state.figures.values()].map((f) => f.as_of).filter(Boolean).sort().pop();
  }

  // ---- counties -----------------------------------------------------------------------------
  function openCounties(city) {
    state.county = city;
    writeFragment();
    $("counties").hidden = false;
    loadCounties(true).catch(handleError);
  }

  function closeCounties() {
    state.county = null;
    $("counties").hidden = true;
    writeFragment();
  }

  async function loadCounties(scroll) {
    const city = state.county;
    if (!city) return;
    const cityName = regionName(regionSpec(city));
    $("counties-title").textContent = t("counties.title", { city: cityName, window: windowName(state.window) });
    if (scroll) $("counties-body").replaceChildren(el("p", { class: "muted", text: t("counties.loading") }));
    const body = await api(`/v1/scorecard?window=${encodeURIComponent(state.window)}&parent=${encodeURIComponent(city)}`);
    if (state.county !== city) return;
    const regions = body.regions || [];
    if (!regions.length) {
      $("counties-body").replaceChildren(el("p", { class: "muted", text: t("counties.none", { city: cityName }) }));
      return;
    }
    const figures = indexFigures(body);
    const head = el("tr", {}, el("th", { class: "ind-head", text: t("col.indicator") }),
      ...regions.map((r) => el("th", { class: "region county", "data-region": r.code, scope: "col",
        text: r.name_en && en() ? r.name_en : r.name })));
    const rows = (body.indicators || []).map((row) => {
      const ind = indicatorSpec(row.indicator);
      return el("tr", { "data-indicator": row.indicator },
        el("th", { class: "ind", scope: "row" }, el("div", { class: "name", text: indName(ind) }),
          el("div", { class: "target", text: `${t("target", { target: fmtTarget(ind) })} · ${windowName(row.window)}` })),
        ...regions.map((r) => {
          const f = figures.get(`${row.indicator}|${r.code}`);
          const td = el("td", { class: `cell ${f ? verdict(f) : "missing"}`, "data-indicator": row.indicator,
            "data-region": r.code, "data-status": f ? f.status : "" });
          const box = el("div", { class: "static" });
          box.append(...(f ? cellContent(ind, f, false, false) : [el("div", { class: "value", text: "—" })]));
          td.append(box);
          return td;
        }));
    });
    $("counties-body").replaceChildren(el("div", { class: "grid-box" },
      el("table", { class: "scorecard counties-table" }, el("thead", {}, head), el("tbody", {}, ...rows))));
    if (scroll) $("counties").scrollIntoView({ block: "nearest" });
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
    const cell = state.figures.get(`${indicator}|${region}`);
    // The cell's own window: what the scorecard showed for it (its judged window by default).
    const row = state.rows.get(indicator);
    const window = (cell && cell.window) || (row && row.window) || ind.judged_window || "30d";
    const key = `${indicator}|${region}|${window}`;
    if (state.trendKey !== key) {
      $("trend-title").replaceChildren(`${indName(ind)} · ${regionName(regionSpec(region))} `,
        el("span", { class: "muted", text: t("trend.rolling", { window: windowName(window) }) }));
      $("trend").replaceChildren(el("p", { class: "muted", text: t("trend.loading") }));
    }
    state.trendKey = key;
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
        ` · ${t(`status.${last.status}`)} · ${t("target", { target: fmtTarget(ind) })}`);
    } else {
      summary.append(`${t("trend.none", { days: rows.length })} · ${t("target", { target: fmtTarget(ind) })}`);
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
      t("target", { target: fmtTarget(ind) })));
    const p = lastValued(rows);
    if (p) {
      root.append(svg("circle", { cx: x(p.date), cy: y(p.value), r: 4.5, class: `last ${p.status || ""}`,
        fill: STATUS_COLOUR[p.status] || "#1f5fae", stroke: "#fff", "stroke-width": 1.5 }));
    }
    if (!rows.length) root.append(svg("text", { class: "label", x: W / 2, y: H / 2, "text-anchor": "middle" },
      t("trend.no_data")));
    return root;
  }

  function lastValued(rows) {
    return [...rows].reverse().find((p) => p.value !== null && p.value !== undefined);
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
      if (err instanceof AuthError) state.alertsError = t("alerts.refused", { error: err.message });
      else state.alertsError = t("alerts.unreachable", { url: base });
      state.alerts = [];
    }
  }

  // Acknowledgements: the `acks` list when the alert service gives one, else its single acked_* fields.
  function acksOf(a) {
    if (Array.isArray(a.acks)) {
      return a.acks.map((k) => ({ by: k.by || k.acked_by || k.actor || k.principal || "?",
        at: k.at || k.acked_at || k.created_at, comment: k.comment || k.ack_comment || "" }));
    }
    return a.acked || a.acked_at ? [{ by: a.acked_by || "?", at: a.acked_at, comment: a.ack_comment || "" }] : [];
  }

  // The rectification loop (issue 19: stage, plan, follow-ups, provisional failures, contributing cities,
  // timeline, plan form) comes from loop.js, when it is loaded.
  const loopOf = (a) => (window.QWLoop ? window.QWLoop.panel(a) : null);

  function renderAlerts() {
    const box = $("alerts");
    if (state.alertsError) {
      $("alert-count").textContent = "";
      box.replaceChildren(el("p", { class: "error", text: state.alertsError }));
      return;
    }
    $("alert-count").textContent = `(${state.alerts.length})`;
    if (!state.alerts.length) {
      box.replaceChildren(el("p", { class: "muted", text: t("alerts.none") }));
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
      const acks = acksOf(a);
      const ackLine = acks.length
        ? acks.map((k) => el("div", { class: "ack acked", text: t("alerts.acked", { by: k.by, time: cstLabelled(k.at) }) +
          (k.comment ? ` — ${k.comment}` : "") }))
        : [el("div", { class: "ack not-acked", text: t("alerts.not_acked") })];
      list.append(el("li", { class: score(a) < 2 ? "match" : "", "data-alert": a.alert_id || "" },
        el("span", { class: `sev ${a.severity}`, "data-severity": a.severity || "", text: t(`severity.${a.severity}`) }),
        el("strong", { text: `${indName(ind)} · ${regionName(regionSpec(a.region))}` }),
        el("div", { class: "muted", text: `${fmt(ind.unit, a.value)}${n === null ? "" : ` (n=${n})`} · ` +
          `${windowName(a.window || "")} · ${a.category || t("alerts.all_categories")}` }),
        el("div", { class: "since", "data-started": a.started_at || "",
          text: t("alerts.since", { time: cstLabelled(a.started_at) }) }),
        ...ackLine, loopOf(a)));
    }
    box.replaceChildren(list);
  }

  // ---- the report of the period shown --------------------------------------------------------
  function reportPeriod() {
    if (/^\d{4}(-\d{2}|-Q[1-4])?$/.test(state.window)) return state.window;
    return cstMonth(parseInstant(state.asOf) || Date.now());
  }

  function periodName(p) {
    const m = p.match(/^(\d{4})(?:-(\d{2})|-Q([1-4]))?$/);
    if (!m) return p;
    if (en()) return p;
    if (m[2]) return `${m[1]}年${Number(m[2])}月`;
    if (m[3]) return `${m[1]}年第${m[3]}季度`;
    return `${m[1]}年`;
  }

  function renderReportLink() {
    $("report-links").hidden = !state.token;
    $("report-label").textContent = t("report.link", { period: periodName(reportPeriod()) });
  }

  // A short-lived signed link minted with the page's key, opened in a new tab: no token in the address.
  async function openReport(event) {
    event.preventDefault();
    const format = event.currentTarget.dataset.format;
    const tab = window.open("", "_blank");
    try {
      const body = await api("/v1/reports/quality/links", { method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ period: reportPeriod(), format, lang: state.config.locale }) });
      state.lastReportUrl = body.url;
      $("report-links").dataset.lastUrl = body.url;
      if (tab) tab.location = body.url;
    } catch (err) {
      if (tab) tab.close();
      $("error").hidden = false;
      $("error").textContent = t("report.failed", { error: err.message });
    }
  }

  // ---- refresh loop -------------------------------------------------------------------------
  function handleError(err) {
    if (err instanceof AuthError) { showAuth(err.message); return; }
    $("error").hidden = false;
    $("error").textContent = t("error.refresh", { error: err.message });
  }

  async function refresh() {
    if (state.busy || !state.token) return;
    state.busy = true;
    try {
      const [asOf] = await Promise.all([loadScorecard(), loadAlerts()]);
      state.asOf = asOf;
      renderCells();
      renderAlerts();
      if (window.QWLoop) window.QWLoop.completeness(state.completeness);
      renderReportLink();
      $("error").hidden = true;
      $("updated").textContent = `${t("updated", { time: cstText(Date.now(), true) })}` +
        (asOf ? ` · ${t("as_of", { time: cstText(asOf, true) })}` : "") + ` (${t("tz")})`;
      document.body.dataset.rendered = "1";
      if (state.selected) await loadTrend(false);
      if (state.county) await loadCounties(false);
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
    if (state.county) openCounties(state.county);
  }

  function planLine() {
    const plan = state.config.plan || {};
    const title = en() && plan.title_en ? plan.title_en : `《${plan.title || ""}》`;
    const parts = [el("span", { class: "plan-title", text: title }),
      el("span", { class: "plan-period", text: t("plan.period", { start: plan.start, deadline: plan.deadline }) })];
    if (plan.over) parts.push(el("span", { class: "plan-over", text: t("plan.over", { deadline: plan.deadline }) }));
    if (plan.illustrative) parts.push(el("span", { class: "plan-over", text: t("plan.illustrative") }));
    return parts;
  }

  async function init() {
    const frag = readFragment();
    if (frag.get("token")) sessionStorage.setItem(TOKEN_KEY, frag.get("token"));
    const win = frag.get("window") || sessionStorage.getItem(WINDOW_KEY);
    const cell = (frag.get("cell") || "").split(":");
    const resp = await fetch("/dashboard/config.json", { cache: "no-store" });
    state.config = await resp.json();
    // Helpers lent to loop.js (the rectification loop in the alert panel).
    window.QW = { t, el, api, cstLabelled, config: () => state.config, refresh: () => refresh(),
      indName: (id) => indName(indicatorSpec(id)), regionName: (code) => regionName(regionSpec(code)) };
    state.window = state.config.default_window || "judged";
    if (win && state.config.windows.includes(win)) state.window = win;
    if (cell.length === 2 && cell[0] && cell[1]) state.selected = { indicator: cell[0], region: cell[1] };
    if (frag.get("county")) state.county = frag.get("county");
    writeFragment(); // drops the token from the address bar and history
    applyStrings();
    $("plan-subtitle").replaceChildren(...planLine());
    $("trend-title").replaceChildren(t("trend.title"), " ", el("span", { class: "muted", text: `— ${t("trend.hint")}` }));
    $("updated").textContent = t("not_loaded");
    const select = $("window");
    select.replaceChildren(...state.config.windows.map((w) => el("option", { value: w, text: windowName(w) })));
    select.value = state.window;
    select.addEventListener("change", () => {
      state.window = select.value;
      sessionStorage.setItem(WINDOW_KEY, state.window);
      writeFragment();
      refresh();
    });
    $("lang-toggle").addEventListener("click", switchLanguage);
    $("token-form").addEventListener("submit", onTokenSubmit);
    $("sign-out").addEventListener("click", () => showAuth(""));
    $("counties-close").addEventListener("click", closeCounties);
    $("report-html").addEventListener("click", openReport);
    $("report-pdf").addEventListener("click", openReport);
    buildScorecard();
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) start(token);
    else showAuth("");
  }

  init().catch((err) => {
    $("error").hidden = false;
    $("error").textContent = t("error.start", { error: err.message });
  });
})();
