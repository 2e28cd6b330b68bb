// The explorer's script: live updates, charts and the in-browser proof check.
// The tables are rendered (and escaped) by the server; this script only swaps in
// the server's newer rendering, draws charts from the JSON endpoints with DOM
// calls (never innerHTML of data), and checks proofs with snarkjs, served by the
// explorer itself.
"use strict";

const CLASSES = ["gpu", "cpu", "storage", "network", "energy"];
const UNITS = ["GPU-ms", "core-ms", "byte-s", "bytes", "mJ"];
const COLOURS = ["#7b3fe4", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"];
const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

// The public inputs' layout (circuits crate docs): x2 packs prev_seq (64 bits),
// prev_end_ms (64), new_end_ms (64) and record_count (32); x3 packs the totals
// in lanes of these widths; x4 packs the capacities, 48 bits each.
const USAGE_BITS = [44n, 44n, 64n, 52n, 48n];
const CAPACITY_BITS = 48n;
const FIELD_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

function el(name, attrs, ...children) {
  const node = name.startsWith("svg:") ? document.createElementNS(SVG, name.slice(4)) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `the explorer answered ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `the explorer answered ${response.status}`);
  return body;
}

// ---- charts ----------------------------------------------------------------

// One small chart per class that has any usage: cumulative amounts over time as
// step lines, one per series ({name, points: [[ms, BigInt]]}).
function drawCharts(container, series) {
  const charts = [];
  CLASSES.forEach((cls, k) => {
    const lines = series
      .map((s) => ({ name: s.name, dash: s.dash, points: s.points.map(([t, v]) => [t, v[k]]) }))
      .filter((s) => s.points.some(([, v]) => v > 0n));
    if (lines.length > 0) charts.push(chart(cls, UNITS[k], COLOURS[k], lines));
  });
  container.replaceChildren(...(charts.length ? charts : [el("p", {}, "nothing metered yet")]));
}

function chart(cls, unit, colour, lines) {
  const [w, h, pad] = [320, 120, 4];
  const times = lines.flatMap((l) => l.points.map(([t]) => t));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const max = lines.flatMap((l) => l.points.map(([, v]) => v)).reduce((a, b) => (b > a ? b : a), 1n);
  const x = (t) => pad + ((w - 2 * pad) * (t - t0)) / (t1 - t0);
  // Scale in BigInt first: amounts pass 2^53.
  const y = (v) => h - pad - ((h - 2 * pad) * Number((v * 10000n) / max)) / 10000;
  const svg = el("svg:svg", { viewBox: `0 0 ${w} ${h}`, class: "plot", role: "img", "aria-label": `${cls} over time` });
  svg.append(el("svg:line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" }));
  for (const line of lines) {
    let d = `M${x(t0).toFixed(1)},${y(0n).toFixed(1)}`;
    let last = 0n;
    for (const [t, v] of line.points) {
      d += ` H${x(t).toFixed(1)} V${y(v).toFixed(1)}`;
      last = v;
    }
    d += ` H${x(t1).toFixed(1)}`;
    const path = el("svg:path", { d, stroke: colour, fill: "none", "stroke-width": 2, "data-series": line.name });
    if (line.dash) path.setAttribute("stroke-dasharray", "5 3");
    path.append(el("svg:title", {}, `${line.name}: ${last} ${unit}`));
    svg.append(path);
  }
  const legend = lines.map((l) => `${l.name} ${l.points.at(-1)[1]} ${unit}`).join(", ");
  return el("figure", { class: "chart-class" }, svg, el("figcaption", {}, `${cls}: ${legend}`));
}

function cumulative(epochs) {
  const sums = [0n, 0n, 0n, 0n, 0n];
  return epochs.map((e) => {
    e.totals.forEach((v, k) => (sums[k] += BigInt(v)));
    return [e.end_ms, sums.slice()];
  });
}

function points(list) {
  return list.map((p) => [p.time_ms, p.amounts.map(BigInt)]);
}

const VIEWS = {
  async job(main) {
    const page = await getJson(`/api/jobs/${main.dataset.job}`);
    const epochs = page.epochs.slice().sort((a, b) => a.seq - b.seq);
    const settled = epochs.filter((e) => e.status === "settled");
    drawCharts(document.getElementById("chart"), [
      { name: "proved", points: cumulative(epochs) },
      { name: "settled", dash: true, points: cumulative(settled) },
    ]);
  },
  async account(main) {
    const account = await getJson(`/api/accounts/${main.dataset.address}`);
    drawCharts(document.getElementById("chart"), [
      { name: "earned", points: points(account.earned) },
      { name: "spent", dash: true, points: points(account.spent) },
    ]);
  },
};

// ---- live updates ----------------------------------------------------------

// Swaps in the server's newer rendering of this page's <main>; the epoch page
// is left alone (its fields are the visitor's to edit).
async function refresh() {
  const main = document.querySelector("main");
  const live = document.getElementById("live");
  try {
    if (main.dataset.view !== "epoch") {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(`the explorer answered ${response.status}`);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("main");
      if (fresh) {
        const chart = document.getElementById("chart");
        main.replaceChildren(...fresh.childNodes);
        // Keep the drawn chart until the new one is ready.
        const slot = document.getElementById("chart");
        if (chart && slot) slot.replaceWith(chart);
      }
    }
    if (VIEWS[main.dataset.view]) await VIEWS[main.dataset.view](main);
    if (live) live.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (live) live.textContent = `not updated: ${e.message}`;
  }
}

// ---- verify in this browser ------------------------------------------------

function field(id, bits) {
  const text = document.getElementById(id).value.trim();
  if (!/^[0-9]+$/.test(text)) throw new Error(`${id} must be a whole number, not "${text}"`);
  const v = BigInt(text);
  if (bits !== undefined && v >> bits !== 0n) throw new Error(`${id} does not fit in ${bits} bits`);
  if (v >= FIELD_R) throw new Error(`${id} is not below the field's modulus`);
  return v;
}

// The five public inputs of the statement on the page, computed here.
function publicInputs() {
  const x2 =
    field("prev_seq", 64n) |
    (field("prev_end_ms", 64n) << 64n) |
    (field("new_end_ms", 64n) << 128n) |
    (field("record_count", 32n) << 192n);
  let x3 = 0n;
  let offset = 0n;
  CLASSES.forEach((cls, k) => {
    x3 |= field(`total_${cls}`, USAGE_BITS[k]) << offset;
    offset += USAGE_BITS[k];
  });
  let x4 = 0n;
  CLASSES.forEach((cls, k) => (x4 |= field(`capacity_${cls}`, CAPACITY_BITS) << (CAPACITY_BITS * BigInt(k))));
  return [field("prev_head"), field("new_head"), x2, x3, x4].map(String);
}

function loadSnarkjs() {
  if (window.snarkjs) return Promise.resolve(window.snarkjs);
  return new Promise((resolve, reject) => {
    const script = el("script", { src: "/static/snarkjs.min.js" });
    script.onload = () => resolve(window.snarkjs);
    script.onerror = () => reject(new Error("this explorer was built without snarkjs: run `npm ci` and build it again"));
    document.head.append(script);
  });
}

async function verify(main, verdict) {
  verdict.className = "";
  verdict.textContent = "checking…";
  try {
    const inputs = publicInputs();
    const [snarkjs, epoch] = await Promise.all([
      loadSnarkjs(),
      getJson(`/api/jobs/${main.dataset.job}/epochs/${main.dataset.seq}`),
    ]);
    const ok = await snarkjs.groth16.verify(epoch.verification_key, inputs, epoch.proof);
    verdict.className = ok ? "valid" : "invalid";
    verdict.textContent = ok
      ? "valid: the proof holds for the statement shown"
      : "invalid: the proof does not hold for the statement shown";
  } catch (e) {
    verdict.className = "invalid";
    verdict.textContent = `invalid: ${e.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.querySelector("main");
  if (!main || !main.dataset.view) return;
  if (main.dataset.view === "epoch") {
    const button = document.getElementById("verify");
    const verdict = document.getElementById("verdict");
    button.addEventListener("click", () => verify(main, verdict));
    return;
  }
  // One request at a time, however slow the server is.
  const loop = () => refresh().finally(() => setTimeout(loop, POLL_MS));
  loop();
});
