/* The Space Factory run dashboard (DESIGN §13): one page, two transports that answer the same views.
 *
 * web      fetch /runs/api/... with `Authorization: Bearer <token>`; the token lives in this tab's sessionStorage
 *          only (never a URL, never a cookie) and a 401 forgets it.
 * mcp-app  the page is an MCP App (the server inlines this file into its ui:// resource): JSON-RPC over
 *          postMessage with the host — ui/initialize, tool results pushed by the host, tools/call through it.
 *
 * Every string from a run record (model cards, logs, file names, messages) reaches the DOM as text, through
 * createElement/textContent only, so hostile text can never become markup or script.
 */
"use strict";

(() => {
  const TOKEN_KEY = "space-factory-token";
  const RUN_ID = /^[a-z0-9][a-z0-9-]{7,79}$/;
  const EVENTS_PAGE = 500; // the service's MAX_EVENTS_PER_POLL: a full page means more events are waiting
  const LOG_KEEP = 64 * 1024; // characters of log kept in the tail
  const LOG_PAGES_PER_POLL = 8;
  const MAX_POLL_FAILURES = 3;
  const APP_PROTOCOL = "2026-01-26"; // the MCP Apps spec version this page speaks
  const MODE = document.documentElement.dataset.transport === "mcp-app" ? "mcp-app" : "web";

  const $ = (id) => document.getElementById(id);

  /** An element with attributes (never markup), children appended as nodes or text. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function setText(id, text) { $(id).textContent = text === undefined || text === null ? "" : String(text); }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // -- transports: call(tool, args) answers the tool's structured result ----------------------------------------

  const enc = encodeURIComponent;
  const ROUTES = {
    list_runs: (a) => ["/runs/api/runs", { limit: a.limit, cursor: a.cursor }],
    get_run_status: (a) => [`/runs/api/runs/${enc(a.run_id)}/status`, { since_seq: a.since_seq }],
    get_gate: (a) => [`/runs/api/runs/${enc(a.run_id)}/gate`, {}],
    get_app_files: (a) => [`/runs/api/runs/${enc(a.run_id)}/files`, { path: a.path }],
    fetch_trace_redacted: (a) => [`/runs/api/runs/${enc(a.run_id)}/trace`,
      { kind: a.kind, cursor: a.cursor, max_bytes: a.max_bytes }],
  };

  const web = {
    async call(tool, args) {
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (!token) throw new ApiError(401, "no token yet");
      const [path, query] = ROUTES[tool](args);
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) params.set(key, String(value));
      }
      const url = params.toString() ? `${path}?${params}` : path;
      const response = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        cache: "no-store", credentials: "omit", redirect: "error", referrerPolicy: "no-referrer",
      });
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      if (!response.ok) {
        const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
        throw new ApiError(response.status, message);
      }
      return body;
    },
  };

  const mcp = {
    nextId: 1,
    pending: new Map(),
    handlers: {},

    start() { window.addEventListener("message", (event) => this.receive(event)); },

    receive(event) {
      if (event.source !== window.parent) return; // only the host (or its sandbox proxy) speaks to the view
      const msg = event.data;
      if (!msg || typeof msg !== "object" || msg.jsonrpc !== "2.0") return;
      if (msg.method === undefined && msg.id !== undefined) { // a response to one of our requests
        const waiting = this.pending.get(msg.id);
        if (!waiting) return;
        this.pending.delete(msg.id);
        if (msg.error) waiting.reject(new ApiError(0, String(msg.error.message || "the host refused the request")));
        else waiting.resolve(msg.result);
        return;
      }
      if (typeof msg.method !== "string") return;
      const handler = this.handlers[msg.method];
      if (msg.id !== undefined) { // a request from the host: ui/resource-teardown, ping
        if (handler || msg.method === "ping") {
          if (handler) handler(msg.params || {});
          this.post({ jsonrpc: "2.0", id: msg.id, result: {} });
        } else {
          this.post({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "method not found" } });
        }
      } else if (handler) {
        handler(msg.params || {});
      }
    },

    // The view cannot know the host's origin (a sandboxed iframe, often opaque); nothing it sends is secret.
    post(message) { window.parent.postMessage(message, "*"); },

    request(method, params) {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.post({ jsonrpc: "2.0", id, method, params });
      });
    },

    notify(method, params) { this.post({ jsonrpc: "2.0", method, params }); },

    async connect() {
      this.start();
      const result = await this.request("ui/initialize", {
        appInfo: { name: "space-factory-dashboard", version: "1" },
        appCapabilities: { availableDisplayModes: ["inline"] },
        protocolVersion: APP_PROTOCOL,
      });
      this.notify("ui/notifications/initialized", {});
      return result;
    },

    async call(tool, args) {
      const cleaned = {};
      for (const [key, value] of Object.entries(args)) if (value !== undefined && value !== null) cleaned[key] = value;
      const result = await this.request("tools/call", { name: tool, arguments: cleaned });
      if (!result || result.isError) throw new ApiError(0, toolText(result) || `${tool} failed`);
      if (!result.structuredContent) throw new ApiError(0, `${tool} answered no structured result`);
      return result.structuredContent;
    },
  };

  function toolText(result) {
    const blocks = result && Array.isArray(result.content) ? result.content : [];
    return blocks.filter((b) => b && b.type === "text").map((b) => String(b.text)).join("\n");
  }

  const transport = MODE === "mcp-app" ? mcp : web;

  // -- page states -------------------------------------------------------------------------------------------------

  function setState(state) { document.body.dataset.state = state; }

  function showOnly(id) {
    for (const section of ["login", "list", "run"]) $(section).hidden = section !== id;
  }

  function showLogin(message) {
    stopFollowing();
    showOnly("login");
    $("logout").hidden = true;
    $("error").hidden = true;
    $("login-error").hidden = !message;
    setText("login-error", message || "");
    setState("login");
    $("token").focus();
  }

  function showError(err) {
    if (err instanceof ApiError && err.status === 401 && MODE === "web") {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("The server refused this token (401): paste a valid one.");
      return;
    }
    setText("error", err && err.message ? err.message : String(err));
    $("error").hidden = false;
    setState("error");
  }

  /** A link only for an http(s) URL (never javascript: or data:); anything else is shown as text. */
  function safeLink(url, text) {
    let parsed = null;
    try { parsed = new URL(String(url)); } catch { parsed = null; }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) return el("span", {}, text || url);
    const link = el("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank" }, text || parsed.href);
    if (MODE === "mcp-app") {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        mcp.request("ui/open-link", { url: parsed.href }).catch(() => {});
      });
    }
    return link;
  }

  // -- the runs list ------------------------------------------------------------------------------------------------

  function runLink(runId) {
    const link = el("a", { class: "run-link", href: `/runs/${enc(runId)}` }, runId);
    if (MODE === "mcp-app") {
      link.addEventListener("click", (event) => { event.preventDefault(); openRun(runId); });
    }
    return link;
  }

  function runItem(run) {
    return el("li", { dataset: { runId: run.run_id } },
      runLink(run.run_id),
      el("span", { class: "run-model" }, run.model),
      el("span", { class: "run-status", dataset: { status: run.status } }, run.status),
      el("span", { class: "run-gate", dataset: { status: run.gate_status || "" } }, run.gate_status || ""),
      el("span", { class: "run-created" }, run.created_at));
  }

  let screen = 0; // which view is on screen: an answer for one that was left is dropped

  async function showList(cursor) {
    stopFollowing();
    const mine = ++screen;
    showOnly("list");
    $("error").hidden = true;
    if (!cursor) { $("runs").replaceChildren(); setState("loading"); }
    try {
      const page = await transport.call("list_runs", { limit: 50, cursor });
      if (mine !== screen) return;
      const items = document.createDocumentFragment();
      for (const run of page.runs) items.append(runItem(run));
      $("runs").append(items);
      const more = $("more");
      more.hidden = !page.next_cursor;
      more.onclick = page.next_cursor ? () => showList(page.next_cursor) : null;
      if (!page.runs.length && !cursor) $("runs").append(el("li", { class: "empty" }, "No runs yet."));
      setState("ready");
    } catch (err) {
      if (mine === screen) showError(err);
    }
  }

  // -- one run ----------------------------------------------------------------------------------------------------

  function dl(rows) {
    const list = el("dl", { class: "facts" });
    for (const [name, value] of rows) {
      if (value === undefined || value === null || value === "") continue;
      list.append(el("dt", {}, name), el("dd", {}, value instanceof Node ? value : String(value)));
    }
    return list;
  }

  /** Any JSON value as nodes: objects as a definition list (deeper ones as JSON text), arrays as a list. */
  function valueNode(value, depth) {
    if (value === null || value === undefined) return el("span", {}, "");
    if (typeof value === "string") return value.includes("\n") ? el("pre", {}, value) : el("span", {}, value);
    if (typeof value !== "object") return el("span", {}, String(value));
    if (depth >= 2) return el("pre", {}, JSON.stringify(value, null, 2));
    if (Array.isArray(value)) return el("ul", {}, ...value.map((item) => el("li", {}, valueNode(item, depth + 1))));
    const present = Object.entries(value).filter(([, item]) => item !== null && item !== undefined);
    return dl(present.map(([key, item]) => [key, valueNode(item, depth + 1)]));
  }

  function eventItem(event) {
    return el("li", { dataset: { seq: event.seq, level: event.level || "info" }, title: event.ts },
      el("span", { class: "event-phase" }, event.phase), " ", el("span", { class: "event-message" }, event.message));
  }

  function renderState(state) {
    setText("run-model", state.model);
    setText("run-status", state.status);
    $("run-status").dataset.status = state.status;
    setText("run-phase", state.phase);
    const space = state.space || {};
    $("run-space").replaceChildren(space.url ? safeLink(space.url, space.id || space.url) : (space.id || ""));
    setText("run-error", state.error || "");
  }

  function renderGate(view) {
    const gate = view.gate;
    setText("gate-status", view.ready && view.gate_status ? view.gate_status : `not ready (${view.status}, ${view.phase})`);
    $("gate-status").dataset.status = view.gate_status || "";
    setText("gate-summary", view.message);
    const checks = document.createDocumentFragment();
    for (const check of (gate && gate.checks) || []) {
      checks.append(el("li", { dataset: { check: check.name, status: check.status } },
        el("span", { class: "check-name" }, check.name),
        el("span", { class: "check-status", dataset: { status: check.status } }, check.status),
        el("span", { class: "check-detail" }, check.detail || "")));
    }
    $("checks").replaceChildren(checks);
    const blockers = document.createDocumentFragment();
    for (const blocker of (gate && gate.blockers) || []) {
      blockers.append(el("li", { dataset: { source: blocker.source || "factory" } },
        el("strong", {}, blocker.title), ` (${blocker.source || "factory"}${blocker.kind ? `, ${blocker.kind}` : ""}) `,
        el("span", { class: "blocker-detail" }, blocker.detail || ""),
        blocker.evidence ? el("pre", {}, blocker.evidence) : null,
        blocker.tried && blocker.tried.length ? el("ul", {}, ...blocker.tried.map((t) => el("li", {}, t))) : null));
    }
    $("blockers").replaceChildren(blockers);
    renderHowToCall(gate ? gate.how_to_call : null);
  }

  function renderHowToCall(how) {
    const box = $("how-to-call");
    if (!how) { box.replaceChildren(el("p", {}, "Once the gate is written.")); return; }
    const rows = [];
    for (const [key, value] of Object.entries(how)) {
      if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
      if (key === "url") rows.push([key, safeLink(value)]);
      else if (key === "python") rows.push([key, el("pre", {}, value)]);
      else if (key === "parameters") {
        rows.push([key, el("ul", {}, ...value.map((p) => el("li", {}, p.name || "", p.python_type ? `: ${p.python_type}` : "",
          p.component ? ` (${p.component})` : "")))]);
      } else rows.push([key, valueNode(value, 0)]); // mcp and any later part, whatever its shape
    }
    box.replaceChildren(dl(rows));
  }

  function renderHardware(plan, state, gate) {
    const evidence = (gate && gate.evidence) || {};
    const got = evidence.hardware || {};
    const space = evidence.space_hardware || {};
    const rows = [
      ["planned", plan ? plan.primary : null],
      ["fallback", plan ? plan.fallback : null],
      ["needs GPU", plan && plan.needs_gpu !== undefined ? String(plan.needs_gpu) : null],
      ["Space hardware", state && state.space ? state.space.hardware : null],
      ["requested", got.flavor ? `${got.flavor}: ${got.outcome || ""}${got.detail ? ` (${got.detail})` : ""}` : null],
      ["Space asked / runs on", space.requested ? `${space.requested} / ${space.current || "?"}` : null],
    ];
    const list = dl(rows);
    $("hardware").replaceChildren(list.childNodes.length ? list : el("p", {}, "No hardware plan yet."));
  }

  function renderFiles(runId, view) {
    const items = document.createDocumentFragment();
    for (const file of view.files || []) {
      const open = el("button", { type: "button", class: "file-open" }, file.path);
      open.addEventListener("click", () => showFile(runId, file.path));
      items.append(el("li", { dataset: { path: file.path } }, open, el("span", { class: "file-size" }, `${file.bytes} B`)));
    }
    if (!(view.files || []).length) items.append(el("li", { class: "empty" }, "No app files."));
    $("files").replaceChildren(items);
  }

  async function showFile(runId, path) {
    $("file-view").hidden = false;
    setText("file-path", path);
    setText("file-text", "…");
    try {
      const view = await transport.call("get_app_files", { run_id: runId, path });
      setText("file-text", view.file ? view.file.text : "");
    } catch (err) {
      setText("file-text", err.message);
    }
  }

  let following = null;

  function stopFollowing() {
    if (following) following.stop();
    following = null;
  }

  function openRun(runId) {
    stopFollowing();
    screen += 1;
    following = new Follow(runId);
    following.start();
  }

  /** One run on screen, followed until it is terminal: status (since_seq) every next_poll_seconds, then the gate. */
  class Follow {
    constructor(runId) {
      this.runId = runId;
      this.since = 0;
      this.stopped = false;
      this.timer = null;
      this.marked = false;
      this.failures = 0;
      this.plan = null;
      this.state = null;
      this.gate = null;
      this.log = { kind: "worker", cursor: 0, text: "", partial: "" };
    }

    stop() { this.stopped = true; clearTimeout(this.timer); }

    start() {
      showOnly("run");
      $("error").hidden = true;
      const section = $("run");
      section.dataset.runId = this.runId;
      section.dataset.terminal = "false";
      setText("run-id", this.runId);
      for (const id of ["timeline", "checks", "blockers", "files"]) $(id).replaceChildren();
      for (const id of ["gate-summary", "log-tail", "run-model", "run-status", "run-phase", "run-error"]) setText(id, "");
      $("file-view").hidden = true;
      $("log-kind").replaceChildren(el("option", { value: "worker" }, "worker"));
      $("log-kind").onchange = () => this.switchLog($("log-kind").value);
      setText("gate-status", "…");
      setState("loading");
      this.poll(true);
    }

    async poll(first) {
      let view;
      try {
        view = await this.readStatus();
        if (this.stopped) return;
        if (first) await this.readFiles();
        if (view.terminal) {
          this.gate = await transport.call("get_gate", { run_id: this.runId });
          if (this.stopped) return;
          renderGate(this.gate);
          await this.readFiles();
        } else {
          setText("gate-status", `not finished yet: ${view.state.status}, phase ${view.state.phase}`);
        }
        renderHardware(this.plan, this.state, this.gate && this.gate.gate);
        await this.tailLog();
        if (this.stopped) return;
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        this.failures += 1;
        if (first || this.failures >= MAX_POLL_FAILURES || (err instanceof ApiError && [401, 404].includes(err.status))) {
          showError(err);
          return;
        }
        setText("error", `${err.message} (retrying)`);
        $("error").hidden = false;
        this.timer = setTimeout(() => this.poll(false), 3000);
        return;
      }
      $("error").hidden = true;
      if (view.terminal) {
        $("run").dataset.terminal = "true";
        setState("ready");
        return;
      }
      setState("ready");
      const wait = Math.max(0.5, Number(view.next_poll_seconds) || 2);
      this.timer = setTimeout(() => this.poll(false), wait * 1000);
    }

    /** The status after `since`, draining full pages of events; renders the state and the new events. */
    async readStatus() {
      let view;
      do {
        view = await transport.call("get_run_status", { run_id: this.runId, since_seq: this.since });
        if (this.stopped) return view;
        this.since = view.last_seq;
        const items = document.createDocumentFragment();
        for (const event of view.events) {
          items.append(eventItem(event));
          if (event.phase === "recommending" && event.data && event.data.primary) this.plan = event.data;
        }
        $("timeline").append(items);
      } while (view.events.length >= EVENTS_PAGE);
      this.state = view.state;
      renderState(view.state);
      if (!this.marked) {
        this.marked = true;
        requestAnimationFrame(() => performance.mark("sf-run-rendered"));
      }
      return view;
    }

    async readFiles() {
      try {
        renderFiles(this.runId, await transport.call("get_app_files", { run_id: this.runId }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) throw err;
        $("files").replaceChildren(el("li", { class: "empty" }, err.message));
      }
    }

    switchLog(kind) {
      this.log = { kind, cursor: 0, text: "", partial: "" };
      setText("log-tail", "");
      this.tailLog().catch((err) => showError(err));
    }

    /** New pages of the log from the last cursor; a page that re-sends an unfinished last line replaces it. */
    async tailLog() {
      const log = this.log;
      for (let i = 0; i < LOG_PAGES_PER_POLL; i += 1) {
        let page;
        try {
          page = await transport.call("fetch_trace_redacted", { run_id: this.runId, kind: log.kind, cursor: log.cursor });
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) throw err;
          if (!log.text) setText("log-tail", `(no ${log.kind} log yet)`);
          return;
        }
        if (this.stopped || log !== this.log) return;
        this.updateKinds(page.available_kinds || []);
        let text = page.withheld ? "\n[a page was withheld: it still looked secret after redaction]\n" : page.text;
        if (page.cursor < log.cursor && log.partial && log.text.endsWith(log.partial)) {
          log.text = log.text.slice(0, log.text.length - log.partial.length);
        }
        log.text = (log.text + text).slice(-LOG_KEEP);
        const lastBreak = text.lastIndexOf("\n");
        log.partial = lastBreak === text.length - 1 ? "" : text.slice(lastBreak + 1);
        setText("log-tail", log.text);
        if (page.next_cursor === null || page.next_cursor === undefined) {
          log.cursor = Math.max(log.cursor, page.total_bytes);
          return;
        }
        log.cursor = page.next_cursor;
        text = "";
      }
    }

    updateKinds(kinds) {
      const select = $("log-kind");
      const have = new Set(Array.from(select.options, (option) => option.value));
      for (const kind of kinds) if (!have.has(kind)) select.append(el("option", { value: kind }, kind));
      select.value = this.log.kind;
    }
  }

  // -- starting ----------------------------------------------------------------------------------------------------

  function runIdFromPath() {
    const match = /^\/runs\/([^/]+)\/?$/.exec(location.pathname);
    if (!match) return null;
    let runId = null;
    try { runId = decodeURIComponent(match[1]); } catch { runId = null; }
    return runId && RUN_ID.test(runId) ? runId : null;
  }

  function route() {
    if (!sessionStorage.getItem(TOKEN_KEY)) { showLogin(""); return; }
    $("logout").hidden = false;
    const runId = runIdFromPath();
    if (runId) openRun(runId); else showList();
  }

  function startWeb() {
    $("login").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      $("token").value = "";
      if (!token) { showLogin("Paste a token first."); return; }
      sessionStorage.setItem(TOKEN_KEY, token);
      $("login-error").hidden = true;
      route();
    });
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(""); });
    route();
  }

  function runIdOf(value) {
    const runId = value && typeof value === "object" ? value.run_id : null;
    return typeof runId === "string" && RUN_ID.test(runId) ? runId : null;
  }

  async function startApp() {
    $("logout").hidden = true;
    $("home").addEventListener("click", (event) => { event.preventDefault(); showList(); });
    // A run the host shows us: from the tool's arguments (get_gate) or its result (get_gate, launch_build).
    const show = (runId) => { if (runId && (!following || following.runId !== runId)) openRun(runId); };
    mcp.handlers["ui/notifications/tool-input"] = (params) => show(runIdOf(params.arguments));
    mcp.handlers["ui/notifications/tool-result"] = (params) => {
      if (params.isError) { showError(new ApiError(0, toolText(params) || "the tool call failed")); return; }
      show(runIdOf(params.structuredContent));
    };
    mcp.handlers["ui/notifications/tool-cancelled"] = () => {};
    mcp.handlers["ui/resource-teardown"] = () => stopFollowing();
    try {
      await mcp.connect();
    } catch (err) {
      showError(err);
      return;
    }
    if (typeof ResizeObserver === "function") {
      let queued = false;
      new ResizeObserver(() => {
        if (queued) return;
        queued = true;
        requestAnimationFrame(() => {
          queued = false;
          const box = document.documentElement;
          mcp.notify("ui/notifications/size-changed", { width: box.scrollWidth, height: box.scrollHeight });
        });
      }).observe(document.documentElement);
    }
    if (!following) showList();
  }

  if (MODE === "mcp-app") startApp(); else startWeb();
})();
