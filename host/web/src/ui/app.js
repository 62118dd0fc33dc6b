// wasmfed's page: each tab reads one of the node's JSON APIs and draws it. No framework and
// no build step: the node serves this file as it is.
"use strict";

// The APIs sit beside /ui/, under the route prefix the page was served from.
const base = location.pathname.replace(/\/ui\/.*$/, "");
const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);

// Who the browser speaks as: a tenant (X-Scope-OrgID) with its bearer token, and the admin
// token for the plugin API. Kept for this browser tab only.
function identityHeaders(admin) {
  const headers = {};
  const tenant = store.getItem("tenant");
  if (admin) {
    if (store.getItem("adminToken")) headers.Authorization = "Bearer " + store.getItem("adminToken");
    if (tenant) headers["X-Scope-OrgID"] = tenant;
    return headers;
  }
  if (tenant) headers["X-Scope-OrgID"] = tenant;
  if (store.getItem("token")) headers.Authorization = "Bearer " + store.getItem("token");
  return headers;
}

async function api(path, options = {}) {
  const response = await fetch(base + path, { headers: identityHeaders(options.admin) });
  const body = await response.text();
  let json = null;
  try { json = JSON.parse(body); } catch (_) { /* a plain-text answer */ }
  if (!response.ok || (json && json.status === "error")) {
    const reason = json && json.error ? json.error : body.trim() || response.statusText;
    throw new Error(`${path.split("?")[0]}: ${response.status} ${reason}`);
  }
  return json;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node[k] = v; else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function labels(map) {
  if (!map) return el("em", {}, "dropped");
  return el("span", { class: "labels" },
    Object.entries(map).map(([k, v]) => el("span", {}, `${k}="${v}"`)));
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}

function fill(id, ...content) { $(id).replaceChildren(...content); }

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function showError(e) {
  $("error").textContent = e.message;
  $("error").hidden = false;
}

function ago(iso) {
  if (!iso || iso.startsWith("0001-")) return "never";
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  return `${seconds.toFixed(1)}s ago`;
}

const pages = {
  async targets() {
    const { data } = await api("/api/v1/targets");
    const byJob = new Map();
    for (const t of data.activeTargets) {
      if (!byJob.has(t.scrapePool)) byJob.set(t.scrapePool, []);
      byJob.get(t.scrapePool).push(t);
    }
    const sections = [...byJob].map(([job, targets]) => {
      const up = targets.filter((t) => t.health === "up").length;
      return el("div", { class: "job" }, el("h3", {}, `${job} (${up}/${targets.length} up)`),
        table(["Endpoint", "State", "Labels", "Discovered labels", "Last scrape", "Duration", "Error"],
          targets.map((t) => [t.scrapeUrl, el("span", { class: "state-" + t.health }, t.health),
            labels(t.labels), labels(t.discoveredLabels), ago(t.lastScrape),
            `${(t.lastScrapeDuration * 1000).toFixed(1)}ms`, t.lastError])));
    });
    fill("targets-list", ...(sections.length ? sections : [el("p", {}, "No active targets.")]));
    fill("dropped-list", data.droppedTargets.length
      ? table(["Discovered labels"], data.droppedTargets.map((t) => [labels(t.discoveredLabels)]))
      : el("p", {}, "None."));
  },

  async relabel() {
    const { data } = await api("/api/v1/targets");
    const jobs = [...new Set(data.activeTargets.map((t) => t.scrapePool))];
    const select = $("relabel-job");
    const chosen = select.value;
    select.replaceChildren(...jobs.map((j) => el("option", { value: j }, j)));
    if (jobs.includes(chosen)) select.value = chosen;
  },

  async query() {},

  async rules() {
    const { data } = await api("/api/v1/rules");
    fill("rules-list", ...(data.groups.length ? data.groups.map((g) => el("div", {},
      el("h3", {}, `${g.name} (${g.file}, every ${g.interval}s, last took ${(g.evaluationTime * 1000).toFixed(2)}ms)`),
      table(["Rule", "Type", "Health", "Last evaluation", "Error"], g.rules.map((r) => [
        el("pre", {}, r.type === "alerting" ? `alert: ${r.name}\nexpr: ${r.query}` : `record: ${r.name}\nexpr: ${r.query}`),
        r.type, el("span", { class: r.health === "ok" ? "ok" : "err" }, r.health),
        ago(r.lastEvaluation), r.lastError || ""])))) : [el("p", {}, "No rule groups.")]));
  },

  async alerts() {
    const { data } = await api("/api/v1/alerts");
    fill("alerts-list", data.alerts.length
      ? table(["Labels", "State", "Active since", "Value", "Annotations"], data.alerts.map((a) => [
        labels(a.labels), el("span", { class: a.state }, a.state), a.activeAt, a.value,
        labels(a.annotations)]))
      : el("p", {}, "No pending or firing alerts."));
  },

  async plugins() {
    const { data } = await api("/api/v1/plugins", { admin: true });
    fill("plugins-list", table(
      ["Tenant", "Name", "Stage", "World", "sha256", "Generation", "Calls", "Fuel", "Failures", "Swaps", "Shadow"],
      data.plugins.map((p) => [p.tenant, p.name, p.stage, p.world, el("code", {}, p.sha256.slice(0, 16)),
        p.generation, p.calls, p.fuel, Object.entries(p.failures).map(([k, n]) => `${k}: ${n}`).join(", "),
        p.swaps, p.shadow ? el("button", { onclick: () => shadow(p.name) }, "differences") : ""])));
  },

  async config() {
    const { data } = await api("/api/v1/status/config");
    $("config-yaml").textContent = data.yaml;
  },

  async status() {
    const [build, runtime, tsdb] = await Promise.all([api("/api/v1/status/buildinfo"),
      api("/api/v1/status/runtimeinfo"), api("/api/v1/status/tsdb")]);
    const head = tsdb.data.headStats;
    fill("status-info",
      table(["", ""], [["Answers as Prometheus", build.data.version], ["Build", build.data.revision],
        ["Started", runtime.data.startTime], ["Configuration reload", runtime.data.reloadConfigSuccess ? "successful" : "failed"],
        ["Retention", runtime.data.storageRetention], ["Head series", head.numSeries], ["Head chunks", head.chunkCount]]),
      el("h3", {}, "Series by metric name"),
      table(["Name", "Series"], tsdb.data.seriesCountByMetricName.map((s) => [s.name, s.value])));
  },
};

async function shadow(name) {
  try {
    const { data } = await api(`/api/v1/plugins/${encodeURIComponent(name)}/shadow`, { admin: true });
    fill("shadow-result", ...data.shadows.map((s) => el("div", {},
      el("h3", {}, `${name}: candidate ${s.sha256.slice(0, 16)}, ${s.differences} differences in ${s.batches} batches`),
      ...s.examples.map((d) => el("div", { class: "diff" },
        el("div", {}, el("b", {}, "live "), labels(d.live)),
        el("div", {}, el("b", {}, "candidate "), labels(d.candidate)))))));
  } catch (e) { showError(e); }
}

function drawTraces(title, traces, inputKey) {
  return el("div", {}, el("h3", {}, title), traces.map((t) => el("div", { class: "trace" },
    table(["Step", "Labels"], [["input", labels(t[inputKey])],
      ...t.steps.map((s) => [s.plugin, labels(s.labels)])]),
    t.error ? el("p", { class: "error" }, `failed: ${t.error}`) : null,
    t.droppedBy ? el("p", {}, el("b", {}, `dropped by ${t.droppedBy}`)) : null)));
}

$("relabel-form").onsubmit = async (event) => {
  event.preventDefault();
  clearError();
  const params = new URLSearchParams({ job: $("relabel-job").value });
  for (const line of $("relabel-series").value.split("\n")) if (line.trim()) params.append("series", line.trim());
  try {
    const { data } = await api(`/api/v1/relabel?${params}`);
    fill("relabel-result", drawTraces(`Targets of ${data.job}`, data.targets, "discoveredLabels"),
      data.series.length ? drawTraces("Series", data.series, "scrapedLabels") : "");
  } catch (e) { showError(e); }
};

$("query-form").onsubmit = async (event) => {
  event.preventDefault();
  clearError();
  const params = new URLSearchParams({ query: $("query-expr").value });
  try {
    const { data, warnings } = await api(`/api/v1/query?${params}`);
    const r = data.result;
    let content;
    if (data.resultType === "vector") content = table(["Series", "Value"], r.map((s) => [labels(s.metric), s.value[1]]));
    else if (data.resultType === "matrix") content = table(["Series", "Values"], r.map((s) => [labels(s.metric), s.values.map((v) => `${v[1]} @${v[0]}`).join("\n")]));
    else content = table(["Value"], [[String(r[1])]]);
    fill("query-result", el("p", {}, `${data.resultType}, ${Array.isArray(r) && data.resultType !== "scalar" && data.resultType !== "string" ? r.length + " series" : "one value"}`),
      content, ...(warnings || []).map((w) => el("p", { class: "error" }, w)));
  } catch (e) { showError(e); fill("query-result"); }
};

$("identity").onsubmit = (event) => {
  event.preventDefault();
  for (const [key, id] of [["tenant", "tenant"], ["token", "token"], ["adminToken", "admin-token"]]) {
    const value = $(id).value.trim();
    if (value) store.setItem(key, value); else store.removeItem(key);
  }
  show();
};

async function show() {
  const page = (location.hash || "#targets").slice(1);
  clearError();
  for (const section of document.querySelectorAll(".page")) section.classList.toggle("active", section.id === page + "-page");
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.hash === "#" + page);
  try { await (pages[page] || pages.targets)(); } catch (e) { showError(e); }
}

$("tenant").value = store.getItem("tenant") || "";
window.addEventListener("hashchange", show);
show();
