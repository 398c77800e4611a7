/* mlplab dashboard: small hand-written helpers, no libraries. */
"use strict";
const COLORS = ["#2457c5", "#d1242f", "#1a7f37", "#b7870f", "#8250df", "#0a7ea4", "#e16f24", "#57606a", "#bf3989", "#3b82f6", "#6e7781", "#116329"];
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));
const fmt = v => v === null || v === undefined ? "–" : (Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : Number(v).toPrecision(4));
const CSRF = () => { const m = document.querySelector("meta[name=csrf-token]"); return m ? m.content : ""; };
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function svgEl(tag, attrs) { const e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }

/* A step of 1, 2 or 5 x 10^k that cuts `span` into about `target` parts. */
function niceStep(span, target) {
  const raw = span / Math.max(1, target), p = Math.pow(10, Math.floor(Math.log10(raw > 0 ? raw : 1))), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* TensorBoard's smoothing: an exponential moving average with weight w (0: the values themselves), debiased so
   that the first points are not pulled towards 0; gaps (null, NaN) stay gaps and do not move the average. */
function smooth(ys, w) {
  if (!(w > 0)) return ys;
  let last = 0, n = 0;
  return ys.map(y => {
    if (y === null || y === undefined || !isFinite(y)) return y;
    last = last * w + (1 - w) * y; n += 1;
    return last / (1 - Math.pow(w, n));
  });
}

/* A line chart in SVG: series = [{label, x: [...], y: [...], color, dash}], hover shows all values at the nearest x.
   opts: title, xLabel, marker (an x to mark), zero (the axis starts at 0), bounds ([lo, hi] the axis never passes:
   accuracy stays in [0, 1]), log (a log10 y axis; values <= 0 are left out), smooth (the smoothing weight: each
   line is drawn smoothed over its faint raw values; the axes stay those of the raw values), time (the x values are
   seconds, not epochs). Epoch ticks are whole numbers; one epoch sits in the middle. Dragging across the chart
   zooms into those x values (the y axis follows the values shown, and smoothing starts again at the first of
   them, so each smoothed line stays among its raw values); a double click shows them all again. Lines are clipped
   to the plot area. */
let CLIPS = 0;
function lineChart(box, series, opts = {}) {
  box.innerHTML = "";
  box._chart = [series, opts];   // what a zoom redraws
  const w = opts.smooth > 0 ? opts.smooth : 0, xName = opts.time ? "seconds" : "epochs";
  const zoom = box.dataset.zoom ? box.dataset.zoom.split(",").map(Number) : null;
  const shown = x => !zoom || (x >= zoom[0] && x <= zoom[1]);
  series = series.map(s => ({...s, raw: s.y, y: smooth(s.y.map((v, i) => shown(s.x[i]) ? v : null), w)}));
  const W = box.clientWidth || 560, H = opts.height || (box.classList.contains("wide") ? 356 : 276), m = {l: 56, r: 14, t: 26, b: 30};
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", height: H});
  box.appendChild(svg);
  const log = !!opts.log, tf = v => (v === null || v === undefined || !isFinite(v)) ? null : (log ? (v > 0 ? Math.log10(v) : null) : v);
  const pts = series.flatMap(s => s.x.map((x, i) => [x, tf(s.raw[i])])).filter(p => p[1] !== null && shown(p[0]));
  svg.appendChild(svgEl("text", {x: m.l, y: 16, "font-size": 13, "font-weight": 600, fill: "#1d2330", class: "chart-title"})).textContent = (opts.title || "") + (log ? " (log scale)" : "")
    + (zoom ? ` · ${xName} ${fmt(zoom[0])}–${fmt(zoom[1])} (double-click: all)` : "");
  if (!pts.length) { svg.appendChild(svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#888"})).textContent = "no data yet"; return; }
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (!log && opts.zero) y0 = Math.min(y0, 0);
  if (y1 === y0) { y1 += log ? 0.5 : Math.max(0.05, Math.abs(y1) * 0.1); y0 -= log ? 0.5 : Math.max(0.05, Math.abs(y0) * 0.1); }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  if (!log && opts.bounds) { y0 = Math.max(y0, opts.bounds[0]); y1 = Math.min(y1, opts.bounds[1]); }
  const sx = x => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r), sy = y => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
  const yTicks = [];
  if (log) {
    const perDecade = y1 - y0 < 1.5 ? [1, 2, 5] : [1];
    for (let k = Math.floor(y0); k <= Math.ceil(y1); k++) perDecade.forEach(f => { const v = k + Math.log10(f); if (v >= y0 && v <= y1) yTicks.push(v); });
  } else {
    const step = niceStep(y1 - y0, 5);
    for (let v = Math.ceil(y0 / step - 1e-9) * step; v <= y1 + 1e-9; v += step) yTicks.push(v);
  }
  yTicks.forEach(v => {
    const y = sy(v), label = log ? Math.pow(10, v) : v;
    svg.appendChild(svgEl("line", {x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: "#eceef2"}));
    svg.appendChild(svgEl("text", {x: m.l - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#5a6272"})).textContent = Number(label.toPrecision(3));
  });
  const xStep = opts.time ? niceStep(x1 - x0, 8) : Math.max(1, niceStep(x1 - x0, 10));
  for (let v = Math.ceil(x0 / xStep - 1e-9) * xStep; v <= x1 + 1e-9; v += xStep) {
    svg.appendChild(svgEl("text", {x: sx(v), y: H - m.b + 16, "text-anchor": "middle", "font-size": 11, fill: "#5a6272", class: "x-tick"})).textContent = opts.time ? Number(v.toPrecision(4)) : Math.round(v);
  }
  const clip = `plot-clip-${++CLIPS}`, defs = svg.appendChild(svgEl("defs", {}));
  defs.appendChild(svgEl("clipPath", {id: clip})).appendChild(svgEl("rect", {x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b}));
  const plot = svg.appendChild(svgEl("g", {"clip-path": `url(#${clip})`, class: "plot"}));
  svg.appendChild(svgEl("text", {x: W - m.r, y: H - 4, "text-anchor": "end", "font-size": 11, fill: "#5a6272"})).textContent = opts.xLabel || "epoch";
  const pathOf = (xs, ys) => {
    let d = "", pen = false;
    ys.forEach((v, i) => { const y = tf(v); if (y === null || !shown(xs[i])) { pen = false; return; } d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + "," + sy(y).toFixed(1); pen = true; });
    return d;
  };
  series.forEach((s, k) => {
    const color = s.color || COLORS[k % COLORS.length];
    if (w) plot.appendChild(svgEl("path", {d: pathOf(s.x, s.raw), fill: "none", stroke: color, "stroke-width": 1.5, "stroke-opacity": 0.25, "stroke-dasharray": s.dash || "", class: "raw-line", "data-label": s.label}));
    plot.appendChild(svgEl("path", {d: pathOf(s.x, s.y), fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": s.dash || "", class: "line", "data-label": s.label}));
    if (s.x.filter(shown).length < 40) s.x.forEach((x, i) => { const y = tf(s.y[i]); if (y !== null && shown(x)) plot.appendChild(svgEl("circle", {cx: sx(x), cy: sy(y), r: 2.5, fill: s.color || COLORS[k % COLORS.length]})); });
  });
  if (opts.marker !== undefined && opts.marker !== null) svg.appendChild(svgEl("line", {x1: sx(opts.marker), x2: sx(opts.marker), y1: m.t, y2: H - m.b, stroke: "#1a7f37", "stroke-dasharray": "4 3"}));
  const legend = document.createElement("div"); legend.className = "legend";
  legend.innerHTML = series.map((s, k) => `<span title="${esc(s.label)}"><i style="background:${s.color || COLORS[k % COLORS.length]}"></i>${esc(s.label)}</span>`).join("");
  box.appendChild(legend);
  const cross = svgEl("line", {y1: m.t, y2: H - m.b, stroke: "#888", visibility: "hidden"}); svg.appendChild(cross);
  const tip = document.createElement("div"); tip.className = "tip"; box.appendChild(tip);
  const xs = Array.from(new Set(series.flatMap(s => s.x))).filter(shown).sort((a, b) => a - b);
  zoomByDrag(box, svg, W, m, x => x0 + (x - m.l) / (W - m.l - m.r) * (x1 - x0), xs);
  svg.addEventListener("mousemove", ev => {
    const r = svg.getBoundingClientRect(), px = (ev.clientX - r.left) * W / r.width;
    const xv = x0 + (px - m.l) / (W - m.l - m.r) * (x1 - x0);
    let best = xs[0]; for (const x of xs) if (Math.abs(x - xv) < Math.abs(best - xv)) best = x;
    cross.setAttribute("x1", sx(best)); cross.setAttribute("x2", sx(best)); cross.setAttribute("visibility", "visible");
    const rows = series.map((s, k) => { const i = s.x.indexOf(best); return i < 0 ? "" : `<div><span class="sw" style="background:${s.color || COLORS[k % COLORS.length]}"></span>${esc(s.label)}: <b>${fmt(s.y[i])}</b>${w ? ` (raw ${fmt(s.raw[i])})` : ""}</div>`; }).join("");
    tip.innerHTML = `<div>${esc(opts.xLabel || "epoch")} ${fmt(best)}</div>` + rows; tip.style.display = "block";
    const left = (ev.clientX - r.left) + 14; tip.style.left = (left + tip.offsetWidth > r.width ? left - tip.offsetWidth - 28 : left) + "px"; tip.style.top = (ev.clientY - r.top + 10) + "px";
  });
  svg.addEventListener("mouseleave", () => { tip.style.display = "none"; cross.setAttribute("visibility", "hidden"); });
}

/* Drag across a chart: zoom into the x values (whole epochs, or epochs' times) under the drag (at least two);
   double click: all of them. */
function zoomByDrag(box, svg, W, m, epochAt, xs) {
  const band = svgEl("rect", {y: m.t, height: 1, fill: "#2457c5", "fill-opacity": 0.12, visibility: "hidden", class: "zoom-band"});
  svg.appendChild(band);
  let start = null;
  const px = ev => { const r = svg.getBoundingClientRect(); return (ev.clientX - r.left) * W / r.width; };
  const redraw = () => lineChart(box, ...box._chart);
  svg.addEventListener("mousedown", ev => { start = px(ev); ev.preventDefault(); });
  svg.addEventListener("mousemove", ev => {
    if (start === null) return;
    const a = Math.min(start, px(ev)), b = Math.max(start, px(ev));
    band.setAttribute("x", a); band.setAttribute("width", b - a);
    band.setAttribute("height", svg.viewBox.baseVal.height - m.t - m.b); band.setAttribute("visibility", "visible");
  });
  svg.addEventListener("mouseup", ev => {
    if (start === null) return;
    const a = epochAt(Math.min(start, px(ev))), b = epochAt(Math.max(start, px(ev)));
    start = null; band.setAttribute("visibility", "hidden");
    const inside = xs.filter(x => x >= a && x <= b);
    if (inside.length >= 2) { box.dataset.zoom = `${inside[0]},${inside[inside.length - 1]}`; redraw(); }
  });
  svg.addEventListener("dblclick", () => { if (box.dataset.zoom) { delete box.dataset.zoom; redraw(); } });
}

/* A "log scale" checkbox above a chart box (once; box and checkbox share a card); the latest `redraw` runs when
   it changes. */
function logToggle(box, redraw) {
  box._redraw = redraw;
  let label = box.previousElementSibling;
  if (!label || !label.classList.contains("log-toggle")) {
    const card = document.createElement("div"); card.className = "chart-card";
    box.parentNode.insertBefore(card, box); card.appendChild(box);
    label = document.createElement("label"); label.className = "log-toggle";
    label.innerHTML = `<input type="checkbox"> log scale`;
    card.insertBefore(label, box);
    $("input", label).addEventListener("change", ev => { box.dataset.log = ev.target.checked ? "1" : ""; box._redraw(); });
  }
  return label;
}

const CURVES = {
  loss: [["loss", "train (running)", ""], ["train_loss", "train", "4 3"], ["val_loss", "validation", ""], ["test_loss", "test", "2 2"]],
  accuracy: [["accuracy", "train (running)", ""], ["train_accuracy", "train", "4 3"], ["val_accuracy", "validation", ""], ["test_accuracy", "test", "2 2"]],
};
/* The x values of a history: its epochs, or with the wall-time axis the seconds since the run began (the end of
   each epoch: its seconds summed); `at(epoch)` places an epoch on that axis. */
function xAxis(history) {
  const epochs = history.epoch || [];
  if (!TIME || !history.seconds) return {x: epochs, at: e => e, time: false, xLabel: "epoch"};
  let t = 0; const x = history.seconds.map(s => Number((t += (s > 0 ? s : 0)).toFixed(3)));
  return {x, at: e => x[epochs.indexOf(e)], time: true, xLabel: "wall time (s)"};
}
function drawChart(box, history, marker) {
  const kind = box.dataset.chart, axis = xAxis(history);
  const series = CURVES[kind].filter(([k]) => history[k]).map(([k, label, dash], i) => ({label, x: axis.x, y: history[k], dash, color: COLORS[i]}));
  box._redraw = () => drawChart(box, history, marker);
  if (kind === "loss") logToggle(box, box._redraw);
  const common = {title: kind, marker: marker && axis.at(marker), smooth: SMOOTHING, time: axis.time, xLabel: axis.xLabel};
  lineChart(box, series, kind === "loss" ? {...common, zero: true, log: box.dataset.log === "1"} : {...common, bounds: [0, 1]});
}

/* One smoothing slider for the charts of a page (TensorBoard's: 0 draws the values themselves), above the first
   of them; moving it redraws every chart. */
let SMOOTHING = 0, TIME = false;
function smoothingControl() {
  const first = $(".charts, #overlay"); if (!first) return;
  const axis = document.createElement("label"); axis.className = "x-axis";
  axis.innerHTML = `x axis <select><option value="epoch">epoch</option><option value="time">wall time</option></select>`;
  first.parentNode.insertBefore(axis, first);
  $("select", axis).addEventListener("change", ev => {
    TIME = ev.target.value === "time";
    $$("[data-chart], #overlay").forEach(box => { delete box.dataset.zoom; if (box._redraw) box._redraw(); });
  });
  const label = document.createElement("label"); label.className = "smoothing";
  label.title = "exponential moving average of each curve, as TensorBoard's smoothing; the raw values stay faint behind";
  label.innerHTML = `smoothing <input type="range" min="0" max="0.99" step="0.01" value="0"> <output>0</output>`;
  first.parentNode.insertBefore(label, first);
  $("input", label).addEventListener("input", ev => {
    SMOOTHING = Number(ev.target.value); $("output", label).textContent = ev.target.value;
    $$("[data-chart], #overlay").forEach(box => { if (box._redraw) box._redraw(); });
  });
}
function drawHistory(history, marker) { $$("[data-chart]").forEach(box => drawChart(box, history, marker)); }

/* runs table: sort by clicking a header, quick text filter, selection for compare */
function sortable(table) {
  $$("th[data-col]", table).forEach((th, ci) => th.addEventListener("click", () => {
    const col = Array.from(th.parentNode.children).indexOf(th), tbody = table.tBodies[0];
    const asc = !th.classList.contains("asc");
    $$("th", table).forEach(h => h.classList.remove("asc", "desc")); th.classList.add(asc ? "asc" : "desc");
    const val = tr => { const td = tr.children[col]; const v = td.dataset.v !== undefined ? td.dataset.v : td.textContent; const n = parseFloat(v); return v !== "" && !isNaN(n) && /^[-+\d.eE]+$/.test(v) ? n : v.toLowerCase(); };
    const rows = Array.from(tbody.rows).sort((a, b) => { const x = val(a), y = val(b); if (x === "" ) return 1; if (y === "") return -1; return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
    rows.forEach(r => tbody.appendChild(r));
  }));
}
function runsPage() {
  const table = $("#runs-table"); if (!table) return;
  sortable(table);
  const q = $("#quick-filter");
  if (q) q.addEventListener("input", () => { const t = q.value.toLowerCase(); Array.from(table.tBodies[0].rows).forEach(r => r.hidden = t && !r.textContent.toLowerCase().includes(t)); });
  const update = () => { const n = $$(".pick:checked").length; $("#compare-button").disabled = n < 2; $("#selected-count").textContent = n ? `${n} selected` : "select two or more runs"; };
  $$(".pick").forEach(c => c.addEventListener("change", update)); update();
  bulkActions();
}
/* the runs list's "Tag selected" and "Delete selected" (POSTs with the page's CSRF token), and a run page's Delete */
function bulkActions() {
  const tagBtn = $("#tag-selected"), delBtn = $("#delete-selected"); if (!tagBtn) return;
  const ids = () => $$(".pick:checked").map(c => c.value);
  const refresh = () => { const n = ids().length; tagBtn.disabled = delBtn.disabled = !n; };
  $$(".pick").forEach(c => c.addEventListener("change", refresh)); refresh();
  async function post(url, extra) {
    const fd = new FormData(); ids().forEach(i => fd.append("run", i)); for (const k in extra) fd.append(k, extra[k]);
    const r = await fetch(url, {method: "POST", body: fd, headers: {"X-CSRF-Token": CSRF(), "Accept": "application/json"}});
    if (r.ok) { location.reload(); return; }
    $("#bulk-error").textContent = ((await r.json().catch(() => ({}))).error) || `refused (${r.status})`;
  }
  tagBtn.addEventListener("click", () => post("/api/runs/tag", {tag: $("#bulk-tag").value}));
  delBtn.addEventListener("click", () => { const n = ids().length;
    if (confirm(`Delete ${n} run${n > 1 ? "s" : ""} and ${n > 1 ? "their folders" : "its folder"}? This cannot be undone.`)) post("/api/runs/delete", {}); });
}
function confirmForms() { $$("form[data-confirm]").forEach(f => f.addEventListener("submit", e => { if (!confirm(f.dataset.confirm)) e.preventDefault(); })); }

/* confusion matrix: a coloured table; a click fetches that cell's test images */
async function confusion() {
  const box = $("#confusion"); if (!box) return;
  const run = box.dataset.run, r = await fetch(`/api/runs/${run}/confusion`); if (!r.ok) { box.textContent = "no confusion matrix"; return; }
  const doc = await r.json(), M = doc.matrix, names = doc.class_names;
  let html = `<table class="cm"><tr><th>true \\ pred</th>${names.map(n => `<th>${esc(n)}</th>`).join("")}</tr>`;
  M.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    html += `<tr><th>${esc(names[i])}</th>` + row.map((v, j) => {
      const f = v / total, bg = i === j ? `rgba(36,87,197,${0.1 + 0.9 * f})` : (v ? `rgba(209,36,47,${0.15 + 0.85 * Math.min(1, f * 4)})` : "#f7f8fa");
      const fg = (i === j && f > 0.5) || (i !== j && f > 0.15) ? "#fff" : "#1d2330";
      return `<td data-true="${i}" data-pred="${j}" style="background:${bg};color:${fg}" title="true ${esc(names[i])}, predicted ${esc(names[j])}: ${v}">${v}</td>`;
    }).join("") + "</tr>";
  });
  box.innerHTML = html + "</table>";
  $$("td", box).forEach(td => td.addEventListener("click", () => showCell(run, names, td)));
}
function drawGray(canvas, img) {
  const h = img.length, w = img[0].length; canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d"), data = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const v = img[y][x], o = 4 * (y * w + x); data.data[o] = data.data[o + 1] = data.data[o + 2] = v; data.data[o + 3] = 255; }
  ctx.putImageData(data, 0, 0);
}
async function showCell(run, names, td) {
  $$("table.cm td.sel").forEach(t => t.classList.remove("sel")); td.classList.add("sel");
  const t = td.dataset.true, p = td.dataset.pred, view = $("#cell-view");
  view.innerHTML = `<p class="note">loading…</p>`;
  const r = await fetch(`/api/runs/${run}/cell?true=${t}&pred=${p}&limit=60`), doc = await r.json();
  if (!r.ok) { view.innerHTML = `<p class="error-text">${esc(doc.error)}</p>`; return; }
  view.innerHTML = `<h3 id="cell-title">true ${esc(names[t])}, predicted ${esc(names[p])}: ${doc.count} test image${doc.count === 1 ? "" : "s"}${doc.count > doc.indices.length ? ` (first ${doc.indices.length})` : ""}</h3><div class="thumbs"></div>`;
  const thumbs = $(".thumbs", view);
  doc.images.forEach((img, k) => {
    const fig = document.createElement("figure"), c = document.createElement("canvas"); drawGray(c, img);
    fig.appendChild(c); fig.insertAdjacentHTML("beforeend", `<figcaption>#${doc.indices[k]} · ${(doc.confidence[k] * 100).toFixed(0)}%</figcaption>`);
    thumbs.appendChild(fig);
  });
  if (!doc.images.length && doc.count) thumbs.textContent = `test rows ${doc.indices.join(", ")} (not images)`;
}

/* compare and sweep pages: overlaid curves of several runs, one metric at a time */
function overlay() {
  const data = $("#overlay-data"); if (!data) return;
  const runs = JSON.parse(data.textContent), sel = $("#overlay-metric");
  const keys = Array.from(new Set(runs.flatMap(r => Object.keys(r.history)))).filter(k => k !== "epoch" && k !== "seconds");
  const order = ["val_accuracy", "val_loss", "test_accuracy", "test_loss", "accuracy", "loss", "train_accuracy", "train_loss"];
  keys.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  sel.innerHTML = keys.map(k => `<option>${esc(k)}</option>`).join("");
  const box = $("#overlay");
  const draw = () => {
    const metric = sel.value, loss = metric.includes("loss"), toggle = logToggle(box, draw);
    toggle.hidden = !loss;
    const axes = runs.map(r => xAxis(r.history));
    lineChart(box, runs.map((r, i) => ({label: r.label, x: axes[i].x, y: r.history[metric] || [], color: COLORS[i % COLORS.length]})),
      {title: metric, zero: loss, bounds: metric.includes("accuracy") ? [0, 1] : undefined, log: loss && box.dataset.log === "1",
       smooth: SMOOTHING, time: TIME, xLabel: axes.length ? axes[0].xLabel : "epoch"});
  };
  sel.addEventListener("change", draw); draw();
  const st = $("#sweep-table"); if (st) sortable(st);
  const cells = $$(".heat-cell"), vals = cells.map(c => parseFloat(c.dataset.v)).filter(v => isFinite(v));
  const lo = Math.min(...vals), hi = Math.max(...vals);
  cells.forEach(c => { const v = parseFloat(c.dataset.v); if (isFinite(v)) { const f = hi > lo ? (v - lo) / (hi - lo) : 1; c.style.background = `rgba(36,87,197,${0.08 + 0.85 * f})`; c.style.color = f > 0.55 ? "#fff" : "#1d2330"; } });
}

/* live page: poll the job (queue, stop) and the run's history once a second; the end state says how it went */
const STATUS = (() => { const el = document.getElementById("statuses"); return el ? JSON.parse(el.textContent) : {}; })();
function setStatus(el, word, cls) { el.textContent = word; el.className = "status status-" + (cls || word); }
function live() {
  const p = $("#live-progress"); if (!p) return;
  let run = p.dataset.run, job = p.dataset.job, last = -1, doc = null;
  const stop = $("#stop-form"), st = $("#live-status");
  const showJob = j => {
    if (stop) { stop.hidden = !j.stoppable; if (j.stopping) { st.textContent = "stopping…"; } }
    if (j.state === "queued") { p.textContent = `waiting in the queue (${j.position === 1 ? "next" : "position " + j.position}): one run trains at a time`; setStatus(st, "queued", "running"); }
    if (j.state === "cancelled") { setStatus(st, "cancelled", "interrupted"); p.textContent = j.error || "cancelled"; }
  };
  const failedToStart = j => {
    setStatus(st, j.error && j.error.startsWith("stopped") ? "interrupted" : "failed");
    p.textContent = j.error || "the run did not start";
    const log = $("#live-log"); log.hidden = !(j.log || []).length; log.textContent = (j.log || []).join("\n");
  };
  const finish = d => {
    const healthy = (STATUS[d.status] || {}).healthy;
    p.textContent += d.test_accuracy !== null ? ` · finished, test accuracy ${fmt(d.test_accuracy)}` : " · finished";
    const v = $("#live-verdict"); v.hidden = false; v.className = "verdict " + (healthy ? "good" : "bad") + " status-" + d.status;
    v.textContent = `${d.status}: ${(STATUS[d.status] || {}).meaning || ""}` + (d.error ? ` · ${d.error}` : "")
      + (d.status === "diverged" && d.result_epoch ? ` · its result is epoch ${d.result_epoch}'s weights, the last before it diverged` : "")
      + (d.status === "diverged" && !d.result_epoch ? " · no epoch finished well: its result is the initial weights" : "");
    $("#live-bar").className = healthy ? "" : "bad";
    if (stop) stop.hidden = true;
    $("#live-link").innerHTML = `<a id="open-run" href="/runs/${d.id}">open the run page</a> (findings: what went wrong and what to change)`;
  };
  const repairing = j => {   // a repair job: its candidates train together; the result is on the repaired run's page
    const log = $("#live-log"); log.hidden = !(j.log || []).length; log.textContent = (j.log || []).join("\n");
    $$(".charts, .smoothing").forEach(c => { c.hidden = true; });
    if (j.state === "running") { setStatus(st, j.stopping ? "stopping…" : "repairing", "running"); p.textContent = `training the doctor's candidate fixes of run ${j.repair_of}`; }
    if (j.state === "queued" || j.state === "running") return setTimeout(tick, 1000);
    if (j.state === "done") {
      setStatus(st, j.error ? (j.error.startsWith("stopped") ? "interrupted" : "failed") : "done", j.error ? "" : "ok");
      p.textContent = j.error || "repair finished"; $("#live-bar").style.width = "100%";
      $("#live-link").innerHTML = `<a id="open-run" href="/runs/${esc(j.repair_of)}#repair">open run ${esc(j.repair_of)}: the repair's result</a>`;
    }
  };
  const tick = async () => {
    try {
      if (job) {
        const j = await (await fetch(`/api/jobs/${job}`)).json();
        showJob(j);
        if (j.repair_of) return repairing(j);
        if (j.run_id) run = j.run_id;
        if (!run) {
          if (j.state === "cancelled") return;
          if (j.state === "done") return failedToStart(j);
          if (j.state === "running") p.textContent = "loading data and compiling…";
          return setTimeout(tick, 1000);
        }
      }
      const r = await fetch(`/api/runs/${run}/history`), d = await r.json();
      if (!r.ok) { p.textContent = d.error; return; }
      doc = d; $("#live-name").textContent = d.name; $("#live-name").title = d.name;
      if (!st.textContent.startsWith("stopping") || d.status !== "running") setStatus(st, d.status);
      const n = d.history.epoch.length, total = d.epochs || n;
      $("#live-bar").style.width = (total ? Math.min(100, 100 * n / total) : 0) + "%";
      p.textContent = d.line;   // the running epoch of all, its steps and ETAs, which accuracy (web.live.live_line)
      const g = d.progress;   // inside a long epoch: the bar moves with its steps
      if (d.status === "running" && g && g.epoch === n + 1)
        $("#live-bar").style.width = Math.min(100, 100 * (n + (g.steps ? g.step / g.steps : 0)) / total) + "%";
      if (n !== last) { drawHistory(d.history); last = n; }
      if (d.status === "running") return setTimeout(tick, 1000);
      finish(d);
    } catch (e) { setTimeout(tick, 2000); }
  };
  if (stop) stop.addEventListener("submit", async ev => {
    ev.preventDefault(); $("#stop-run").disabled = true; st.textContent = "stopping…";
    await fetch(stop.action, {method: "POST", headers: {"X-CSRF-Token": CSRF(), "Accept": "application/json"}});
  });
  tick();
}

/* try-it: draw on a canvas (white background, black pen) or upload; the server prepares and predicts */
function tryIt() {
  const pad = $("#pad"); if (!pad) return;
  const ctx = pad.getContext("2d"), clear = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height); };
  clear(); ctx.lineCap = ctx.lineJoin = "round"; ctx.strokeStyle = "#000"; ctx.lineWidth = 20;
  let down = false, timer = null;
  const at = ev => { const r = pad.getBoundingClientRect(); return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height]; };
  pad.addEventListener("pointerdown", ev => { down = true; pad.setPointerCapture(ev.pointerId); const [x, y] = at(ev); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.1, y); ctx.stroke(); });
  pad.addEventListener("pointermove", ev => { if (!down) return; const [x, y] = at(ev); ctx.lineTo(x, y); ctx.stroke(); });
  const up = () => { if (!down) return; down = false; clearTimeout(timer); timer = setTimeout(() => pad.toBlob(b => send(b, "canvas.png")), 150); };
  pad.addEventListener("pointerup", up); pad.addEventListener("pointerleave", up);
  $("#clear").addEventListener("click", () => { clear(); $("#bars").innerHTML = ""; $("#prediction").textContent = "–"; });
  $("#predict").addEventListener("click", () => pad.toBlob(b => send(b, "canvas.png")));
  $("#upload").addEventListener("change", ev => { const f = ev.target.files[0]; if (f) send(f, f.name); });
  const showRun = () => {
    const o = $("#try-run").selectedOptions[0], word = o.dataset.status, healthy = (STATUS[word] || {}).healthy, w = $("#try-warning");
    // the doctor's verdict too: a run can end "ok" and still have learned little
    const health = o.dataset.health, doubted = health === "warning" || health === "error", h = $("#try-health");
    setStatus($("#try-status"), word); h.textContent = health ? "health " + health : ""; h.className = health ? "health health-" + health : "health";
    w.hidden = !!healthy && !doubted;
    if (!healthy) { w.className = "verdict bad status-" + word; w.textContent = `This run ${word === "diverged" ? "diverged" : "ended " + word}: ${(STATUS[word] || {}).meaning || ""}. Its predictions mean little; a healthy run is the model to try.`; }
    else if (doubted) { w.className = "verdict bad health-" + health; w.textContent = `This run ended ${word}, but the doctor ${health === "error" ? "does not trust its result" : "found something to fix"}: ${o.dataset.headline}. Its predictions may mean little; a healthy run is the model to try.`; }
  };
  showRun();
  $("#try-run").addEventListener("change", () => { showRun(); pad.toBlob(b => send(b, "canvas.png")); });
  let asked = 0;   // the latest prediction asked for: an older answer never overwrites a newer one
  const busy = on => { $("#busy").hidden = !on; $("#bars-box").classList.toggle("busy", on); $("#bars-box").setAttribute("aria-busy", on); };
  async function send(blob, name) {
    const fd = new FormData(); fd.append("run", $("#try-run").value); fd.append("image", blob, name);
    const mine = ++asked; busy(true); $("#try-error").textContent = ""; $("#prediction").textContent = "predicting…";
    let r, d;
    try { r = await fetch("/api/predict", {method: "POST", body: fd, headers: {"X-CSRF-Token": CSRF()}}); d = await r.json(); }
    catch (e) { r = {ok: false}; d = {error: "no answer from the dashboard: is it still running?"}; }
    if (mine !== asked) return;
    busy(false);
    const warn = $("#predict-warning"); warn.hidden = !(r.ok && d.warning); warn.textContent = r.ok && d.warning ? d.warning : "";
    if (!r.ok) { $("#try-error").textContent = d.error; $("#prediction").textContent = "–"; return; }
    const seen = $("#seen"), img = d.input.map(row => row.map(v => Math.round(v * 255)));
    const tmp = document.createElement("canvas"); drawGray(tmp, img);
    const sctx = seen.getContext("2d"); sctx.imageSmoothingEnabled = false; sctx.drawImage(tmp, 0, 0, seen.width, seen.height);
    $("#seen-size").textContent = `${d.side}x${d.side}, centred by mass`;
    $("#prediction").textContent = d.label;
    $("#bars").innerHTML = d.probabilities.map((p, i) => `<div class="bar${i === d.predicted ? " top" : ""}"><span class="lab">${esc(d.class_names[i])}</span><span class="track"><span class="fill" style="display:block;width:${(100 * p).toFixed(1)}%"></span></span><span class="val">${(100 * p).toFixed(1)}%</span></div>`).join("");
  }
}

/* a figure that cannot be drawn says so instead of showing a broken image */
function figures() {
  $$("section.figure img").forEach(img => {
    const missing = () => { const p = document.createElement("p"); p.className = "figure-missing"; p.textContent = `${img.alt}: not available for this run`; img.replaceWith(p); };
    img.addEventListener("error", missing);   // lazy images load after this runs
  });
}

function newRunEstimate() {   // the New-run form's cost, as its fields change (POST /api/estimate)
  const form = $("#new-run"), box = $("#estimate"); if (!form || !box) return;
  let timer = null, asked = 0;
  async function update() {
    const mine = ++asked;
    const r = await fetch("/api/estimate", {method: "POST", body: new FormData(form),
                                            headers: {"X-CSRF-Token": CSRF(), "Accept": "application/json"}});
    const d = await r.json(); if (mine !== asked) return;
    const problems = Object.values(d.errors || {});
    box.textContent = d.estimate ? "Estimate on this machine: " + d.estimate + (problems.length ? " — " + problems[0] : "")
                                 : "Estimate: " + (problems[0] || d.error || "not available");
    box.dataset.state = !d.estimate ? "invalid" : problems.length ? "over" : "ok";
  }
  const later = () => { clearTimeout(timer); timer = setTimeout(update, 200); };
  form.addEventListener("input", later); form.addEventListener("change", later); update();
}

document.addEventListener("DOMContentLoaded", () => {
  smoothingControl();
  const h = $("#history-data"); if (h) drawHistory(JSON.parse(h.textContent));
  runsPage(); newRunEstimate(); confirmForms(); confusion(); overlay(); live(); tryIt(); figures();
});
