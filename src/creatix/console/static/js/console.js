// The console's shared helpers: the API client, DOM building, forms and their errors,
// formatting and charts. Pages import what they use; nothing here touches the network
// except api(), and only this server's origin.

const sessionNode = document.getElementById("console-session");
export const session = sessionNode ? JSON.parse(sessionNode.textContent) : null;
const ACCOUNT_KEY = "creatix.account";

/** The account the pages show: the one chosen before, else the first membership. */
export function accountId() {
  const accounts = session ? session.accounts : [];
  const chosen = localStorage.getItem(ACCOUNT_KEY);
  const found = accounts.find((a) => a.id === chosen) || accounts[0];
  return found ? found.id : null;
}

export function chooseAccount(id) {
  localStorage.setItem(ACCOUNT_KEY, id);
}

export class ApiError extends Error {
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

const SESSION_ENDED = "session_ended";
const sessionEnded = (error) => error instanceof ApiError && error.code === SESSION_ENDED;

export function signInAgain() {
  const here = location.pathname + location.search + location.hash;
  location.assign(`/console/sign-in?next=${encodeURIComponent(here)}`);
}

/** Calls this server's API with the session cookie and CSRF token; `body` is sent as JSON,
 * or as it is when it is a file (FormData, Blob). An error answer becomes an ApiError
 * carrying the API's own code, message and param. */
export async function api(method, path, body, { headers = {}, raw = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (session && method !== "GET") init.headers["X-CSRF-Token"] = session.csrf_token;
  if (body instanceof FormData || body instanceof Blob) {
    init.body = body; // a file: multipart, or raw with its Content-Type given in `headers`
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection and try again.", null);
  }
  if (response.status === 401 && session) {
    signInAgain();
    throw new ApiError(401, SESSION_ENDED, "Your session ended. Signing in again…", null);
  }
  if (!response.ok) {
    let error = {};
    try {
      const payload = await response.json();
      error = payload.error || payload;
    } catch (_) {
      /* not JSON: keep the status line */
    }
    throw new ApiError(response.status, error.code || String(response.status),
      error.message || response.statusText || "The request failed.", error.param || null);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** `error`, shown beside `param` rather than the field the API named (a file control's
 * own name, where the API names the upload's `file`). */
export function asField(error, param) {
  if (!(error instanceof ApiError) || error.code === SESSION_ENDED) return error;
  return new ApiError(error.status, error.code, error.message, param);
}

export const accountPath = (suffix = "") => `/api/account/${encodeURIComponent(accountId())}${suffix}`;

// -- DOM -------------------------------------------------------------------------------------

/** h("tag.class", {attr: value, on: {click: fn}}, ...children): an element; strings are text,
 * never HTML. */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "value") node.value = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const view = () => document.getElementById("view");

export function render(...nodes) {
  const target = view();
  target.replaceChildren();
  append(target, nodes);
}

export function problem(error) {
  return h("p.notice.bad", { role: "alert" }, error instanceof ApiError ? error.message : String(error));
}

/** Runs a page's loader, showing its error in place of the page. */
export async function load(fn) {
  try {
    await fn();
  } catch (error) {
    if (!sessionEnded(error)) render(problem(error));
  }
}

// -- forms -----------------------------------------------------------------------------------

let fieldCounter = 0;

/** A labelled control with a place for its error; `control` gets the id and the name. */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCounter}`;
  control.id = id;
  const error = h("p.field-error", { id: `${id}-error`, hidden: true });
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h("div.field", h("label", { for: id }, label), control,
    hint ? h("p.hint", { id: `${id}-hint` }, hint) : null, error);
}

export function input(name, attrs = {}) {
  return h("input", { type: "text", name, ...attrs });
}

export function select(name, options, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map((o) => (typeof o === "string" ? h("option", { value: o }, o) : h("option", { value: o.value, selected: o.selected }, o.label))));
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const node of form.querySelectorAll(".field-error, .form-error")) {
    node.hidden = true;
    node.textContent = "";
  }
}

function controlFor(form, param) {
  if (!param) return null;
  const names = [param, param.split(".").pop(), param.replace(/\[\d+\]/g, "").split(".").pop()];
  for (const name of names) {
    const found = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (found) return found;
  }
  return null;
}

/** Shows an API error beside the field its `param` names, else at the top of the form. */
export function showError(form, error) {
  const message = error instanceof ApiError ? error.message : String(error);
  const control = error instanceof ApiError ? controlFor(form, error.param) : null;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    const slot = document.getElementById(`${control.id}-error`);
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
      control.focus();
      return;
    }
  }
  let slot = form.querySelector(".form-error");
  if (!slot) {
    slot = h("p.form-error", { role: "alert" });
    form.prepend(slot);
  }
  slot.textContent = message;
  slot.hidden = false;
}

/** Wires a form: on submit, clears errors, calls `fn(form)`, shows its ApiError in place. */
export function onSubmit(form, fn) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await fn(form);
    } catch (error) {
      if (!sessionEnded(error)) showError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

export function value(form, name) {
  const control = form.elements.namedItem(name);
  if (!control) return null;
  if (control.type === "checkbox") return control.checked;
  const text = control.value.trim();
  return text === "" ? null : text;
}

export function numberValue(form, name) {
  const text = value(form, name);
  return text === null ? null : Number(text);
}

// -- formatting --------------------------------------------------------------------------------

const numberFormat = new Intl.NumberFormat("en");
export const num = (n) => (n === null || n === undefined ? "—" : numberFormat.format(n));
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString("en", { dateStyle: "medium", timeStyle: "short" });
}
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
export function seconds(start, end) {
  if (!start || !end) return "—";
  return `${((new Date(end) - new Date(start)) / 1000).toFixed(2)} s`;
}
export const badge = (text) => h(`span.badge.${String(text).replace(/[^a-z_-]/gi, "")}`, text);

export function table(columns, rows, caption) {
  return h("div.table-wrap", h("table",
    caption ? h("caption.visually-hidden", caption) : null,
    h("thead", h("tr", columns.map((c) => h(c.num ? "th.num" : "th", { scope: "col" }, c.label)))),
    h("tbody", rows.length ? rows.map((row) => h("tr", columns.map((c) => h(c.num ? "td.num" : "td", c.cell(row))))) :
      h("tr", h("td", { colspan: columns.length }, h("span.muted", "Nothing yet."))))));
}

export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (_) {
      button.textContent = "Select and copy by hand";
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
  return button;
}

// -- charts ------------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A bar chart of `points` ({label, value}) as SVG, with a text title for screen readers. */
export function barChart(points, title) {
  const width = 720, height = 200, pad = 28, max = Math.max(1, ...points.map((p) => p.value));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  svg.append(s("line", { x1: pad, y1: height - pad, x2: width, y2: height - pad }));
  svg.append(s("text", { x: 0, y: 12 }, num(max)));
  const step = (width - pad) / Math.max(1, points.length);
  points.forEach((p, i) => {
    const barHeight = ((height - 2 * pad) * p.value) / max;
    const bar = s("rect", { class: "bar", x: pad + i * step + 1, y: height - pad - barHeight, width: Math.max(1, step - 2), height: barHeight });
    bar.append(s("title", {}, `${p.label}: ${num(p.value)}`));
    svg.append(bar);
    if (points.length <= 12 || i % Math.ceil(points.length / 8) === 0) {
      svg.append(s("text", { x: pad + i * step, y: height - 8 }, p.label));
    }
  });
  return svg;
}

/** Horizontal bars for a few named totals ({label, value}). */
export function bars(items) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return h("ul.bars", items.map((item) => {
    const fill = h("span.fill");
    fill.style.width = `${(100 * item.value) / max}%`; // CSSOM, which the CSP allows
    return h("li", h("span", item.label), h("span.track", { "aria-hidden": "true" }, fill), h("span.num", num(item.value)));
  }));
}
