// "Try the model": the project's exported model run in the visitor's browser by ONNX Runtime
// Web (single-threaded WebAssembly, served from the site's own assets). Loaded only when the
// visitor opens it (portfolio.js imports this module on the button's click).
//
// browser.json (written by `portfolio run`, checked by `portfolio build`) gives the inputs
// and up to 20 test examples with the outputs the project's own model gives for them. Every
// string in it is the project's data: it goes into the page as text, never as HTML.

let runtime = null;

function loadRuntime(base) {
  if (!runtime) {
    runtime = import(base + "ort.wasm.min.mjs").then((ort) => {
      ort.env.wasm.numThreads = 1; // no cross-origin isolation on GitHub Pages
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = base;
      return ort;
    });
  }
  return runtime;
}

function el(tag, props, children) {
  const node = document.createElement(tag);
  Object.entries(props || {}).forEach(([key, value]) => {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  });
  (children || []).forEach((child) => node.append(child));
  return node;
}

function format(value) {
  if (!Number.isFinite(value)) return "—";
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e6 || size < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

// What stops a value from being fed to the model: the graph takes 32-bit floats.
const FLOAT32_MAX = 3.4e38;
const DOMAIN = { "non-negative": [0, "0 or more"], positive: [0, "more than 0"] };

// `required`: a series' values (the graph fills a missing tabular value as the imputer does).
function valueProblem(input, name, domain, required) {
  if (input.validity && input.validity.badInput) return `${name}: not a number`;
  const text = input.value.trim();
  if (text === "") return required ? `${name}: empty` : null;
  const value = Number(text);
  if (!Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX) {
    return `${name}: enter a number of at most 3.4e38 in size`;
  }
  const bound = DOMAIN[domain];
  if (bound && (value < bound[0] || (domain === "positive" && value === 0))) {
    return `${name}: the model takes values of ${bound[1]}`;
  }
  return null;
}

function problemNote(text) {
  return el("p", { class: "pf-try-problem", text: `Not predicted. ${text}.` });
}

function finite(output) {
  return output.every(Number.isFinite);
}

const NO_NUMBER = "the model gives no number for these values (they lie far outside its data)";

// One model: the ONNX session and how each kind of example becomes its input tensor.
class Model {
  constructor(ort, session, spec) {
    this.ort = ort;
    this.session = session;
    this.spec = spec;
  }

  // The graph's input for one example of browser.json or of the form.
  encode(example) {
    const spec = this.spec;
    if (spec.kind.startsWith("tabular")) {
      return spec.slots.map((slot) => {
        const value = example.values[slot.field];
        const missing = value === null || value === undefined || String(value).trim() === "";
        if (slot.category !== undefined) {
          const text = missing ? slot.fill : String(value);
          return text === slot.category ? 1 : 0;
        }
        if (missing) return NaN; // the graph fills it as the imputer does
        return typeof value === "number" ? value : Number(String(value).trim());
      });
    }
    if (spec.kind === "image-classification") return example.pixels;
    return example.values.map((v) => (v === null || String(v).trim() === "" ? NaN : Number(v)));
  }

  dims(count) {
    const spec = this.spec;
    if (spec.kind === "image-classification") {
      return [count, spec.height, spec.width, spec.channels];
    }
    if (spec.kind.startsWith("tabular")) return [count, spec.slots.length];
    return [count, spec.history];
  }

  // The outputs for a list of examples: one array per example.
  async predict(examples) {
    const rows = examples.map((e) => this.encode(e));
    const width = rows.length ? rows[0].length : 0;
    const data = new Float32Array(rows.length * width);
    rows.forEach((row, i) => data.set(row, i * width));
    const input = new this.ort.Tensor("float32", data, this.dims(rows.length));
    const result = await this.session.run({ [this.session.inputNames[0]]: input });
    const out = Array.from(result[this.session.outputNames[0]].data);
    const size = out.length / rows.length;
    return rows.map((_, i) => out.slice(i * size, (i + 1) * size));
  }

  // Each browser.json example against the output the project's model gave for it.
  async parity() {
    const got = await this.predict(this.spec.examples);
    return this.spec.examples.map((e, i) => ({ expected: e.expected, got: got[i] }));
  }
}

function probabilities(spec, probs, actual) {
  const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a]);
  const best = order[0];
  const shown = order.slice(0, Math.min(5, order.length));
  const list = el("ul", { class: "pf-try-probs", "aria-label": "Class probabilities" });
  shown.forEach((i) => {
    const bar = el("span", { class: "pf-try-bar" });
    bar.style.width = (100 * Math.max(0, Math.min(1, probs[i]))).toFixed(1) + "%";
    list.append(el("li", {}, [
      el("span", { class: "pf-try-label", text: spec.classes[i] }),
      el("span", { class: "pf-try-track" }, [bar]),
      el("span", { class: "pf-try-value", text: (100 * probs[i]).toFixed(1) + " %" }),
    ]));
  });
  const lead = el("p", {}, [
    "Prediction: ", el("strong", { text: spec.classes[best] }),
    actual === null || actual === undefined ? "" : ` (actual: ${actual})`,
  ]);
  return [lead, list];
}

function exampleLabel(spec, example, index) {
  if (spec.kind === "time-series-forecasting") {
    const when = example.target_date || `step ${index + 1}`;
    return example.actual === null || example.actual === undefined
      ? `${when}: the next step after the data`
      : `${when} (actual ${format(example.actual)})`;
  }
  const actual = example.actual === null || example.actual === undefined
    ? "" : ` (actual: ${typeof example.actual === "number" ? format(example.actual) : example.actual})`;
  return `Test ${spec.kind === "image-classification" ? "image" : "row"} ${index + 1}${actual}`;
}

function exampleChooser(spec, onChoose, label) {
  const select = el("select", {});
  spec.examples.forEach((example, i) => {
    select.append(el("option", { value: String(i), text: exampleLabel(spec, example, i) }));
  });
  select.addEventListener("change", () => onChoose(Number(select.value)));
  return [el("label", { class: "pf-try-choose" }, [el("span", { text: label }), select]), select];
}

function tabular(model, root, out) {
  const spec = model.spec;
  const inputs = Object.create(null); // a field may be named __proto__
  let current = 0;
  const form = el("form", { class: "pf-try-form" });
  form.addEventListener("submit", (event) => event.preventDefault());
  spec.fields.forEach((field) => {
    let input;
    if (field.categories) {
      input = el("select", {}, [el("option", { value: "", text: "(missing)" })]);
      field.categories.forEach((c) => input.append(el("option", { value: c, text: c })));
    } else {
      input = el("input", { type: "number", step: "any", inputmode: "decimal" });
    }
    inputs[field.name] = input;
    form.append(el("label", {}, [el("span", { text: field.name }), input]));
  });
  const [chooser, select] = exampleChooser(spec, (i) => { current = i; fill(i); run(); },
    "Start from");
  function fill(i) {
    const values = spec.examples[i].values;
    spec.fields.forEach((field) => {
      const value = values[field.name];
      inputs[field.name].value = value === null || value === undefined ? "" : String(value);
    });
  }
  function edited() {
    return spec.fields.some((field) => {
      const value = spec.examples[current].values[field.name];
      return inputs[field.name].value !== (value === null || value === undefined ? "" : String(value));
    });
  }
  async function run() {
    const values = Object.create(null);
    spec.fields.forEach((field) => { values[field.name] = inputs[field.name].value; });
    const wrong = spec.fields.filter((field) => !field.categories)
      .map((field) => valueProblem(inputs[field.name], field.name)).find(Boolean);
    if (wrong) { out.replaceChildren(problemNote(wrong)); return; }
    const [output] = await model.predict([{ values }]);
    if (!finite(output)) { out.replaceChildren(problemNote(NO_NUMBER)); return; }
    const actual = edited() ? null : spec.examples[current].actual;
    if (spec.kind === "tabular-classification") {
      out.replaceChildren(...probabilities(spec, output, actual));
    } else {
      out.replaceChildren(el("p", {}, [
        `Predicted ${spec.target}: `, el("strong", { text: format(output[0]) }),
        actual === null || actual === undefined ? "" : ` (actual: ${format(actual)})`,
      ]));
    }
  }
  form.addEventListener("input", () => { select.value = String(current); run(); });
  root.append(chooser, out, form);
  fill(0);
  return run();
}

function paint(canvas, pixels, spec) {
  const { width, height, channels } = spec;
  const ink = spec.ink > 0 ? spec.ink : 1;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[p * channels + (channels === 1 ? 0 : c)] / ink;
      image.data[p * 4 + c] = Math.round(255 * Math.max(0, Math.min(1, v)));
    }
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function images(model, root, out) {
  const spec = model.spec;
  const gallery = el("div", { class: "pf-try-gallery", role: "group",
    "aria-label": "Test images" });
  const buttons = spec.examples.map((example, i) => {
    const canvas = el("canvas", { width: String(spec.width), height: String(spec.height) });
    paint(canvas, example.pixels, spec);
    const button = el("button", { type: "button", class: "pf-try-image",
      "aria-label": exampleLabel(spec, example, i), "aria-pressed": "false" }, [canvas]);
    button.addEventListener("click", () => choose(i));
    gallery.append(button);
    return button;
  });
  async function show(pixels, actual) {
    const [probs] = await model.predict([{ pixels }]);
    out.replaceChildren(...probabilities(spec, probs, actual));
  }
  function choose(i) {
    buttons.forEach((b, k) => b.setAttribute("aria-pressed", String(k === i)));
    return show(spec.examples[i].pixels, spec.examples[i].actual);
  }
  root.append(el("p", { class: "pf-try-hint", text: "Pick a test image:" }), gallery, out);
  if (spec.draw) root.append(drawing(spec, (pixels) => {
    buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
    return show(pixels, null);
  }, () => {
    buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
    out.replaceChildren(el("p", { text: "Draw on the pad, or pick a test image." }));
  }));
  return choose(0);
}

// A pad to draw on, on the test images' background, averaged down to the network's pixels
// (as the 8 x 8 digits were made, by counting the ink in each block of a finer drawing).
function drawing(spec, onDraw, onClear) {
  const size = 192;
  const pad = el("canvas", { width: String(size), height: String(size), class: "pf-try-pad",
    "aria-label": "Drawing pad: draw with a mouse, finger or pen" });
  const context = pad.getContext("2d", { willReadFrequently: true });
  const light = spec.background === "light"; // dark ink on a light ground, as the images are
  function clear() {
    context.fillStyle = light ? "#fff" : "#000";
    context.fillRect(0, 0, size, size);
  }
  clear();
  context.strokeStyle = light ? "#000" : "#fff";
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = Math.max(4, 1.6 * size / Math.max(spec.width, spec.height));
  let last = null;
  function point(event) {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * size / box.width, (event.clientY - box.top) * size / box.height];
  }
  function pixels() {
    const data = context.getImageData(0, 0, size, size).data;
    const out = new Array(spec.width * spec.height).fill(0);
    const cw = size / spec.width, ch = size / spec.height;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const cell = Math.floor(y / ch) * spec.width + Math.floor(x / cw);
        out[cell] += data[(y * size + x) * 4] / 255;
      }
    }
    const ink = spec.ink > 0 ? spec.ink : 1;
    return out.map((v) => Math.round(16 * ink * v / (cw * ch)) / 16);
  }
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    last = point(event);
    event.preventDefault();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = point(event);
    context.beginPath();
    context.moveTo(last[0], last[1]);
    context.lineTo(next[0], next[1]);
    context.stroke();
    last = next;
  });
  function end() {
    if (last) { last = null; onDraw(pixels()); }
  }
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  const reset = el("button", { type: "button", class: "md-button", text: "Clear the pad" });
  reset.addEventListener("click", () => { clear(); onClear(); });
  return el("div", { class: "pf-try-draw" }, [
    el("p", { class: "pf-try-hint", text: "Or draw one (the prediction follows each stroke):" }),
    pad, reset]);
}

function series(model, root, out) {
  const spec = model.spec;
  const inputs = [];
  const grid = el("form", { class: "pf-try-form pf-try-series" });
  grid.addEventListener("submit", (event) => event.preventDefault());
  for (let i = 0; i < spec.history; i++) {
    const input = el("input", { type: "number", step: "any", inputmode: "decimal" });
    const label = el("span", {});
    inputs.push([input, label]);
    grid.append(el("label", {}, [label, input]));
  }
  let current = spec.examples.length - 1;
  const [chooser, select] = exampleChooser(spec, (i) => { current = i; fill(i); run(); },
    "Forecast for");
  select.value = String(current);
  function fill(i) {
    const example = spec.examples[i];
    inputs.forEach(([input, label], k) => {
      input.value = String(example.values[k]);
      label.textContent = example.dates ? example.dates[k] : `value ${k + 1}`;
    });
  }
  async function run() {
    const values = inputs.map(([input]) => input.value);
    const wrong = inputs.map(([input, label]) =>
      valueProblem(input, label.textContent, spec.domain, true)).find(Boolean);
    if (wrong) { out.replaceChildren(problemNote(wrong)); return; }
    const [forecast] = await model.predict([{ values }]);
    if (!finite(forecast)) { out.replaceChildren(problemNote(NO_NUMBER)); return; }
    const example = spec.examples[current];
    const edited = values.some((v, k) => v !== String(example.values[k]));
    const actual = edited ? null : example.actual;
    out.replaceChildren(el("p", {}, [
      `Forecast of the ${spec.name} for ${example.target_date || "the next step"}: `,
      el("strong", { text: format(forecast[0]) }),
      actual === null || actual === undefined ? "" : ` (actual: ${format(actual)})`,
    ]), chart(values.map(Number), forecast[0], actual));
  }
  grid.addEventListener("input", run);
  root.append(chooser, out, el("p", { class: "pf-try-hint", text: "From the values before it:" }),
    grid);
  fill(current);
  return run();
}

// The history as a line, the forecast as a dot after it (and the actual value, where known).
function chart(values, forecast, actual) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 320, height = 120, margin = 8;
  const all = values.concat([forecast], actual === null || actual === undefined ? [] : [actual])
    .filter(Number.isFinite);
  const low = Math.min(...all), high = Math.max(...all);
  const x = (i) => margin + i * (width - 2 * margin) / values.length;
  const y = (v) => height - margin - (high > low ? (v - low) / (high - low) : 0.5) * (height - 2 * margin);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "pf-try-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "The values before it as a line, the forecast as a dot");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${x(i)},${y(v)}`).join(" "));
  svg.append(line);
  function dot(v, name) {
    if (!Number.isFinite(v)) return;
    const circle = document.createElementNS(ns, "circle");
    circle.setAttribute("cx", x(values.length));
    circle.setAttribute("cy", y(v));
    circle.setAttribute("r", "4");
    circle.setAttribute("class", name);
    svg.append(circle);
  }
  dot(actual, "pf-try-actual");
  dot(forecast, "pf-try-forecast");
  return svg;
}

export async function open(root, runtimeBase) {
  const status = root.querySelector(".pf-try-status");
  const spec = await fetch(new URL(root.dataset.spec, location.href)).then((r) => {
    if (!r.ok) throw new Error(`browser.json: HTTP ${r.status}`);
    return r.json();
  });
  const ort = await loadRuntime(runtimeBase);
  const session = await ort.InferenceSession.create(
    new URL(root.dataset.model, location.href).href, { executionProviders: ["wasm"] });
  const model = new Model(ort, session, spec);
  const body = el("div", { class: "pf-try-body" });
  const out = el("div", { class: "pf-try-out", "aria-live": "polite" });
  root.append(body);
  if (spec.kind.startsWith("tabular")) await tabular(model, body, out);
  else if (spec.kind === "image-classification") await images(model, body, out);
  else await series(model, body, out);
  if (status) status.textContent = "";
  root.pfModel = model; // for the site's browser tests: model.parity()
  return model;
}
