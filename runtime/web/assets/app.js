// The sao technician page: polls /api/state and updates the page in place.
// Plain JavaScript, no build step, nothing from the network but the pole box itself.
// Every visible string comes from /i18n.json, through t() or a data-i18n attribute.
"use strict";

(() => {
  const POLL_MS = 2000;
  const CAMERA_MS = 5000;
  const PLOT_MS = 60000;
  const PLOT_HOURS = 24;
  const MAX_EVENTS = 50;
  const LANG_KEY = "sao.lang";

  let dict = { th: {}, en: {} };
  let lang = document.documentElement.dataset.defaultLang === "en" ? "en" : "th";
  let state = null; // the last /api/state answer
  let stateAt = 0; // Date.now() when it arrived
  let plotStamp = Date.now();
  let eventsKey = "";

  const $ = (id) => document.getElementById(id);

  // ---- text -------------------------------------------------------------------------------

  function t(key, vars) {
    let text = (dict[lang] && dict[lang][key]) || dict.en[key] || key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function pick(value, labels) {
    return Object.prototype.hasOwnProperty.call(labels, value) ? labels[value] : value;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) setText(node, t(node.dataset.i18n));
    eventsKey = "";
  }

  // ---- numbers, units and time ------------------------------------------------------------

  function num(value, digits) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "–";
    const magnitude = Math.abs(value);
    const decimals = digits !== undefined ? digits : magnitude >= 1000 ? 0 : magnitude >= 100 ? 1 : 2;
    return value.toLocaleString(lang === "th" ? "th-TH" : "en-GB", {
      maximumFractionDigits: decimals,
      useGrouping: false,
    });
  }

  function unit(ucum) {
    const symbols = { Cel: "°C", "ug/m3": "µg/m³", "mg/m3": "mg/m³", "kW.h": "kWh", "[ppm]": "ppm", "[ppb]": "ppb", "1": "" };
    return pick(ucum, symbols);
  }

  function withUnit(value, ucum) {
    const symbol = unit(ucum);
    return symbol ? num(value) + " " + symbol : num(value);
  }

  const pad = (n) => String(n).padStart(2, "0");

  function offsetMinutes() {
    return state ? state.identity["utc-offset-minutes"] : 0;
  }

  // A Date whose UTC fields are the pole's local time.
  function local(ms) {
    return new Date(ms + offsetMinutes() * 60000);
  }

  function poleNow() {
    return state ? state["now-ms"] + (Date.now() - stateAt) : Date.now();
  }

  function dateText(ms) {
    const d = local(ms);
    const year = d.getUTCFullYear() + (lang === "th" ? 543 : 0); // Thai dates use the Buddhist era
    return pad(d.getUTCDate()) + "/" + pad(d.getUTCMonth() + 1) + "/" + year;
  }

  function timeText(ms, seconds) {
    const d = local(ms);
    const hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    return seconds ? hm + ":" + pad(d.getUTCSeconds()) : hm;
  }

  // Today's times as HH:MM:SS, older ones with their date.
  function when(ms) {
    return dateText(ms) === dateText(poleNow()) ? timeText(ms, true) : dateText(ms) + " " + timeText(ms, false);
  }

  function ago(ms) {
    const s = Math.max(0, (poleNow() - ms) / 1000);
    if (s < 60) return t("ago-now");
    if (s < 3600) return t("ago-min", { n: Math.floor(s / 60) });
    if (s < 86400) return t("ago-hour", { n: Math.floor(s / 3600) });
    return t("ago-day", { n: Math.floor(s / 86400) });
  }

  function utcLabel() {
    const m = offsetMinutes();
    const sign = m < 0 ? "−" : "+";
    return "UTC" + sign + pad(Math.floor(Math.abs(m) / 60)) + ":" + pad(Math.abs(m) % 60);
  }

  // ---- labels and colours -----------------------------------------------------------------

  function healthLabel(status) {
    return pick(status, { green: t("health-green"), amber: t("health-amber"), red: t("health-red") });
  }

  function componentLabel(component) {
    const at = component.indexOf(":");
    const kind = at < 0 ? component : component.slice(0, at);
    const name = at < 0 ? "" : component.slice(at + 1);
    const kinds = {
      camera: t("kind-camera"), lamp: t("kind-lamp"), sensor: t("kind-sensor"), plugin: t("kind-plugin"),
      cpu: t("kind-cpu"), disk: t("kind-disk"), memory: t("kind-memory"), uplink: t("kind-uplink"),
    };
    const label = pick(kind, kinds);
    return name ? label + " " + name : label;
  }

  function pluginStateLabel(s) {
    return pick(s, {
      running: t("state-running"), backoff: t("state-backoff"), disabled: t("state-disabled"),
      failed: t("state-failed"), rejected: t("state-rejected"),
    });
  }

  function cameraStateLabel(s) {
    return pick(s, {
      ok: t("cam-ok"), starting: t("cam-starting"), offline: t("cam-offline"), stalled: t("cam-stalled"),
      frozen: t("cam-frozen"), black: t("cam-black"), covered: t("cam-covered"), blind: t("cam-blind"),
      ended: t("cam-ended"),
    });
  }

  function levelLabel(level) {
    return pick(level, { advisory: t("level-advisory"), warning: t("level-warning"), emergency: t("level-emergency") });
  }

  function severityLabel(severity) {
    return pick(severity, { info: t("severity-info"), warning: t("severity-warning"), critical: t("severity-critical") });
  }

  function eventStateLabel(s) {
    return pick(s, { raised: t("event-raised"), cleared: t("event-cleared"), info: t("event-info"), updated: t("event-updated") });
  }

  function bandLabel(band) {
    return pick(band, {
      "very-good": t("band-very-good"), good: t("band-good"), moderate: t("band-moderate"),
      "unhealthy-sensitive": t("band-unhealthy-sensitive"), unhealthy: t("band-unhealthy"),
      "very-unhealthy": t("band-very-unhealthy"), hazardous: t("band-hazardous"),
    });
  }

  const TONES = {
    health: { green: "s-green", amber: "s-amber", red: "s-red" },
    plugin: { running: "s-green", backoff: "s-amber", disabled: "s-red", failed: "s-red", rejected: "s-red" },
    camera: { ok: "s-green", starting: "s-grey", ended: "s-grey" },
    level: { advisory: "s-blue", warning: "s-amber", emergency: "s-red" },
    severity: { info: "s-grey", warning: "s-amber", critical: "s-red" },
  };

  function pill(node, text, tone) {
    setText(node, text);
    const cls = "pill " + tone;
    if (node.className !== cls) node.className = cls;
  }

  // ---- DOM helpers ------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  function row(columns) {
    return el("tr", {}, columns.map((col) => el("td", { "data-col": col })));
  }

  function col(tr, name) {
    return tr.querySelector('[data-col="' + name + '"]');
  }

  // Keeps one child of `container` per item, in order, reusing the existing ones by key, so
  // images, buttons and focus survive each poll.
  function sync(container, items, keyOf, build, update) {
    const existing = new Map();
    for (const node of Array.from(container.children)) existing.set(node.dataset.key, node);
    let previous = null;
    for (const item of items) {
      const key = String(keyOf(item));
      let node = existing.get(key);
      if (node) existing.delete(key);
      else {
        node = build(item);
        node.dataset.key = key;
      }
      update(node, item);
      const wanted = previous ? previous.nextSibling : container.firstChild;
      if (node !== wanted) container.insertBefore(node, wanted);
      previous = node;
    }
    for (const node of existing.values()) node.remove();
    const empty = $(container.id + "-empty");
    if (empty) empty.hidden = items.length > 0;
    const table = container.closest("table");
    if (table) table.hidden = items.length === 0;
  }

  // On narrow screens rows stack; each cell shows its column's header as a label.
  function labelCells() {
    for (const table of document.querySelectorAll("table.rows")) {
      const heads = Array.from(table.tHead.rows[0].cells).map((th) => th.textContent);
      for (const tr of table.tBodies[0].rows) {
        Array.from(tr.cells).forEach((td, i) => {
          if (td.dataset.label !== heads[i]) td.dataset.label = heads[i] || "";
        });
      }
    }
  }

  // ---- sections ---------------------------------------------------------------------------

  function renderHeader(s) {
    const id = s.identity;
    setText($("pole-id"), id.pole);
    setText($("site"), id.site);
    $("profile-box").hidden = !id.profile;
    setText($("profile"), id.profile || "");
    setText($("version"), id.version);
    const located = id.latitude !== null && id.longitude !== null;
    setText($("location"), located ? t("location") + " " + num(id.latitude, 5) + ", " + num(id.longitude, 5) : "");
    document.title = id.pole + " · " + t("page-title");
  }

  function renderHealth(s) {
    const badge = $("health-status");
    badge.dataset.status = s.health.status;
    setText($("health-label"), healthLabel(s.health.status));
    const rank = { red: 2, amber: 1, green: 0 };
    const worst = s.health.findings
      .slice()
      .sort((a, b) => rank[b.status] - rank[a.status] || a["since-ms"] - b["since-ms"])
      .slice(0, 3);
    const top = worst.length ? worst : [null];
    sync($("health-top"), top, (f) => (f ? f.component : "all-good"), () => el("li"), (li, f) => {
      setText(li, f ? componentLabel(f.component) + " — " + f.problem : t("health-all-good"));
      li.className = f ? "tone-" + f.status : "tone-green";
    });
    const up = s.uplink;
    pill($("uplink-state"), up.connected ? t("uplink-online") : t("uplink-offline"), up.connected ? "s-green" : "s-red");
    setText($("outbox-depth"), t("outbox-depth", { n: up["outbox-depth"] }));
    setText($("broker"), up.broker);
  }

  function renderFindings(s) {
    sync(
      $("findings"),
      s.health.findings,
      (f) => f.component,
      (f) => {
        const tr = row(["component", "status", "problem", "since"]);
        tr.setAttribute("data-testid", "finding-" + f.component);
        col(tr, "status").append(el("span"));
        return tr;
      },
      (tr, f) => {
        setText(col(tr, "component"), componentLabel(f.component));
        pill(col(tr, "status").firstChild, healthLabel(f.status), TONES.health[f.status] || "s-grey");
        setText(col(tr, "problem"), f.problem);
        setText(col(tr, "since"), ago(f["since-ms"]));
        col(tr, "since").title = when(f["since-ms"]);
      },
    );
  }

  function renderAlarms(s) {
    sync(
      $("alarms"),
      s.alarms,
      (a) => a.id,
      (a) => {
        const tr = row(["alarm", "level", "source", "raised", "ack"]);
        tr.setAttribute("data-testid", "alarm-" + a.id);
        col(tr, "alarm").append(el("strong"), el("span", { class: "muted small" }), el("span", { class: "pill s-red sounding" }));
        col(tr, "level").append(el("span"));
        const button = el("button", { type: "button", class: "action primary", "data-action": "ack", "data-id": String(a.id), "data-testid": "ack-" + a.id });
        col(tr, "ack").append(el("span", { class: "muted" }), button);
        return tr;
      },
      (tr, a) => {
        const [message, kind, sounding] = col(tr, "alarm").children;
        setText(message, lang === "th" ? a["message-th"] : a["message-en"]);
        setText(kind, a.kind);
        setText(sounding, t("audible"));
        sounding.hidden = !a.audible;
        pill(col(tr, "level").firstChild, levelLabel(a.level), TONES.level[a.level] || "s-grey");
        tr.className = "level-" + a.level;
        setText(col(tr, "source"), a.source);
        setText(col(tr, "raised"), when(a["raised-ms"]));
        const [by, button] = col(tr, "ack").children;
        const acked = a["acknowledged-by"];
        setText(by, acked ? t("acked-by", { who: acked }) : "");
        setText(button, t("ack"));
        button.hidden = Boolean(acked);
      },
    );
  }

  function renderReadings(s) {
    sync(
      $("readings"),
      s.readings,
      (r) => r.sensor,
      (r) => {
        const tr = row(["sensor", "value", "time"]);
        col(tr, "value").className = "num";
        col(tr, "value").setAttribute("data-testid", "reading-" + r.sensor);
        return tr;
      },
      (tr, r) => {
        setText(col(tr, "sensor"), r.sensor);
        setText(col(tr, "value"), withUnit(r.value, r.unit));
        setText(col(tr, "time"), when(r["ts-ms"]));
      },
    );
  }

  function renderLamps(s) {
    sync(
      $("lamps"),
      s.lamps,
      (l) => l.id,
      (l) => {
        const tr = row(["lamp", "level", "power", "energy", "failsafe", "controller"]);
        const level = col(tr, "level");
        level.append(el("span", { class: "meter" }, [el("span")]), el("span", { "data-testid": "lamp-" + l.id + "-level" }));
        col(tr, "power").className = "num";
        col(tr, "energy").className = "num";
        col(tr, "failsafe").append(el("span"));
        return tr;
      },
      (tr, l) => {
        setText(col(tr, "lamp"), l.id);
        const [meter, text] = col(tr, "level").children;
        const percent = Math.max(0, Math.min(100, l["level-percent"]));
        meter.firstChild.style.width = percent + "%";
        setText(text, num(l["level-percent"], 0) + " %");
        setText(col(tr, "power"), num(l.watts, 1) + " W");
        setText(col(tr, "energy"), num(l["total-kwh"]) + " kWh");
        const failsafe = l.failsafe;
        pill(col(tr, "failsafe").firstChild, failsafe ? t("failsafe-on") : t("failsafe-off"), failsafe ? "s-amber" : "s-grey");
        setText(col(tr, "controller"), l.controller || t("controller-none"));
      },
    );
  }

  function renderEnergy(s) {
    const e = s.energy;
    $("energy").hidden = !e;
    $("energy-empty").hidden = Boolean(e);
    if (!e) return;
    const saved = $("energy-saved");
    setText(saved, num(e["saved-percent"], 1) + " %");
    saved.className = "big " + (e["saved-percent"] >= 5 ? "tone-green" : e["saved-percent"] >= 0 ? "tone-amber" : "tone-red");
    const top = Math.max(e["used-kwh"], e["baseline-kwh"], 1e-9);
    $("energy-used-bar").style.width = (100 * e["used-kwh"]) / top + "%";
    $("energy-baseline-bar").style.width = (100 * e["baseline-kwh"]) / top + "%";
    setText($("energy-used"), num(e["used-kwh"]) + " kWh");
    setText($("energy-baseline"), num(e["baseline-kwh"]) + " kWh");
    setText($("energy-since"), t("energy-since", { time: dateText(e["since-ms"]) + " " + timeText(e["since-ms"], false) }));
  }

  function renderAqi(s) {
    const a = s.aqi;
    $("aqi").hidden = !a;
    $("aqi-empty").hidden = Boolean(a);
    if (!a) return;
    const value = $("aqi-value");
    setText(value, num(a.value, 0));
    value.className = "aqi-value band-" + a.band;
    setText($("aqi-band"), bandLabel(a.band));
    setText($("aqi-standard"), a.standard);
    setText($("aqi-time"), when(a["ts-ms"]));
  }

  function renderPlugins(s) {
    sync(
      $("plugins"),
      s.plugins,
      (p) => p.id,
      (p) => {
        const tr = row(["plugin", "state", "restarts", "crashes", "error", "restart"]);
        col(tr, "plugin").append(el("strong"), el("span", { class: "muted small" }));
        col(tr, "state").append(el("span"));
        col(tr, "restarts").className = "num";
        col(tr, "crashes").className = "num";
        col(tr, "restart").append(el("button", { type: "button", class: "action", "data-action": "restart", "data-id": p.id, "data-testid": "restart-" + p.id }));
        return tr;
      },
      (tr, p) => {
        const [name, version] = col(tr, "plugin").children;
        setText(name, p.id);
        setText(version, p.version);
        pill(col(tr, "state").firstChild, pluginStateLabel(p.state), TONES.plugin[p.state] || "s-grey");
        setText(col(tr, "restarts"), String(p.restarts));
        setText(col(tr, "crashes"), String(p.crashes));
        setText(col(tr, "error"), p["last-error"] || "–");
        col(tr, "error").className = p["last-error"] ? "error-text" : "muted";
        setText(col(tr, "restart").firstChild, t("restart"));
      },
    );
  }

  function cameraUrl(name) {
    return "/camera/" + encodeURIComponent(name) + ".jpg?t=" + Date.now();
  }

  // Loads the next frame off-screen and swaps it in, so the picture never blanks.
  function refreshCamera(figure) {
    const img = figure.querySelector("img");
    const next = new Image();
    next.onload = () => {
      img.src = next.src;
      img.hidden = false;
      figure.querySelector(".no-image").hidden = true;
    };
    next.onerror = () => {
      img.hidden = true;
      figure.querySelector(".no-image").hidden = false;
    };
    next.src = cameraUrl(figure.dataset.key);
  }

  function renderCameras(s) {
    sync(
      $("cameras"),
      s.cameras,
      (c) => c.name,
      (c) => {
        const figure = el("figure", { class: "camera", "data-testid": "camera-" + c.name }, [
          el("div", { class: "frame" }, [
            el("img", { alt: c.name, "data-testid": "camera-" + c.name + "-image", hidden: "" }),
            el("span", { class: "no-image muted" }),
          ]),
          el("figcaption", {}, [el("strong"), el("span"), el("span", { class: "muted small" }), el("span", { class: "muted small detail" })]),
        ]);
        figure.dataset.key = c.name;
        refreshCamera(figure);
        return figure;
      },
      (figure, c) => {
        setText(figure.querySelector(".no-image"), t("camera-no-image"));
        const [name, state, rates, detail] = figure.querySelector("figcaption").children;
        setText(name, c.name);
        pill(state, cameraStateLabel(c.state), TONES.camera[c.state] || "s-red");
        setText(rates, t("camera-fps", { fps: num(c.fps, 1) }) + " · " + t("camera-inference", { ms: num(c["inference-ms"], 0) }));
        setText(detail, c.detail);
      },
    );
  }

  function renderDisplay(s) {
    const d = s.display;
    const shown = Boolean(d && (d.th || d.en));
    $("display").hidden = !shown;
    $("display-source").hidden = !shown;
    $("display-empty").hidden = shown;
    if (!shown) return;
    setText($("display-th"), d.th);
    setText($("display-en"), d.en);
    setText($("display-source-name"), d.source);
  }

  function renderEvents(s) {
    const events = s.events.slice(0, MAX_EVENTS);
    const key = lang + JSON.stringify(events) + dateText(poleNow());
    if (key === eventsKey) return;
    eventsKey = key;
    const list = $("events");
    list.replaceChildren(
      ...events.map((e) =>
        el("li", { class: "event sev-" + e.severity }, [
          el("time", { class: "muted" }, [when(e["ts-ms"])]),
          el("span", { class: "pill " + (TONES.severity[e.severity] || "s-grey") }, [severityLabel(e.severity)]),
          el("span", { class: "small" }, [eventStateLabel(e.state)]),
          el("code", { class: "small" }, [e.topic]),
          el("span", { class: "message" }, [e.message]),
        ]),
      ),
    );
    $("events-empty").hidden = events.length > 0;
  }

  function plotUrl(name) {
    return "/plot/" + encodeURIComponent(name) + ".svg?hours=" + PLOT_HOURS + "&lang=" + lang + "&t=" + plotStamp;
  }

  function renderPlots(s) {
    sync(
      $("plots"),
      s.series,
      (p) => p.name,
      (p) => el("figure", { class: "plot" }, [el("img", { "data-testid": "plot-" + p.name })]),
      (figure, p) => {
        const img = figure.firstChild;
        const url = plotUrl(p.name);
        if (img.getAttribute("src") !== url) img.src = url;
        img.alt = lang === "th" ? p["title-th"] : p["title-en"];
      },
    );
  }

  function renderTechnician(s) {
    const enabled = s["actions-enabled"];
    const loggedIn = s["logged-in"];
    document.body.dataset.actions = enabled ? "on" : "off";
    $("read-only").hidden = enabled;
    $("login-form").hidden = !enabled || loggedIn;
    $("session").hidden = !enabled || !loggedIn;
    $("test-outputs").hidden = !enabled;
  }

  function render() {
    if (!state) return;
    renderHeader(state);
    renderHealth(state);
    renderTechnician(state);
    renderAlarms(state);
    renderFindings(state);
    renderAqi(state);
    renderEnergy(state);
    renderReadings(state);
    renderLamps(state);
    renderCameras(state);
    renderPlugins(state);
    renderDisplay(state);
    renderEvents(state);
    renderPlots(state);
    labelCells();
  }

  // ---- polling ----------------------------------------------------------------------------

  async function poll() {
    try {
      const response = await fetch("/api/state", { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      state = await response.json();
      stateAt = Date.now();
      $("stale").hidden = true;
      render();
    } catch (_) {
      const banner = $("stale");
      setText(banner, state ? t("stale", { time: timeText(state["now-ms"], true) }) : t("error-network"));
      banner.hidden = false;
    }
  }

  async function pollForever() {
    await poll();
    setTimeout(pollForever, POLL_MS);
  }

  function tick() {
    if (state) setText($("clock"), dateText(poleNow()) + " " + timeText(poleNow(), true) + " " + utcLabel());
  }

  // ---- actions ----------------------------------------------------------------------------

  function showResult(text, ok) {
    const node = $("action-result");
    setText(node, text);
    node.className = "result " + (ok ? "ok" : "error");
  }

  function errorText(status, message, isLogin) {
    if (status === 401) return isLogin ? t("error-wrong-password") : t("error-login-required");
    if (status === 403) return t("error-actions-disabled");
    if (status === 429) return t("error-throttled");
    if (status === 400 || status === 409) return t("error-refused") + ": " + message;
    return t("error-failed") + ": " + (message || status);
  }

  async function act(button, url, body, describe) {
    if (button) button.disabled = true;
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      let answer = {};
      try {
        answer = await response.json();
      } catch (_) {
        answer = {};
      }
      if (response.ok) showResult(describe(answer), true);
      else showResult(errorText(response.status, answer.error, url === "/api/login"), false);
    } catch (_) {
      showResult(t("error-network"), false);
    } finally {
      if (button) button.disabled = false;
    }
    await poll();
  }

  function outputsText(answer) {
    const results = answer.results || [];
    if (!results.length) return t("result-no-outputs");
    const parts = results.map((r) => r.output + " " + (r.ok ? t("output-ok") : t("output-failed") + (r.error ? " (" + r.error + ")" : "")));
    return t("result-outputs") + ": " + parts.join(" · ");
  }

  function bindActions() {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const field = $("login-password");
      act($("login-submit"), "/api/login", { password: field.value }, () => {
        field.value = "";
        return t("result-logged-in");
      });
    });
    $("logout").addEventListener("click", (event) => act(event.currentTarget, "/api/logout", null, () => t("result-logged-out")));
    $("test-outputs").addEventListener("click", (event) => act(event.currentTarget, "/api/outputs/test", null, outputsText));
    document.body.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const id = button.dataset.id;
      if (button.dataset.action === "ack") {
        act(button, "/api/alarms/" + encodeURIComponent(id) + "/ack", null, () => t("result-acked", { id }));
      } else if (button.dataset.action === "restart") {
        act(button, "/api/plugins/" + encodeURIComponent(id) + "/restart", null, () => t("result-restarted", { id }));
      }
    });
    $("lang-toggle").addEventListener("click", () => {
      lang = lang === "th" ? "en" : "th";
      try {
        localStorage.setItem(LANG_KEY, lang);
      } catch (_) {
        // private browsing: the choice lasts until the page is closed
      }
      applyLanguage();
      render();
      tick();
    });
  }

  async function start() {
    try {
      const stored = localStorage.getItem(LANG_KEY);
      if (stored === "th" || stored === "en") lang = stored;
    } catch (_) {
      // no storage: keep the pole's default language
    }
    try {
      dict = await (await fetch("/i18n.json", { cache: "no-cache" })).json();
    } catch (_) {
      // keep the built-in English labels of the page
    }
    applyLanguage();
    bindActions();
    await pollForever();
    setInterval(tick, 1000);
    setInterval(() => document.querySelectorAll("#cameras figure").forEach(refreshCamera), CAMERA_MS);
    setInterval(() => {
      plotStamp = Date.now();
      if (state) renderPlots(state);
    }, PLOT_MS);
  }

  start();
})();
