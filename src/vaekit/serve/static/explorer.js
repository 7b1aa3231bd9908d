// The latent explorer's page: plain JavaScript talking to the JSON API of `vaekit serve`.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const $ = (id) => document.getElementById(id);
// Two decimals, without the "-0.00" that toFixed gives a small negative number.
const fixed2 = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);

const state = {
  info: null,
  points: [],        // test split's map points [[x, y], ...]
  labels: null,
  bounds: null,      // {x0, x1, y0, y1} of the map
  current: null,     // the decoded item on show: {z, label, point, image, values}
  label: null,       // the class a conditional model (cvae) decodes under; null for the others
  uploads: [],       // map points of encoded uploads
  a: null, b: null,  // interpolation ends (latent codes)
  strip: [],         // points of the interpolation strip
};

// ---- talking to the server ---------------------------------------------------------------

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok) {
    throw new Error(payload && payload.error ? payload.error : `${path}: HTTP ${response.status}`);
  }
  return payload;
}

function showError(message) {
  const status = $("status");
  status.textContent = message;
  status.hidden = !message;
}

// Dragging asks for many decodes: keep one request in flight and only the newest one waiting.
let decodeBusy = false;
let decodeNext = null;
function requestDecode(body) {
  decodeNext = body;
  if (!decodeBusy) pumpDecode();
}
async function pumpDecode() {
  decodeBusy = true;
  while (decodeNext) {
    const body = decodeNext;
    decodeNext = null;
    try {
      show(await api("/api/decode", body));
      showError("");
    } catch (err) {
      showError(err.message);
    }
  }
  decodeBusy = false;
}

// ---- drawing -----------------------------------------------------------------------------

function pngSrc(base64) { return "data:image/png;base64," + base64; }

function drawBars(canvas, values) {
  // A table row as a bar chart: one bar per column, zero line in the middle.
  canvas.hidden = false;
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const top = Math.max(1e-9, ...values.map(Math.abs));
  const bw = w / values.length;
  ctx.fillStyle = "#e4e7ec";
  ctx.fillRect(0, h / 2, w, 1);
  values.forEach((v, i) => {
    const len = (v / top) * (h / 2 - 4);
    ctx.fillStyle = v >= 0 ? "#2f6fdf" : "#e0663a";
    ctx.fillRect(i * bw + bw * 0.15, v >= 0 ? h / 2 - len : h / 2, Math.max(1, bw * 0.7), Math.abs(len));
  });
}

// ---- rows of a typed table ---------------------------------------------------------------

// A run on a typed table has columns (/api/info); its items carry `row`, column -> value.
const hasRows = () => Boolean(state.info && state.info.columns);

// One cell as the page writes it: a missing cell (null) as "missing", a continuous column's
// number with its decimal places (JSON turns 18.0 into 18), anything else as sent.
function cellText(value, column) {
  if (value === null || value === undefined) return "missing";
  if (typeof value === "number" && column && Number.isInteger(column.decimals)) return value.toFixed(column.decimals);
  return String(value);
}

function fillCells(tr, values, columns) {
  values.forEach((value, i) => {
    const td = document.createElement("td");
    td.textContent = cellText(value, columns ? columns[i] : null);
    if (value === null || value === undefined) td.className = "missing";
    tr.append(td);
  });
}

// A table of one line per column: the column's name, then one cell per row given.
function drawRowTable(table, rows) {
  table.hidden = false;
  const body = table.tBodies[0];
  body.textContent = "";
  for (const column of state.info.columns) {
    const tr = document.createElement("tr");
    fillCells(tr, [column.name]);
    fillCells(tr, rows.map((row) => row[column.name]), rows.map(() => column));
    body.append(tr);
  }
}

// One CSV cell: quoted when it holds a comma, a quote or a line break; a missing cell is empty.
function csvCell(value, column) {
  if (value === null || value === undefined) return "";
  const text = cellText(value, column);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function rowsCsv(rows) {
  const columns = state.info.columns;
  const lines = [columns.map((c) => csvCell(c.name)), ...rows.map((row) => columns.map((c) => csvCell(row[c.name], c)))];
  return lines.map((cells) => cells.join(",")).join("\n") + "\n";
}

// Samples and interpolations of a typed table: one table, a line per row, a click shows it.
function rowsStrip(box, items) {
  const table = document.createElement("table");
  table.className = "row-table rows-strip";
  const head = document.createElement("tr");
  head.append(...state.info.columns.map((c) => Object.assign(document.createElement("th"), {textContent: c.name})));
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const item of items) {
    const tr = document.createElement("tr");
    tr.className = "cell";
    tr.title = "z = [" + item.z.map((v) => fixed2(v)).join(", ") + "]";
    fillCells(tr, state.info.columns.map((c) => item.row[c.name]), state.info.columns);
    tr.addEventListener("click", () => show(item));
    body.append(tr);
  }
  box.append(table);
}

function fitBounds(points) {
  const all = points.length ? points : [[-3, -3], [3, 3]];
  let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  // A flat axis (every y is 0 when latent_dim = 1) takes the other axis's span.
  const w = x1 - x0 < 1e-6 ? 0 : x1 - x0, h = y1 - y0 < 1e-6 ? 0 : y1 - y0;
  const span = Math.max(w, h) || 2;
  if (!w) { x0 -= span / 2; x1 += span / 2; }
  if (!h) { y0 -= span / 2; y1 += span / 2; }
  const mx = (x1 - x0) * 0.08, my = (y1 - y0) * 0.08;
  return squared({x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my});
}

// One unit is as long across as it is up, so distances on the map are not distorted.
function squared(b) {
  const half = Math.max(b.x1 - b.x0, b.y1 - b.y0) / 2;
  const cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
  return {x0: cx - half, x1: cx + half, y0: cy - half, y1: cy + half};
}

// Widen the map (never shrink it) so a marker pushed outside by a slider stays in view.
function includeInBounds(p) {
  const b = state.bounds;
  const mx = (b.x1 - b.x0) * 0.06, my = (b.y1 - b.y0) * 0.06;
  if (p[0] < b.x0 + mx) b.x0 = p[0] - mx;
  if (p[0] > b.x1 - mx) b.x1 = p[0] + mx;
  if (p[1] < b.y0 + my) b.y0 = p[1] - my;
  if (p[1] > b.y1 - my) b.y1 = p[1] + my;
  state.bounds = squared(b);
}

function toCanvas(p, size) {
  const b = state.bounds;
  return [((p[0] - b.x0) / (b.x1 - b.x0)) * size, (1 - (p[1] - b.y0) / (b.y1 - b.y0)) * size];
}

function fromCanvas(cx, cy, size) {
  const b = state.bounds;
  return [b.x0 + (cx / size) * (b.x1 - b.x0), b.y0 + (1 - cy / size) * (b.y1 - b.y0)];
}

function drawMap() {
  const canvas = $("map");
  const size = canvas.width;
  const ctx = canvas.getContext("2d");
  for (const p of [state.current && state.current.point, state.a && state.a.point, state.b && state.b.point, ...state.uploads]) {
    if (p) includeInBounds(p);
  }
  ctx.fillStyle = "#fbfbfd";
  ctx.fillRect(0, 0, size, size);
  // Axes through the origin of the map.
  ctx.strokeStyle = "#e4e7ec";
  ctx.lineWidth = 1;
  const [ox, oy] = toCanvas([0, 0], size);
  ctx.beginPath(); ctx.moveTo(ox, 0); ctx.lineTo(ox, size); ctx.moveTo(0, oy); ctx.lineTo(size, oy); ctx.stroke();
  ctx.globalAlpha = 0.75;
  state.points.forEach((p, i) => {
    const [x, y] = toCanvas(p, size);
    ctx.fillStyle = state.labels ? PALETTE[state.labels[i] % PALETTE.length] : "#5b6b86";
    ctx.beginPath(); ctx.arc(x, y, 2.6, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.globalAlpha = 1;
  if (state.strip.length > 1) {
    ctx.strokeStyle = "#111"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1.5;
    ctx.beginPath();
    state.strip.forEach((p, i) => { const [x, y] = toCanvas(p, size); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke(); ctx.setLineDash([]);
  }
  for (const [name, end] of [["A", state.a], ["B", state.b]]) {
    if (!end) continue;
    const [x, y] = toCanvas(end.point, size);
    ctx.fillStyle = "#111"; ctx.font = "bold 13px system-ui, sans-serif";
    ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
    ctx.fillText(name, x + 6, y - 6);
  }
  state.uploads.forEach((p, i) => {
    const [x, y] = toCanvas(p, size);
    const r = i === state.uploads.length - 1 ? 8 : 6;
    ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath();
    ctx.fillStyle = "#ffd400"; ctx.fill(); ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5; ctx.stroke();
  });
  if (state.current) {
    const [x, y] = toCanvas(state.current.point, size);
    ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 9, 0, 2 * Math.PI); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(x - 14, y); ctx.lineTo(x - 5, y); ctx.moveTo(x + 5, y); ctx.lineTo(x + 14, y);
    ctx.moveTo(x, y - 14); ctx.lineTo(x, y - 5); ctx.moveTo(x, y + 5); ctx.lineTo(x, y + 14); ctx.stroke();
  }
  canvas.dataset.uploads = String(state.uploads.length);
  canvas.dataset.points = String(state.points.length);
}

function drawLegend() {
  const legend = $("legend");
  legend.textContent = "";
  if (!state.labels) return;
  const classes = [...new Set(state.labels)].sort((p, q) => p - q);
  for (const c of classes.slice(0, 20)) {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = PALETTE[c % PALETTE.length];
    item.append(swatch, className(c));
    legend.append(item);
  }
  const key = document.createElement("span");
  key.textContent = "◆ your uploads  ⊕ current point";
  legend.append(key);
}

// ---- the current point -------------------------------------------------------------------

function show(item) {
  state.current = item;
  if (state.info.conditional && item.label !== null && item.label !== undefined) selectLabel(item.label);
  if (state.info.kind === "image") {
    $("decoded").src = pngSrc(item.image);
  } else if (hasRows()) {
    drawRowTable($("decoded-row"), [item.row]);
  } else {
    drawBars($("decoded-bars"), item.values);
  }
  item.z.forEach((v, dim) => {
    const slider = document.querySelector(`input[data-dim="${dim}"]`);
    if (slider && document.activeElement !== slider) slider.value = String(v);
    const out = document.querySelector(`output[data-dim="${dim}"]`);
    if (out) out.textContent = fixed2(v);
  });
  $("z-readout").textContent = "z = [" + item.z.map((v) => fixed2(v)).join(", ") + "]" +
    (state.info.conditional ? ` · class ${className(state.label)}` : "");
  drawMap();
}

// ---- the class of a conditional model ----------------------------------------------------

// A class's name where the run has names (a table's condition values, image class folders),
// else its number, so that runs without names show what they always did.
function className(c) {
  const names = state.info.class_names;
  return names && names[c] !== undefined ? names[c] : String(c);
}

function selectLabel(label) {
  state.label = label;
  for (const button of document.querySelectorAll("#label-buttons button")) {
    const on = Number(button.dataset.label) === label;
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", String(on));
  }
  $("label-picker").dataset.label = String(label);
}

function buildLabelPicker() {
  const info = state.info;
  if (!info.conditional) return;
  const box = $("label-buttons");
  box.textContent = "";
  for (let c = 0; c < info.num_classes; c++) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = className(c);
    button.dataset.label = String(c);
    button.title = info.class_names ? `decode under class ${c}: ${className(c)}` : `decode under class ${c}`;
    button.addEventListener("click", () => {
      selectLabel(c);
      requestDecode({z: currentZ(), label: c});
    });
    box.append(button);
  }
  $("label-picker").hidden = false;
  selectLabel(0);
}

function currentZ() { return state.current ? state.current.z.slice() : state.info.start.slice(); }

function buildSliders() {
  const box = $("sliders");
  box.textContent = "";
  const top = Math.max(1e-9, ...state.info.sliders.map((s) => s.score || 0));
  for (const s of state.info.sliders) {
    const row = document.createElement("div");
    row.className = "slider";
    const name = document.createElement("label");
    name.className = "name";
    name.htmlFor = `slider-${s.dim}`;
    name.textContent = `z${s.dim}`;
    if (s.score !== null) {
      name.title = `${state.info.slider_order_by} ${s.score}`;
      const bar = document.createElement("span");
      bar.className = "kl";
      bar.style.width = `${Math.max(4, (100 * s.score) / top)}%`;
      name.append(bar);
    }
    const input = document.createElement("input");
    Object.assign(input, {type: "range", id: `slider-${s.dim}`, min: s.min, max: s.max, step: 0.01, value: state.info.start[s.dim]});
    input.dataset.dim = String(s.dim);
    input.addEventListener("input", () => {
      const z = currentZ();
      z[s.dim] = Number(input.value);
      requestDecode({z, label: state.label});
    });
    const out = document.createElement("output");
    out.dataset.dim = String(s.dim);
    row.append(name, input, out);
    box.append(row);
  }
  const hints = {kl: "Ordered by KL: the most informative dimension first; the bar is its mean KL.",
    variance: "Ordered by variance over the test set (a deterministic model has no KL).",
    index: "In index order (no test data to rank them on)."};
  $("slider-hint").textContent = hints[state.info.slider_order_by] || "";
}

// ---- the map -----------------------------------------------------------------------------

function wireMap() {
  const canvas = $("map");
  let dragging = false;
  const decodeAt = (event) => {
    const rect = canvas.getBoundingClientRect();
    const cx = ((event.clientX - rect.left) / rect.width) * canvas.width;
    const cy = ((event.clientY - rect.top) / rect.height) * canvas.height;
    requestDecode({point: fromCanvas(cx, cy, canvas.width), label: state.label});
  };
  canvas.addEventListener("pointerdown", (e) => { dragging = true; canvas.setPointerCapture(e.pointerId); decodeAt(e); });
  canvas.addEventListener("pointermove", (e) => { if (dragging) decodeAt(e); });
  const stop = () => { dragging = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
}

// ---- upload ------------------------------------------------------------------------------

function showEncoded(result) {
  $("upload-empty").hidden = true;
  $("upload-result").hidden = false;
  if (state.info.kind === "image") {
    $("upload-input").src = pngSrc(result.input.image);
    $("upload-recon").src = pngSrc(result.reconstruction.image);
  } else if (hasRows()) {
    for (const figure of document.querySelectorAll("#upload-result figure")) figure.hidden = true;
    drawRowTable($("upload-rows"), [result.input.row, result.reconstruction.row]);
  } else {
    $("upload-input").hidden = true;
    $("upload-recon").hidden = true;
    drawBars($("upload-input-bars"), result.input.values);
    drawBars($("upload-recon-bars"), result.reconstruction.values);
  }
  $("anomaly-score").textContent = result.anomaly_score.toFixed(2);
  $("score-note").textContent = result.score + (state.info.conditional ? `; encoded as class ${className(result.label)}` : "");
  state.uploads.push(result.point);
  show({z: result.z, label: result.label, point: result.point, ...result.reconstruction});
}

async function encodeFile(file) {
  const limit = state.info.limits.max_upload_bytes;
  if (file.size > limit) {
    showError(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${(limit / 1048576).toFixed(1)} MB`);
    return;
  }
  const dataUrl = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`${file.name}: could not be read`));
    reader.readAsDataURL(file);
  });
  try {
    showEncoded(await api("/api/encode", {image: dataUrl, invert: $("invert").checked, label: state.label}));
    showError("");
  } catch (err) {
    showError(`${file.name}: ${err.message}`);
  }
}

// What the row box sends: a typed table's row as a CSV line (the server reads it as a CSV file's
// row) or, pasted as {...}, as a JSON object; a plain matrix's row as numbers.
function rowBody() {
  const text = $("row-input").value;
  if (hasRows()) {
    if (text.trim().startsWith("{")) {
      try { return {row: JSON.parse(text)}; } catch (e) { throw new Error(`the pasted row is not valid JSON (${e.message})`); }
    }
    return {csv: text};
  }
  const tokens = text.split(/[\s,;]+/).filter((t) => t.length);
  // Numbers go as numbers; anything else goes as written so the server can name it.
  return {values: tokens.map((t) => (t.trim() !== "" && Number.isFinite(Number(t)) ? Number(t) : t))};
}

async function encodeRow() {
  try {
    const body = rowBody();
    // A conditional table model reads the class from the row's condition columns.
    if (!hasRows() || !state.info.conditional) body.label = state.label;
    showEncoded(await api("/api/encode", body));
    showError("");
  } catch (err) {
    showError(err.message);
  }
}

function wireUpload() {
  const zone = $("drop-zone");
  $("upload-limit").textContent = `PNG, JPEG, GIF, BMP or WebP up to ${(state.info.limits.max_upload_bytes / 1048576).toFixed(0)} MB; resized to ${state.info.input_shape.slice(1).join("×")}`;
  $("file-input").addEventListener("change", (e) => { if (e.target.files.length) encodeFile(e.target.files[0]); e.target.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) encodeFile(e.dataTransfer.files[0]);
  });
  $("row-button").addEventListener("click", encodeRow);
}

// ---- strips: interpolation and samples --------------------------------------------------

function fillStrip(box, items) {
  box.textContent = "";
  if (hasRows()) {
    rowsStrip(box, items);
    return;
  }
  for (const item of items) {
    let cell;
    if (state.info.kind === "image") {
      cell = document.createElement("img");
      cell.src = pngSrc(item.image);
      cell.alt = "decoded z";
    } else {
      cell = document.createElement("canvas");
      cell.width = 90; cell.height = 60;
      drawBars(cell, item.values);
    }
    cell.className = "cell";
    cell.title = "z = [" + item.z.map((v) => fixed2(v)).join(", ") + "]";
    cell.addEventListener("click", () => show(item));
    box.append(cell);
  }
}

function setEnd(which) {
  const item = state.current;
  state[which] = {z: item.z.slice(), point: item.point.slice()};
  $(`slot-${which}`).textContent = "(" + item.point.map((v) => fixed2(v)).join(", ") + ")";
  $("interp-button").disabled = !(state.a && state.b);
  drawMap();
}

async function interpolate() {
  const steps = Math.round(Number($("steps").value));
  try {
    const result = await api("/api/interpolate", {start: state.a.z, end: state.b.z, steps, label: state.label});
    state.strip = result.items.map((item) => item.point);
    fillStrip($("interp-strip"), result.items);
    drawMap();
    showError("");
  } catch (err) {
    showError(err.message);
  }
}

async function sample() {
  try {
    const result = await api("/api/sample", {n: Math.min(8, state.info.limits.max_samples), temperature: Number($("temperature").value), label: state.label});
    fillStrip($("sample-strip"), result.items);
    show(result.items[0]);
    showError("");
  } catch (err) {
    showError(err.message);
  }
}

// ---- download ----------------------------------------------------------------------------

function download() {
  if (!state.current) return;
  const z = state.current.z.map((v) => fixed2(v)).join("_") + (state.info.conditional ? `-class${state.label}` : "");
  const link = document.createElement("a");
  if (state.info.kind !== "image") {
    const csv = hasRows() ? rowsCsv([state.current.row]) : state.current.values.join(",") + "\n";
    link.href = URL.createObjectURL(new Blob([csv], {type: "text/csv"}));
    link.download = `vaekit-decoded-${z}.csv`;
    link.click();
    return;
  }
  // The decoded image upscaled with sharp pixels, so an 8x8 digit is still visible as a file.
  const img = $("decoded");
  const scale = Math.max(1, Math.floor(256 / Math.max(img.naturalWidth, img.naturalHeight)));
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth * scale;
  canvas.height = img.naturalHeight * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  link.href = canvas.toDataURL("image/png");
  link.download = `vaekit-decoded-${z}.png`;
  link.click();
}

// ---- start -------------------------------------------------------------------------------

// What the map shows, for the map method in use (only the PCA has an explained variance).
function mapDescription(info) {
  switch (info.map_method) {
    case "identity":
      return info.latent_dim === 1
        ? "The latent axis itself (latent_dim = 1): only the horizontal position counts."
        : "The latent plane itself (latent_dim = 2).";
    case "pca": {
      const ratio = (info.explained_variance_ratio || []).reduce((p, q) => p + q, 0);
      return `PCA of the test set's latent means (${(100 * ratio).toFixed(0)}% of their variance); a click decodes the point on this plane.`;
    }
    case "first-two":
      return "Latent dimensions 0 and 1 (no test data to fit PCA on); the others stay at 0.";
    default:
      return "";
  }
}

async function start() {
  try {
    state.info = await api("/api/info");
    const latents = await api("/api/latents");
    state.points = latents.points;
    state.labels = latents.labels;
    state.bounds = fitBounds(state.points);
    const info = state.info;
    const shape = info.columns ? `${info.columns.length} columns` : info.input_shape.join("×");
    $("model-line").textContent = `${info.run || "run"} · ${info.model} on ${info.data} (${shape}) · ${info.latent_dim} latent dimensions · ${info.likelihood} likelihood`;
    $("map-hint").textContent = `${mapDescription(info)} Click or drag to decode; ${latents.total} test examples${latents.points.length < latents.total ? ` (${latents.points.length} shown)` : ""}.`;
    if (latents.note) showError(latents.note);
    $("steps").max = String(info.limits.max_steps);
    $("upload-empty").textContent = info.kind === "image"
      ? "Nothing encoded yet: drop an image to see it as the model sees it, its reconstruction and its anomaly score."
      : "Nothing encoded yet: paste a row to see its reconstruction and its anomaly score.";
    if (info.conditional) $("upload-empty").textContent += " It is encoded as an example of the class picked under Decoded.";
    if (info.kind !== "image") {
      $("decoded-view").classList.add("table");
      $("image-upload").hidden = true;
      $("row-upload").hidden = false;
      $("decoded").hidden = true;
      $("download-button").textContent = "Download CSV";
      $("row-input").placeholder = `${info.input_dim} numbers`;
    }
    if (info.columns) {
      const names = info.columns.map((c) => c.name).join(",");
      $("decoded-view").classList.add("rows");
      $("row-label").textContent = "Paste one row as a CSV line, its cells in this order (or put a header line above it; NA or an empty cell is missing), or as a JSON object column → value:";
      $("row-label").append(Object.assign(document.createElement("code"), {textContent: names}));
      $("row-input").placeholder = names;
      $("row-input").rows = 3;
    }
    buildSliders();
    buildLabelPicker();
    drawLegend();
    wireMap();
    wireUpload();
    $("sample-button").addEventListener("click", sample);
    $("download-button").addEventListener("click", download);
    $("set-a").addEventListener("click", () => setEnd("a"));
    $("set-b").addEventListener("click", () => setEnd("b"));
    $("interp-button").addEventListener("click", interpolate);
    $("centre-button").addEventListener("click", () => requestDecode({z: info.start, label: state.label}));
    show(await api("/api/decode", {z: info.start, label: state.label}));
    document.body.dataset.ready = "true";
  } catch (err) {
    showError(`could not start: ${err.message}`);
    document.body.dataset.ready = "failed";
  }
}

start();
