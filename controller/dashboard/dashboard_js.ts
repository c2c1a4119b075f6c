/**
 * The dashboard's script (decisions.md §3.10): one plain ES module, no framework and no
 * build step, embedded as a string so the controller serves it without a filesystem (`deno
 * serve`, Deploy). Text from the API (backend ids, keys, drone names, log lines) only ever
 * becomes DOM text nodes (`h()` below); nothing is parsed as HTML, and the page's CSP allows
 * no inline script or style.
 *
 * The API key lives in sessionStorage (gone with the tab) and is sent as `Authorization:
 * Bearer`; streams that need it are read with `fetch`, since EventSource cannot send headers.
 * The source avoids backticks and dollar-brace so it can sit in this template literal.
 */
import { BackendStatus, STATUS_RANK } from "../../shared/mod.ts";

export const DASHBOARD_JS = String.raw`// Plane dashboard (controller/dashboard/)
const STATUSES = ${JSON.stringify(BackendStatus.options)};
const RANK = ${JSON.stringify(STATUS_RANK)};
const KEY_ITEM = "plane.dashboard.apiKey";
const CLUSTER_ITEM = "plane.dashboard.cluster";
const POLL_MS = 5000;

const main = document.getElementById("main");
const announcer = document.getElementById("announce");
const nav = document.getElementById("nav");
const clusterSelect = document.getElementById("cluster");
const logoutButton = document.getElementById("logout");

/** Builds an element; string children become text nodes, never markup. */
function h(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function announce(text) {
  announcer.textContent = text;
}

function apiKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

function authHeaders(key) {
  const k = key === undefined ? apiKey() : key;
  return k ? { authorization: "Bearer " + k } : {};
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
  }
}

async function api(path, init) {
  const options = init || {};
  const response = await fetch(path, {
    ...options,
    headers: { ...authHeaders(options.key), ...(options.headers || {}) },
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    if (response.status === 401 && options.key === undefined) {
      // A stored key that stopped working says why; a first visit just asks for one.
      showLogin(apiKey() ? body && body.message : "");
    }
    throw new ApiError(response.status, body);
  }
  return body;
}

/**
 * Reads a Server-Sent Events stream with fetch (so the bearer goes along), calling onEvent with
 * each event's parsed JSON data and onComment with each comment. Resolves when the stream ends.
 */
async function readSse(path, signal, onEvent, onComment) {
  const response = await fetch(path, { headers: authHeaders(), signal });
  if (!response.ok || !response.body) {
    let message = "HTTP " + response.status;
    try {
      message = (await response.json()).message || message;
    } catch { /* not JSON */ }
    if (response.status === 401) showLogin(apiKey() ? message : "");
    throw new ApiError(response.status, { message });
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          if (onComment) onComment(line.slice(1).trim());
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      if (data.length > 0) {
        try {
          onEvent(JSON.parse(data.join("\n")));
        } catch { /* not JSON: ignore */ }
      }
    }
  }
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return seconds + " s ago";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
  return Math.floor(seconds / 3600) + " h ago";
}

function time(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toLocaleString();
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function percent(p) {
  return p === null || p === undefined ? "—" : p.toFixed(1) + " %";
}

function statusBadge(status) {
  return h("span", { class: "badge status-" + status, "data-status": status }, status);
}

function keyText(key) {
  if (!key) return "—";
  return (key.namespace ? key.namespace + "/" : "") + key.name + (key.tag ? ":" + key.tag : "");
}

/** The current route from the hash: #/cluster, #/backends?..., #/backend/ID. */
function route() {
  const hash = location.hash.replace(/^#/, "") || "/cluster";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "cluster", arg: parts[1] || null, query: new URLSearchParams(query || "") };
}

let pageAbort = null;
let clusters = [];

function cluster() {
  return clusterSelect.value;
}

function setNav(current) {
  nav.hidden = false;
  logoutButton.hidden = !apiKey();
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function render(...children) {
  main.replaceChildren(...children);
}

function showError(err) {
  if (err && err.name === "AbortError") return;
  if (err instanceof ApiError && err.status === 401) return;
  render(h("p", { role: "alert", class: "error" }, "Error: " + (err && err.message)));
}

function showLogin(message) {
  if (pageAbort) pageAbort.abort();
  pageAbort = null;
  sessionStorage.removeItem(KEY_ITEM);
  nav.hidden = true;
  document.title = "Log in · Plane dashboard";
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    required: true,
  });
  const error = h("p", { id: "login-error", role: "alert", class: "error" }, message || "");
  const form = h(
    "form",
    { id: "login", "aria-labelledby": "login-title", onsubmit: login },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", {}, "This controller asks for an API key (its --api-key / PLANE_API_KEYS)."),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Log in"),
    error,
  );
  async function login(event) {
    event.preventDefault();
    const key = input.value.trim();
    try {
      await api("/ctrl/clusters", { key });
    } catch (err) {
      error.textContent = err.status === 401
        ? "That key is not accepted."
        : "Cannot reach the controller: " + err.message;
      return;
    }
    sessionStorage.setItem(KEY_ITEM, key);
    await start();
  }
  render(form);
  input.focus();
}

async function start() {
  let list;
  try {
    list = await api("/ctrl/clusters");
  } catch (err) {
    return showError(err);
  }
  clusters = list.clusters;
  const chosen = sessionStorage.getItem(CLUSTER_ITEM);
  const selected = clusters.includes(chosen) ? chosen : list.default_cluster || clusters[0] || "";
  clusterSelect.replaceChildren(...clusters.map((c) => h("option", { value: c }, c)));
  clusterSelect.value = selected;
  clusterSelect.disabled = clusters.length < 2;
  showPage();
}

function showPage() {
  if (pageAbort) pageAbort.abort();
  pageAbort = new AbortController();
  const signal = pageAbort.signal;
  const r = route();
  if (r.page === "backends") {
    setNav("backends");
    backendsPage(r.query, signal).catch(showError);
  } else if (r.page === "backend" && r.arg) {
    setNav("backends");
    backendPage(r.arg, signal).catch(showError);
  } else {
    setNav("cluster");
    clusterPage(signal).catch(showError);
  }
}

/** Calls fn now and every POLL_MS until signal aborts. */
function poll(signal, fn) {
  let timer = null;
  const tick = async () => {
    try {
      await fn();
    } catch (err) {
      showError(err);
      return;
    }
    if (!signal.aborted) timer = setTimeout(tick, POLL_MS);
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  return tick();
}

// ---- Cluster page: drones ----

async function clusterPage(signal) {
  document.title = "Cluster · Plane dashboard";
  const c = cluster();
  if (!c) {
    render(h("h1", {}, "Cluster"), h("p", {}, "No drone or proxy is connected to this controller yet."));
    return;
  }
  const tbody = h("tbody");
  const updated = h("p", { class: "muted", id: "cluster-updated" });
  render(
    h("h1", {}, "Cluster ", h("span", { class: "mono" }, c)),
    h(
      "table",
      { id: "drones" },
      h("caption", {}, "Drones (CPU and memory: sum of their backends' latest samples)"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Drone", "Pool", "State", "Heartbeat", "Backends", "CPU", "Memory", "Action"].map((t) =>
            h("th", { scope: "col" }, t)
          ),
        ),
      ),
      tbody,
    ),
    updated,
  );
  const refresh = async () => {
    const list = await api("/ctrl/c/" + encodeURIComponent(c) + "/drones", { signal });
    if (signal.aborted) return;
    tbody.replaceChildren(...list.drones.map((d) => droneRow(c, d, refresh)));
    if (list.drones.length === 0) {
      tbody.append(h("tr", {}, h("td", { colspan: 8 }, "No drones connected.")));
    }
    updated.textContent = "Updated " + new Date().toLocaleTimeString();
  };
  await poll(signal, refresh);
}

function droneRow(c, d, refresh) {
  const state = !d.ready ? "not ready" : d.draining ? "draining" : "ready";
  const action = d.draining ? "undrain" : "drain";
  const button = h("button", {
    type: "button",
    "data-action": action,
    "aria-label": (d.draining ? "Undrain " : "Drain ") + d.name,
    onclick: async () => {
      button.disabled = true;
      try {
        const base = "/ctrl/c/" + encodeURIComponent(c) + "/d/" + encodeURIComponent(d.name);
        await api(base + "/" + action, { method: "POST" });
        announce("Drone " + d.name + (action === "drain" ? " is draining" : " is undrained"));
        await refresh();
      } catch (err) {
        announce("Could not " + action + " " + d.name + ": " + err.message);
        button.disabled = false;
      }
    },
  }, d.draining ? "Undrain" : "Drain");
  return h(
    "tr",
    { "data-drone": d.name },
    h("th", { scope: "row", class: "mono" }, d.name),
    h("td", {}, d.pool || "(default)"),
    h("td", {}, h("span", { class: "badge state-" + state.replace(" ", "-") }, state)),
    h("td", {}, age(d.last_heartbeat_age)),
    h("td", { class: "num" }, String(d.backend_count)),
    h("td", { class: "num" }, percent(d.cpu_percent)),
    h("td", { class: "num" }, bytes(d.mem_used)),
    h("td", {}, button),
  );
}

// ---- Backends page: filter and live status ----

async function backendsPage(query, signal) {
  document.title = "Backends · Plane dashboard";
  const c = cluster();
  const rows = new Map();
  const statusFilter = h(
    "select",
    { id: "filter-status", name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const keyFilter = h("input", { id: "filter-key", name: "key", type: "search" });
  const droneFilter = h("input", { id: "filter-drone", name: "drone", type: "search" });
  statusFilter.value = query.get("status") || "";
  keyFilter.value = query.get("key") || "";
  droneFilter.value = query.get("drone") || "";
  const tbody = h("tbody");
  const count = h("p", { id: "backend-count", class: "muted", role: "status" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter backends" },
    h("div", {}, h("label", { for: "filter-status" }, "Status"), statusFilter),
    h("div", {}, h("label", { for: "filter-key" }, "Key contains"), keyFilter),
    h("div", {}, h("label", { for: "filter-drone" }, "Drone contains"), droneFilter),
  );
  form.addEventListener("submit", (e) => e.preventDefault());
  render(
    h("h1", {}, "Backends"),
    form,
    count,
    h(
      "table",
      { id: "backends" },
      h("caption", { class: "visually-hidden" }, "Backends, newest first"),
      h(
        "thead",
        {},
        h("tr", {}, ["Backend", "Status", "Key", "Drone", "Created"].map((t) => h("th", { scope: "col" }, t))),
      ),
      tbody,
    ),
  );

  function matches(b) {
    const s = statusFilter.value;
    const k = keyFilter.value.trim().toLowerCase();
    const d = droneFilter.value.trim().toLowerCase();
    return (!s || b.status === s) &&
      (!k || keyText(b.key).toLowerCase().includes(k)) &&
      (!d || b.drone.toLowerCase().includes(d));
  }
  function row(b) {
    return h(
      "tr",
      { "data-backend": b.id },
      h("th", { scope: "row" }, h("a", { href: "#/backend/" + encodeURIComponent(b.id), class: "mono" }, b.id)),
      h("td", {}, statusBadge(b.status)),
      h("td", { class: "mono" }, keyText(b.key)),
      h("td", { class: "mono" }, b.drone),
      h("td", {}, time(b.created_at)),
    );
  }
  function draw() {
    const shown = [...rows.values()].sort((a, b) => b.created_at - a.created_at).filter(matches);
    tbody.replaceChildren(...shown.map(row));
    count.textContent = shown.length + " of " + rows.size + " backends";
  }
  function saveFilters() {
    const q = new URLSearchParams();
    if (statusFilter.value) q.set("status", statusFilter.value);
    if (keyFilter.value) q.set("key", keyFilter.value);
    if (droneFilter.value) q.set("drone", droneFilter.value);
    const text = q.toString();
    history.replaceState(null, "", "#/backends" + (text ? "?" + text : ""));
    draw();
  }
  for (const input of [statusFilter, keyFilter, droneFilter]) input.addEventListener("input", saveFilters);

  if (!c) {
    count.textContent = "No drone or proxy is connected to this controller yet.";
    return;
  }
  // Subscribe first, then list: statuses only move forward, so the higher rank wins either way.
  const pending = [];
  let listed = false;
  async function onStatus(event) {
    if (!listed) return pending.push(event);
    const b = rows.get(event.backend_id);
    if (!b) {
      // A backend created after the listing: fetch it once.
      try {
        const info = await api("/ctrl/b/" + encodeURIComponent(event.backend_id), { signal });
        if (!rows.has(info.id)) rows.set(info.id, info);
        else return onStatus(event);
      } catch {
        return;
      }
      draw();
      announce("Backend " + event.backend_id + " is " + rows.get(event.backend_id).status);
      return;
    }
    if (RANK[event.status] > RANK[b.status]) {
      b.status = event.status;
      draw();
      announce("Backend " + event.backend_id + " is " + event.status);
    }
  }
  const subscribed = new Promise((resolve, reject) => {
    readSse("/ctrl/c/" + encodeURIComponent(c) + "/status-stream", signal, onStatus, (comment) => {
      if (comment === "subscribed") resolve();
    }).then(() => resolve(), reject);
  });
  await subscribed;
  const list = await api("/ctrl/c/" + encodeURIComponent(c) + "/backends?limit=1000", { signal });
  for (const b of list.backends) rows.set(b.id, b);
  listed = true;
  for (const event of pending.splice(0)) await onStatus(event);
  draw();
}

// ---- One backend: history, logs, usage chart, terminate ----

async function backendPage(id, signal) {
  document.title = id + " · Plane dashboard";
  const info = await api("/ctrl/b/" + encodeURIComponent(id), { signal });
  const current = h("span", { id: "current-status" }, statusBadge(info.status));
  const historyList = h("ol", { id: "history", class: "history" });
  const logList = h("ol", { id: "logs", class: "logs", role: "log", "aria-live": "polite", tabindex: 0 });
  const logNote = h("p", { class: "muted", id: "logs-note" }, "Connecting…");
  const chart = h("div", { id: "usage" });
  const soft = h("button", { type: "button", id: "soft-terminate", onclick: () => terminate("soft") }, "Soft terminate");
  const hard = h("button", { type: "button", id: "hard-terminate", class: "danger", onclick: () => terminate("hard") }, "Hard terminate");
  let status = info.status;
  function setStatus(next) {
    status = next;
    current.replaceChildren(statusBadge(next));
    soft.disabled = RANK[next] >= RANK.terminating;
    hard.disabled = RANK[next] >= RANK["hard-terminating"];
  }
  async function terminate(kind) {
    const button = kind === "soft" ? soft : hard;
    button.disabled = true;
    try {
      await api("/ctrl/b/" + encodeURIComponent(id) + "/" + kind + "-terminate", { method: "POST" });
      announce((kind === "soft" ? "Soft" : "Hard") + " terminate sent to " + id);
    } catch (err) {
      announce("Could not terminate " + id + ": " + err.message);
      setStatus(status);
    }
  }
  setStatus(info.status);
  render(
    h("h1", {}, "Backend ", h("span", { class: "mono" }, id)),
    h(
      "section",
      { "aria-labelledby": "summary-title" },
      h("h2", { id: "summary-title", class: "visually-hidden" }, "Summary"),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Status"), h("dd", { role: "status", "aria-live": "polite" }, current),
        h("dt", {}, "Cluster"), h("dd", { class: "mono" }, info.cluster),
        h("dt", {}, "Drone"), h("dd", { class: "mono" }, info.drone),
        h("dt", {}, "Key"), h("dd", { class: "mono" }, keyText(info.key)),
        h("dt", {}, "Created"), h("dd", {}, time(info.created_at)),
        h("dt", {}, "Expires"), h("dd", {}, time(info.expiration_time)),
      ),
      h("div", { class: "actions" }, soft, hard),
    ),
    h(
      "div",
      { class: "columns" },
      h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "Status history"), historyList),
      h("section", { "aria-labelledby": "usage-title" }, h("h2", { id: "usage-title" }, "Resources"), chart),
    ),
    h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Logs"), logNote, logList),
  );

  // History and live status: the public status stream replays every state, then follows.
  const source = new EventSource("/pub/b/" + encodeURIComponent(id) + "/status-stream");
  signal.addEventListener("abort", () => source.close());
  source.onmessage = (message) => {
    let entry;
    try {
      entry = JSON.parse(message.data);
    } catch {
      return;
    }
    const detail = [entry.termination_kind, entry.termination_reason, entry.error].filter(Boolean).join(", ");
    historyList.append(
      h("li", { "data-status": entry.status }, statusBadge(entry.status), " ", time(entry.time), detail ? " (" + detail + ")" : ""),
    );
    if (RANK[entry.status] >= RANK[status]) {
      if (entry.status !== status) announce("Backend " + id + " is " + entry.status);
      setStatus(entry.status);
    }
    if (entry.status === "terminated") source.close();
  };

  readSse("/ctrl/b/" + encodeURIComponent(id) + "/logs", signal, (line) => {
    logList.append(h("li", { class: line.stream }, h("time", {}, new Date(line.time).toLocaleTimeString()), " ", line.text));
    if (logList.children.length > 2000) logList.firstElementChild.remove();
    logNote.textContent = logList.children.length + " lines";
  }, (comment) => {
    if (comment && comment !== "keep-alive") logNote.textContent = comment;
  }).then(() => {
    logNote.textContent = logList.children.length + " lines; the log stream ended";
  }, (err) => {
    if (err.name !== "AbortError") logNote.textContent = "Logs unavailable: " + err.message;
  });
  logNote.textContent = "Waiting for log lines…";

  await poll(signal, async () => {
    const usage = await api("/ctrl/b/" + encodeURIComponent(id) + "/usage", { signal });
    if (!signal.aborted) chart.replaceChildren(...usageCharts(usage.samples));
  });
}

/** Two small line charts (CPU %, memory) as inline SVG, with the numbers as text too. */
function usageCharts(samples) {
  if (samples.length === 0) {
    return [h("p", { class: "muted" }, "No samples yet (drones report every 10 s while the dashboard is open).")];
  }
  const last = samples[samples.length - 1];
  return [
    lineChart("CPU", samples.map((s) => s.cpu_percent), percent(last.cpu_percent), 100),
    lineChart("Memory", samples.map((s) => s.mem_used), bytes(last.mem_used), 0),
  ];
}

function lineChart(title, values, latest, floorMax) {
  const width = 300;
  const height = 60;
  const known = values.filter((v) => v !== null);
  const max = Math.max(floorMax, ...known, 1);
  const step = values.length > 1 ? (width - 4) / (values.length - 1) : 0;
  const points = [];
  const dots = [];
  values.forEach((v, i) => {
    if (v === null) return;
    const x = (values.length > 1 ? 2 + i * step : width - 2).toFixed(1);
    const y = (height - (v / max) * (height - 4) - 2).toFixed(1);
    points.push(x + "," + y);
    dots.push(h("svg:circle", { cx: x, cy: y, r: 2, class: "dot" }));
  });
  const label = title + ": latest " + latest + ", " + values.length + " samples";
  return h(
    "figure",
    { class: "chart" },
    h(
      "svg:svg",
      { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label },
      h("svg:polyline", { points: points.join(" "), fill: "none", class: "line" }),
      dots,
    ),
    h("figcaption", {}, title + ": " + latest),
  );
}

clusterSelect.addEventListener("change", () => {
  sessionStorage.setItem(CLUSTER_ITEM, clusterSelect.value);
  showPage();
});
logoutButton.addEventListener("click", () => {
  sessionStorage.removeItem(KEY_ITEM);
  showLogin("Logged out.");
});
addEventListener("hashchange", () => {
  if (!nav.hidden) showPage();
});
start();
`;
