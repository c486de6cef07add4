// chainrule playground: the page draws what the server sends. Every number shown comes
// from chainrule on the server (training, losses, weights, gradients, traces); this file
// only turns those numbers into pixels, lines and text.
"use strict";

const CLASS_COLOURS = ["#f59322", "#0877bd", "#2ca02c", "#9467bd", "#d62728", "#8c564b"];
const NEG = [245, 147, 34], POS = [8, 119, 189], WHITE = [255, 255, 255];
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

let ws = null, hello = null, state = null, frame = null, playing = false;
const history = { epochs: [], train: [], test: [] };

// --- colours: a byte b stands for t = b / 127.5 - 1 in [-1, 1] ----------------------------
const PALETTE = new Uint8ClampedArray(256 * 4);
for (let b = 0; b < 256; b++) {
  const t = b / 127.5 - 1, end = t < 0 ? NEG : POS, a = Math.min(1, Math.abs(t));
  for (let c = 0; c < 3; c++) PALETTE[4 * b + c] = WHITE[c] + (end[c] - WHITE[c]) * a;
  PALETTE[4 * b + 3] = 255;
}
function rgb(hex) { return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)); }

function bytes(b64) {
  const text = atob(b64), out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "-";
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  const s = Number(x).toPrecision(digits);
  return s.includes("e") ? s : String(Number(s));
}

// --- connection ----------------------------------------------------------------------------
function connect() {
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = () => showMessage("disconnected from the server; reload the page to start again");
}
function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}
function configure(changes) { send({ type: "config", changes }); }

function receive(m) {
  if (m.type === "hello") onHello(m);
  else if (m.type === "state") onState(m);
  else if (m.type === "frame") onFrame(m);
  else if (m.type === "playing") { playing = m.playing; $("play").innerHTML = playing ? "&#x23f8; pause" : "&#x25b6; play"; }
  else if (m.type === "error") showMessage(m.message);
  else if (m.type === "trace") onTrace(m);
  else if (m.type === "columns") onColumns(m);
  else if (m.type === "walk") onWalk(m);
}

let messageTimer = null;
function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

// --- set-up --------------------------------------------------------------------------------
function onHello(m) {
  hello = m;
  for (const [name, label] of Object.entries(m.datasets)) $("dataset").add(new Option(label, name));
  $("dataset").add(new Option("uploaded CSV", "csv"));
  for (const name of m.optimizers) $("optimizer").add(new Option(name, name));
  const L = m.limits;
  $("limits").textContent =
    `Limits: ${L.hidden_layers} hidden layers of up to ${L.neurons} neurons; ` +
    `${L.min_points} to ${L.points} points; CSV up to ${L.upload_bytes / 1e6} MB and ${L.upload_rows} rows; ` +
    `up to ${L.steps_per_frame} steps a frame, ${L.frames_per_second} frames a second; batch up to ${L.batch}.`;
  $("points").max = L.points; $("points").min = L.min_points;
  $("steps_per_frame").max = L.steps_per_frame;
  for (const p of m.presets) $("preset").add(new Option(p.title, p.name));
  choosePreset(m.presets[0].name);
}

function onState(m) {
  state = m;
  const c = m.config;
  $("dataset").value = c.dataset;
  $("noise").value = c.noise; $("noise-value").textContent = c.noise;
  $("train_ratio").value = c.train_ratio; $("train_ratio-value").textContent = `${Math.round(c.train_ratio * 100)}%`;
  $("points").value = c.points;
  $("lr").value = String(c.lr);
  $("optimizer").value = c.optimizer;
  $("batch").value = c.batch;
  $("regularization").value = c.regularization;
  $("reg_rate").value = String(c.reg_rate);
  $("steps_per_frame").value = c.steps_per_frame;
  $("loss-name").textContent = `loss: ${m.loss}`;
  $("layer-count").textContent = `${c.hidden.length} hidden layer${c.hidden.length === 1 ? "" : "s"}`;
  history.epochs = m.history.epochs.slice(); history.train = m.history.train.slice(); history.test = m.history.test.slice();
  $("legend").innerHTML = m.task === "classify"
    ? m.classes.map((name, k) => `<span style="color:${CLASS_COLOURS[k % 6]}">&#x25cf;</span> ${escapeHtml(name)}`).join(" &nbsp;")
    + ` &nbsp; axes: ${m.axes.map(escapeHtml).join(", ")}`
    : `target: orange low, blue high &nbsp; axes: ${m.axes.map(escapeHtml).join(", ")}`;
  $("sample-index").max = m.train.length - 1;
  buildNetwork();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

// --- the network drawing -------------------------------------------------------------------
const CELL = 44, COL = 120, ROW = 56, TOP = 62, LEFT = 60;
let neuronCanvases = [], edgeLines = [];

function neuronPosition(layer, index) {
  return { x: LEFT + layer * COL, y: TOP + index * ROW };
}

function buildNetwork() {
  const net = $("network"), svg = $("edges");
  net.querySelectorAll(".neuron, .feature-off, .layer-head").forEach((el) => el.remove());
  svg.innerHTML = "";
  neuronCanvases = []; edgeLines = [];
  const c = state.config, sizes = state.sizes, allFeatures = hello.features;
  const tallest = Math.max(allFeatures.length, ...sizes);
  const width = LEFT + (sizes.length - 1) * COL + CELL + 40, height = TOP + tallest * ROW;
  net.style.width = `${width}px`; net.style.height = `${height}px`;
  svg.setAttribute("width", width); svg.setAttribute("height", height);

  // column 0: every feature, the active ones drawn, the others greyed (click toggles)
  let active = 0;
  allFeatures.forEach((name) => {
    const on = c.features.includes(name);
    const pos = neuronPosition(0, on ? active : c.features.length + allFeatures.filter((f, i) => !c.features.includes(f) && i < allFeatures.indexOf(name)).length);
    const box = document.createElement("div");
    box.className = on ? "neuron feature" : "feature-off";
    box.style.left = `${pos.x}px`; box.style.top = `${pos.y}px`;
    box.title = on ? `${name}: click to leave it out` : `${name}: click to use it`;
    box.dataset.feature = name;
    box.innerHTML = `<span class="name">${escapeHtml(name)}</span>`;
    box.onclick = () => toggleFeature(name);
    if (on) {
      const canvas = document.createElement("canvas");
      canvas.width = state.grid; canvas.height = state.grid;
      box.prepend(canvas);
      neuronCanvases[active] = canvas;
      active++;
    }
    net.appendChild(box);
  });

  // hidden layers and the output
  let offset = c.features.length;
  for (let layer = 1; layer < sizes.length; layer++) {
    const hiddenLayer = layer < sizes.length - 1;
    const head = document.createElement("div");
    head.className = "layer-head";
    head.style.left = `${LEFT + layer * COL - 20}px`;
    if (hiddenLayer) {
      const options = hello.activations.map((a) => `<option ${a === c.activations[layer - 1] ? "selected" : ""}>${a}</option>`).join("");
      head.innerHTML = `<button class="plus" title="add a neuron">+</button><button class="minus" title="remove a neuron">&minus;</button>` +
        `<div>${sizes[layer]} neurons</div><select title="activation">${options}</select>`;
      head.querySelector(".plus").onclick = () => changeWidth(layer - 1, +1);
      head.querySelector(".minus").onclick = () => changeWidth(layer - 1, -1);
      head.querySelector("select").onchange = (e) => {
        const acts = c.activations.slice(); acts[layer - 1] = e.target.value; configure({ activations: acts });
      };
    } else {
      head.innerHTML = `<div>output</div><div class="note">${state.task === "classify" ? "softmax" : "identity"}</div>`;
    }
    net.appendChild(head);
    for (let j = 0; j < sizes[layer]; j++) {
      const pos = neuronPosition(layer, j);
      const box = document.createElement("div");
      box.className = "neuron";
      box.style.left = `${pos.x}px`; box.style.top = `${pos.y}px`;
      const canvas = document.createElement("canvas");
      canvas.width = state.grid; canvas.height = state.grid;
      box.appendChild(canvas);
      box.dataset.layer = layer; box.dataset.index = j;
      box.onmousemove = (e) => showNeuronTip(e, layer, j);
      box.onmouseleave = hideTip;
      net.appendChild(box);
      neuronCanvases[offset + j] = canvas;
    }
    offset += sizes[layer];
  }

  // edges: one line per weight U_l[i][j]
  for (let l = 0; l < sizes.length - 1; l++) {
    edgeLines[l] = [];
    for (let i = 0; i < sizes[l]; i++) {
      edgeLines[l][i] = [];
      for (let j = 0; j < sizes[l + 1]; j++) {
        const a = neuronPosition(l, i), b = neuronPosition(l + 1, j);
        const line = document.createElementNS(SVG, "path");
        const x1 = a.x + CELL, y1 = a.y + CELL / 2, x2 = b.x, y2 = b.y + CELL / 2, mx = (x1 + x2) / 2;
        line.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
        line.setAttribute("class", "edge");
        line.onmousemove = (e) => showWeightTip(e, l, i, j);
        line.onmouseleave = hideTip;
        svg.appendChild(line);
        edgeLines[l][i][j] = line;
      }
    }
  }
  if (frame) drawFrame(frame);
}

function toggleFeature(name) {
  const on = state.config.features;
  const next = on.includes(name) ? on.filter((f) => f !== name) : hello.features.filter((f) => on.includes(f) || f === name);
  if (next.length === 0) { showMessage("keep at least one input feature"); return; }
  configure({ features: next });
}

function changeWidth(layer, delta) {
  const hidden = state.config.hidden.slice();
  hidden[layer] += delta;
  if (hidden[layer] < 1) { showMessage("a hidden layer keeps at least one neuron; remove the layer instead"); return; }
  configure({ hidden });  // the server refuses more than its limit, with a message
}

function addLayer() {
  const c = state.config;
  configure({ hidden: [...c.hidden, 2], activations: [...c.activations, c.activations.at(-1) || "tanh"] });
}
function removeLayer() {
  const c = state.config;
  if (c.hidden.length === 0) { showMessage("no hidden layer to remove"); return; }
  configure({ hidden: c.hidden.slice(0, -1), activations: c.activations.slice(0, -1) });
}

// --- frames --------------------------------------------------------------------------------
function onFrame(m) {
  frame = m;
  window.__ready = true;  // for the tests: the first frame is drawn
  if (m.steps === 0) { history.epochs = [m.epoch]; history.train = [m.train_loss]; history.test = [m.test_loss]; }
  else if (history.epochs.at(-1) !== m.epoch) {
    history.epochs.push(m.epoch); history.train.push(m.train_loss); history.test.push(m.test_loss);
    if (history.epochs.length > 400) for (const k of ["epochs", "train", "test"]) history[k] = history[k].filter((_, i) => i % 2 === 0);
  }
  drawFrame(m);
}

function drawFrame(m) {
  if (!state) return;
  $("epoch").textContent = fmt(m.epoch, 4);
  $("steps").textContent = m.steps;
  $("train-loss").textContent = fmt(m.train_loss, 4);
  $("test-loss").textContent = fmt(m.test_loss, 4);
  const maps = bytes(m.maps), n = state.grid * state.grid;
  neuronCanvases.forEach((canvas, k) => { if (canvas) paint(canvas, maps.subarray(k * n, (k + 1) * n)); });
  drawSurface(bytes(m.surface));
  drawEdges(m.weights);
  drawLossCurve();
}

function paint(canvas, values) {
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(canvas.width, canvas.height);
  for (let p = 0; p < values.length; p++) image.data.set(PALETTE.subarray(4 * values[p], 4 * values[p] + 4), 4 * p);
  ctx.putImageData(image, 0, 0);
}

const surfaceBuffer = document.createElement("canvas");
function drawSurface(data) {
  const g = state.surface_grid, n = g * g;
  surfaceBuffer.width = g; surfaceBuffer.height = g;
  const ctx = surfaceBuffer.getContext("2d"), image = ctx.createImageData(g, g);
  for (let p = 0; p < n; p++) {
    const cls = data[p], level = data[n + p];
    if (state.task === "regress") { image.data.set(PALETTE.subarray(4 * level, 4 * level + 4), 4 * p); continue; }
    const colour = rgb(CLASS_COLOURS[cls % 6]), a = 0.15 + 0.45 * (level / 255);
    for (let c = 0; c < 3; c++) image.data[4 * p + c] = 255 + (colour[c] - 255) * a;
    image.data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  const out = $("surface"), octx = out.getContext("2d");
  octx.imageSmoothingEnabled = true;
  octx.drawImage(surfaceBuffer, 0, 0, out.width, out.height);
  drawPoints(octx, out, state.train, "#fff");
  if ($("show-test").checked) drawPoints(octx, out, state.test, "#222");
  if (selectedSample !== null && state.train[selectedSample]) {
    const [x1, x2] = state.train[selectedSample], p = toPixel(out, x1, x2);
    octx.strokeStyle = "#000"; octx.lineWidth = 2; octx.beginPath(); octx.arc(p[0], p[1], 7, 0, 7); octx.stroke();
  }
}

function toPixel(canvas, x1, x2) {
  const v = state.view;
  return [(x1 + v) / (2 * v) * canvas.width, (v - x2) / (2 * v) * canvas.height];
}

function drawPoints(ctx, canvas, rows, edge) {
  for (const row of rows) {
    const [px, py] = toPixel(canvas, row[0], row[1]);
    ctx.fillStyle = state.task === "classify" ? CLASS_COLOURS[row[2] % 6]
      : `rgb(${PALETTE.subarray(4 * Math.round((Math.max(-1, Math.min(1, row[2])) + 1) * 127.5), 4 * Math.round((Math.max(-1, Math.min(1, row[2])) + 1) * 127.5) + 3).join(",")})`;
    ctx.strokeStyle = edge;
    ctx.beginPath(); ctx.arc(px, py, 3, 0, 7); ctx.fill(); ctx.stroke();
  }
}

function drawEdges(weights) {
  weights.forEach((U, l) => U.forEach((row, i) => row.forEach((w, j) => {
    const line = edgeLines[l] && edgeLines[l][i] && edgeLines[l][i][j];
    if (!line) return;
    line.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
    line.setAttribute("stroke-width", Math.min(8, 0.4 + 1.6 * Math.abs(w)).toFixed(2));
  })));
}

function drawLossCurve() {
  const canvas = $("loss-curve"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const top = Math.max(...history.train, ...history.test, 1e-9), n = history.epochs.length;
  const first = history.epochs[0] || 0, last = Math.max(history.epochs.at(-1) || 1, first + 1e-9);
  for (const [key, colour] of [["test", "#222"], ["train", "#999"]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = (history.epochs[i] - first) / (last - first) * (canvas.width - 4) + 2;
      const y = canvas.height - 2 - history[key][i] / top * (canvas.height - 4);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    }
    ctx.stroke();
  }
}

// --- hover: a weight, a neuron ---------------------------------------------------------------
function showTip(event, html) {
  const tip = $("tooltip");
  tip.innerHTML = html; tip.hidden = false;
  tip.style.left = `${event.pageX + 14}px`; tip.style.top = `${event.pageY + 10}px`;
}
function hideTip() { $("tooltip").hidden = true; }

function showWeightTip(event, l, i, j) {
  if (!frame) return;
  const w = frame.weights[l][i][j], g = frame.weight_grads[l] ? frame.weight_grads[l][i][j] : null;
  let html = `<b>U${l + 1}[${i + 1},${j + 1}]</b> = ${fmt(w, 5)}<br>dL/dU (last batch) = ${fmt(g, 4)}`;
  const s = walk && walk.weights && walk.weights[l];
  if (s) {
    const entry = s[i][j];
    html += `<br><span class="note">for sample ${walk.index}:</span> dL/dU = input &times; upstream = ${entry}`;
  } else {
    html += `<br><span class="note">dL/dU = input &times; upstream: pick a sample below to see it with numbers</span>`;
  }
  showTip(event, html);
}

function showNeuronTip(event, layer, j) {
  let html = `<b>layer ${layer}, neuron ${j + 1}</b>`;
  if (frame) html += `<br>bias b = ${fmt(frame.biases[layer - 1][j], 5)}`;
  const s = walk && walk.neurons && walk.neurons[layer - 1];
  if (s) html += `<br><span class="note">sample ${walk.index}:</span> ${s[j]}`;
  else html += `<br><span class="note">pick a sample below to see z, a and f'(z) for it</span>`;
  showTip(event, html);
}

// --- one sample through the live network ---------------------------------------------------
let walk = null, walkStage = 0, selectedSample = null;
function onWalk(m) {
  walk = m; walkStage = 0; selectedSample = m.index;
  $("sample-next").disabled = false;
  showWalkStage();
  if (frame) drawFrame(frame);
}
function showWalkStage() {
  const shown = walk.stages.slice(0, walkStage + 1);
  $("sample-out").innerHTML = shown.map((stage) =>
    `<div class="stage"><h4>${escapeHtml(stage.title)}</h4><pre>${escapeHtml(stage.lines.join("\n"))}</pre></div>`).join("");
  $("sample-next").disabled = walkStage >= walk.stages.length - 1;
}

// --- backprop step by step -----------------------------------------------------------------
let trace = null, fwd = 0, bwd = 0;

function choosePreset(name) {
  const p = hello.presets.find((q) => q.name === name);
  $("expr").value = p.expression;
  $("gates").value = p.gates;
  requestTrace(p.at);
}

function currentInputs() {
  const at = {};
  document.querySelectorAll("#trace-inputs input").forEach((input) => {
    const v = Number(input.value);
    if (input.value.trim() !== "" && Number.isFinite(v)) at[input.dataset.name] = v;
  });
  return at;
}

function requestTrace(at) {
  send({ type: "trace", expression: $("expr").value, at: at || currentInputs(), gates: $("gates").value });
}

function onTrace(m) {
  trace = m; fwd = 0; bwd = 0;
  $("trace-graph").dataset.expression = m.trace.expression;  // which trace is drawn
  const box = $("trace-inputs");
  box.innerHTML = "";
  for (const [name, value] of Object.entries(m.trace.at)) {
    const label = document.createElement("label");
    label.innerHTML = `${escapeHtml(name)} = `;
    const input = document.createElement("input");
    input.size = 5; input.value = value; input.dataset.name = name;
    input.onchange = () => requestTrace();
    label.appendChild(input);
    box.appendChild(label);
  }
  drawTrace();
}

const T_COL = 150, T_ROW = 70, T_TOP = 40, T_LEFT = 40, R = 20;
function nodeXY(node) { return [T_LEFT + node.depth * T_COL, T_TOP + node.row * T_ROW]; }

function drawTrace() {
  const svg = $("trace-graph"), t = trace.trace, steps = t.steps, n = steps.length;
  svg.innerHTML = "";
  const byId = Object.fromEntries(trace.nodes.map((node) => [node.id, node]));
  const depth = Math.max(...trace.nodes.map((node) => node.depth)), rows = Math.max(...trace.nodes.map((node) => node.row)) + 1;
  svg.setAttribute("width", T_LEFT + (depth + 1) * T_COL + 40);
  svg.setAttribute("height", T_TOP + rows * T_ROW + 10);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
    return el;
  };
  const valueOf = (id) => {
    const node = byId[id];
    if (node.kind !== "gate") return node.value;
    return node.step < fwd ? steps[node.step].value : null;
  };
  // edges, with the value (green, above) once known and the gradient (red, below) once sent
  const twice = {};
  for (const e of trace.edges) {
    const a = byId[e.from], b = byId[e.to], [x1, y1] = nodeXY(a), [x2, y2] = nodeXY(b);
    const key = `${e.from}>${e.to}`, bend = (twice[key] = (twice[key] || 0) + 1) > 1 ? 18 : 0;
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2 + bend;
    add("path", { d: `M${x1 + R},${y1} Q${mx},${my + bend} ${x2 - R},${y2}`, class: "t-edge" });
    // labels a third of the way along, nearer the source: edges into one gate stay apart
    const lx = x1 + R + (x2 - x1 - 2 * R) * 0.3, ly = y1 + (y2 - y1) * 0.3 + bend * 0.8;
    const v = valueOf(e.from);
    if (v !== null) add("text", { x: lx, y: ly - 6, class: "t-value", "data-value-of": e.from }, fmt(v));
    const step = steps[e.step];
    const sent = bwd > 0 && e.step >= n - bwd;
    if (sent) {
      const chain = step.chain.find((c, k) => c.input === step.inputs[e.slot] && k === chainIndex(step, e.slot));
      const g = chain ? chain.downstream : step.downstream[e.slot];
      add("text", { x: lx, y: ly + 15, class: "t-grad", "data-grad-of": step.inputs[e.slot], "data-slot": e.slot }, fmt(g));
    }
  }
  // the output's edge
  const out = byId[t.output_name], [ox, oy] = nodeXY(out);
  add("path", { d: `M${ox + R},${oy} L${ox + T_COL - 40},${oy}`, class: "t-edge" });
  add("text", { x: ox + T_COL - 34, y: oy + 4, class: "t-name" }, t.output_name);
  if (fwd === n) add("text", { x: ox + R + 40, y: oy - 6, class: "t-value", "data-value-of": t.output_name }, fmt(t.output));
  if (bwd > 0) add("text", { x: ox + R + 40, y: oy + 16, class: "t-grad", "data-grad-of": t.output_name }, "1");
  // nodes
  for (const node of trace.nodes) {
    const [x, y] = nodeXY(node);
    const current = node.kind === "gate" && ((bwd === 0 && node.step === fwd - 1) || (bwd > 0 && node.step === n - bwd));
    if (node.kind === "gate") {
      add("circle", { cx: x, cy: y, r: R, class: current ? "t-gate current" : "t-gate" });
      add("text", { x, y: y + 5, class: "t-symbol" }, node.label);
      add("text", { x, y: y - R - 4, class: "t-node-name" }, node.id);
    } else {
      add("rect", { x: x - R, y: y - 13, width: 2 * R, height: 26, rx: 4, class: node.kind === "input" ? "t-input" : "t-constant" });
      add("text", { x, y: y + 5, class: "t-symbol" }, node.label);
      if (node.kind === "input" && bwd === n && n > 0)
        add("text", { x, y: y + 30, class: "t-grad total", "data-total-of": node.id }, fmt(t.gradients[node.id]));
    }
  }
  explain();
  $("fwd").disabled = fwd >= n;
  $("bwd").disabled = fwd < n || bwd >= n;
}

function chainIndex(step, slot) {
  // the chain lists the inputs that get a gradient, in order: which entry is this slot's?
  let k = -1;
  for (let s = 0; s <= slot; s++) if (step.local[s] !== null) k++;
  return step.local[slot] === null ? -1 : k;
}

function explain() {
  const t = trace.trace, steps = t.steps, n = steps.length, box = $("trace-explain");
  const lines = [];
  if (fwd === 0) lines.push(`<p>Forward: click <b>forward</b> to compute one node at a time (values in green above the edges).</p>`);
  if (fwd > 0 && bwd === 0) {
    const s = steps[fwd - 1];
    lines.push(`<p><b>${escapeHtml(s.name)} = ${escapeHtml(s.formula)}</b> = ${escapeHtml(s.expression)} = <span class="value">${fmt(s.value)}</span></p>`);
    if (fwd === n) lines.push(`<p>Output ${escapeHtml(t.output_name)} = ${fmt(t.output)}. Now click <b>backward</b>: each node multiplies the gradient arriving from above (upstream) by its local gradient.</p>`);
  }
  if (bwd > 0) {
    const s = steps[n - bwd];
    lines.push(`<p><b>${escapeHtml(s.name)} = ${escapeHtml(s.formula)}</b> receives upstream <span class="grad">${fmt(s.upstream)}</span>` +
      (s.pattern ? ` &mdash; <i>${escapeHtml(s.pattern)}</i>` : "") + `</p><table class="chain"><tr><th>to</th><th>local gradient</th><th>with numbers</th><th>upstream &times; local = downstream</th></tr>` +
      s.chain.map((c) => `<tr><td>${escapeHtml(c.input)}</td><td>d${escapeHtml(s.name)}/d${escapeHtml(c.input)} = ${escapeHtml(c.formula)}</td>` +
        `<td>${escapeHtml(c.substituted)}</td><td class="product">${escapeHtml(c.product)}</td></tr>`).join("") + `</table>`);
    if (s.nondifferentiable) lines.push(`<p class="note">${escapeHtml(s.nondifferentiable)}</p>`);
    if (bwd === n) {
      lines.push(`<p>Gradients of ${escapeHtml(t.output_name)}: ` + Object.entries(t.gradients).map(([k, v]) => `d${escapeHtml(t.output_name)}/d${escapeHtml(k)} = <span class="grad" data-gradient="${escapeHtml(k)}">${fmt(v)}</span>`).join(", ") + `</p>`);
      for (const [name, sum] of Object.entries(t.sums)) lines.push(`<p><i>copy adds</i>: ${escapeHtml(name)} is used ${sum.terms.length} times, its gradient is the sum ${escapeHtml(sum.text)}</p>`);
    }
  }
  box.innerHTML = lines.join("");
}

// --- CSV upload ----------------------------------------------------------------------------
function onColumns(m) {
  for (const id of ["csv-x", "csv-y", "csv-target"]) {
    const select = $(id); select.innerHTML = "";
    for (const name of m.columns) select.add(new Option(name, name));
  }
  $("csv-x").value = m.columns[0]; $("csv-y").value = m.columns[1]; $("csv-target").value = m.columns.at(-1);
  $("csv-columns").hidden = false;
}

function uploadFile(file) {
  const limit = hello.limits.upload_bytes;
  if (file.size > limit) { showMessage(`${file.name} has ${file.size} bytes; the limit is ${limit}`); return; }
  const reader = new FileReader();
  reader.onload = () => send({ type: "upload", name: file.name, text: reader.result });
  reader.readAsText(file);
}

// --- wiring --------------------------------------------------------------------------------
function wire() {
  $("play").onclick = () => send({ type: playing ? "pause" : "play" });
  $("step").onclick = () => send({ type: "step" });
  $("reset").onclick = () => send({ type: "reset" });
  $("regenerate").onclick = () => send({ type: "regenerate" });
  $("dataset").onchange = (e) => configure({ dataset: e.target.value });
  $("noise").onchange = (e) => configure({ noise: Number(e.target.value) });
  $("noise").oninput = (e) => { $("noise-value").textContent = e.target.value; };
  $("train_ratio").onchange = (e) => configure({ train_ratio: Number(e.target.value) });
  for (const id of ["points", "batch", "steps_per_frame"]) $(id).onchange = (e) => configure({ [id]: Number(e.target.value) });
  for (const id of ["lr", "reg_rate"]) $(id).onchange = (e) => configure({ [id]: Number(e.target.value) });
  for (const id of ["optimizer", "regularization"]) $(id).onchange = (e) => configure({ [id]: e.target.value });
  $("add-layer").onclick = addLayer;
  $("remove-layer").onclick = removeLayer;
  $("show-test").onchange = () => frame && drawFrame(frame);
  $("csv-file").onchange = (e) => e.target.files[0] && uploadFile(e.target.files[0]);
  $("csv-use").onclick = () => send({ type: "columns", x: $("csv-x").value, y: $("csv-y").value, target: $("csv-target").value });
  $("preset").onchange = (e) => choosePreset(e.target.value);
  $("trace-go").onclick = () => requestTrace();
  $("expr").onkeydown = (e) => { if (e.key === "Enter") requestTrace(); };
  $("gates").onchange = () => requestTrace();
  $("fwd").onclick = () => { if (trace && fwd < trace.trace.steps.length) { fwd++; drawTrace(); } };
  $("bwd").onclick = () => { if (trace && fwd === trace.trace.steps.length && bwd < fwd) { bwd++; drawTrace(); } };
  $("trace-restart").onclick = () => { if (trace) { fwd = 0; bwd = 0; drawTrace(); } };
  $("sample-load").onclick = () => send({ type: "sample", index: Number($("sample-index").value) });
  $("sample-next").onclick = () => { if (walk && walkStage < walk.stages.length - 1) { walkStage++; showWalkStage(); } };
  $("surface").onclick = (e) => pickSample(e);
}

function pickSample(event) {
  if (!state) return;
  const canvas = $("surface"), rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * canvas.width / rect.width, py = (event.clientY - rect.top) * canvas.height / rect.height;
  let best = -1, bestDistance = 100;  // within 10 pixels
  state.train.forEach((row, k) => {
    const [x, y] = toPixel(canvas, row[0], row[1]), d = (x - px) ** 2 + (y - py) ** 2;
    if (d < bestDistance) { best = k; bestDistance = d; }
  });
  if (best >= 0) { $("sample-index").value = best; send({ type: "sample", index: best }); }
}

wire();
connect();
