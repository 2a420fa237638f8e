// ariapp operator console: the calls of the control API, live from its event
// stream. Plain script, no build step, no request outside this origin.
"use strict";

(() => {
  const TOKEN_KEY = "ariapp-token";
  // How long an ended call stays in the table, with its cause, before it
  // moves to "Recently ended".
  const ENDED_LINGER_MS = 6000;
  const ENDED_KEEP = 20;
  // What a party's mute cuts, in the words of the API description.
  const MUTE_TITLES = {
    in: "muted in: its peer does not hear it",
    out: "muted out: it hears nothing, not even hold music",
    both: "muted both ways",
  };

  const $ = (id) => document.getElementById(id);
  const calls = new Map(); // call_id -> {info, since: {caller, callee}, tbody, msg}
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let streamAbort = null;
  let retryMs = 500;

  // --- API --------------------------------------------------------------

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  async function api(method, path, body) {
    const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : null), cache: "no-store" };
    if (body) init.body = JSON.stringify(body);
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, "network", "ariapp does not answer: " + e.message);
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (resp.status === 401) {
      askToken(token ? "The token was refused." : "");
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : { code: "http_" + resp.status, message: resp.statusText };
      throw new APIError(resp.status, err.code, err.message);
    }
    return data;
  }

  // --- token -----------------------------------------------------------

  function askToken(why) {
    stopStream();
    setStream("signed-out", "token required");
    $("login-msg").textContent = why || "";
    const dlg = $("login");
    if (!dlg.open) dlg.showModal();
    $("token").focus();
  }

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").close();
    $("forget").hidden = !token;
    start();
  });
  $("login").addEventListener("cancel", (e) => e.preventDefault()); // nothing works without it

  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = "";
    $("forget").hidden = true;
    askToken("");
  });

  // --- event stream ------------------------------------------------------

  function setStream(state, text) {
    const el = $("stream");
    el.dataset.state = state;
    el.textContent = text;
  }

  function stopStream() {
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
  }

  // The stream is read with fetch, not EventSource: EventSource cannot send
  // the Authorization header, and a token in the URL would land in logs.
  async function runStream() {
    const ctl = new AbortController();
    streamAbort = ctl;
    while (!ctl.signal.aborted) {
      try {
        const resp = await fetch("/v1/events", { headers: headers({ Accept: "text/event-stream" }), signal: ctl.signal, cache: "no-store" });
        if (resp.status === 401) {
          askToken("The token was refused.");
          return;
        }
        if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
        retryMs = 500;
        // Subscribed first, listed second: no event falls between the two.
        await resync();
        setStream("live", "live");
        await readEvents(resp.body, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      if (ctl.signal.aborted) return;
      setStream("reconnecting", "reconnecting…");
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    }
  }

  async function readEvents(body, signal) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    const onAbort = () => reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          dispatch(frame);
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  // dispatch handles one SSE frame: "event:" and "data:" lines; comments
  // (keep-alives) are ignored.
  function dispatch(frame) {
    let name = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let val = i < 0 ? "" : line.slice(i + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "event") name = val;
      else if (field === "data") data.push(val);
    }
    if (!data.length) return;
    if (name === "lost") {
      resync(); // events were dropped for us: the list is the truth
      return;
    }
    let ev;
    try { ev = JSON.parse(data.join("\n")); } catch (e) { return; }
    if (ev && ev.call && ev.call_id) applyEvent(ev);
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  // --- model -------------------------------------------------------------

  async function resync() {
    const data = await api("GET", "/v1/calls");
    const seen = new Set();
    for (const info of data.calls || []) {
      seen.add(info.call_id);
      upsert(info, null, "resync");
    }
    for (const [id, c] of calls) {
      if (!seen.has(id) && !c.ended) {
        // Ended while we were not listening: no cause known.
        c.info.state = "ended";
        endCall(c, "ended while the console was reconnecting");
      }
    }
  }

  function applyEvent(ev) {
    const c = upsert(ev.call, ev.time, "event");
    if (ev.event === "hold_failed" || ev.event === "unhold_failed") {
      showMsg(c, true, ev.event.replace("_", " ") + " (" + ev.party + ", " + (ev.source || "") + "): " + (ev.reason || ""));
    }
    if (ev.event === "hold_reminder") {
      const since = ev.call[ev.party] && ev.call[ev.party].hold_since;
      const secs = since ? Math.round((new Date(ev.time) - new Date(since)) / 1000) : null;
      showMsg(c, false, "reminder: " + ev.party + " holds" + (secs !== null ? " for " + secs + " s" : "") + (ev.reason ? " (" + ev.reason + ")" : ""));
    }
    if (ev.event === "unhold_success" && ev.source === "timer") {
      showMsg(c, false, ev.party + "'s hold reached its maximum and was resumed");
    }
    if (ev.event === "call_ended") endCall(c, ev.call.end_cause || ev.reason || "ended");
  }

  // upsert applies a call snapshot. from is "event" (the stream, in
  // order), "resync" (GET /v1/calls after the stream broke) or "reply" (the
  // answer to this page's own request): a reply can arrive after later
  // events of the same call, so once the stream has told of a call, a
  // reply's older snapshot must not overwrite it.
  function upsert(info, when, from) {
    let c = calls.get(info.call_id);
    if (c && from === "reply" && c.evented) return c;
    const now = when ? new Date(when) : new Date();
    if (!c) {
      c = { info, since: {}, ended: false };
      for (const role of ["caller", "callee"]) {
        const p = info[role];
        c.since[role] = p.state === "HOLD" && p.hold_since ? new Date(p.hold_since)
          : new Date(info.answered_at || info.started_at);
      }
      calls.set(info.call_id, c);
      build(c);
    } else {
      if (c.ended) return c;
      for (const role of ["caller", "callee"]) {
        const was = c.info[role], is = info[role];
        if (was.state !== is.state || was.on_hold_music !== is.on_hold_music || was.hold_media !== is.hold_media) {
          c.since[role] = is.state === "HOLD" && is.hold_since ? new Date(is.hold_since) : now;
        }
      }
      if (!c.info.answered_at && info.answered_at) {
        for (const role of ["caller", "callee"]) if (info[role].state === "LIVE") c.since[role] = new Date(info.answered_at);
      }
      c.info = info;
    }
    if (from === "event") c.evented = true;
    render(c);
    return c;
  }

  function endCall(c, cause) {
    if (c.ended) return;
    c.ended = true;
    c.info.state = "ended";
    render(c);
    c.tbody.classList.add("ended");
    c.meta.textContent = "ended: " + cause;
    const li = document.createElement("li");
    li.dataset.callId = c.info.call_id;
    li.textContent = new Date().toLocaleTimeString() + "  " + c.info.caller.endpoint + " → " + c.info.callee.endpoint + "  " + cause + "  (" + c.info.call_id + ")";
    setTimeout(() => {
      c.tbody.remove();
      calls.delete(c.info.call_id);
      const list = $("ended");
      list.prepend(li);
      while (list.children.length > ENDED_KEEP) list.lastChild.remove();
      counts();
    }, ENDED_LINGER_MS);
  }

  // --- view --------------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(label, cls, onClick) {
    const b = el("button", cls, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  // build makes a call's rows once; render only changes their text and
  // which buttons are visible, so nothing moves when the call changes.
  function build(c) {
    const id = c.info.call_id;
    const tb = el("tbody");
    tb.dataset.callId = id;
    c.tbody = tb;
    c.rows = {};
    for (const role of ["caller", "callee"]) {
      const tr = el("tr");
      tr.dataset.party = role;
      if (role === "caller") {
        const td = el("th", "callcell");
        td.scope = "rowgroup";
        td.rowSpan = 3;
        const idEl = el("div", "callid", id);
        idEl.title = id;
        c.stateEl = el("div", "callmeta");
        c.history = button("History", "history", () => showHistory(id));
        c.history.setAttribute("aria-label", "History of call " + id);
        td.append(idEl, c.stateEl, c.history);
        tr.append(td);
      }
      const r = {
        role: el("td", "role", role),
        ep: el("td", "ep"),
        state: el("span", "badge"),
        moh: el("td", "moh"),
        since: el("span", "timer"),
        hold: button("Hold", "hold", () => op(c, "hold", role)),
        resume: button("Resume", "resume", () => op(c, "unhold", role)),
        // One slot: "Mute" cuts what the party says (direction in);
        // "Unmute" takes off whatever mute it has (both).
        mute: button("Mute", "mute", () => {
          const muted = c.info[role].muted;
          op(c, muted ? "unmute" : "mute", role, muted ? "both" : "in");
        }),
        hangup: button("Hang up", "hangup danger", () => op(c, "hangup", role)),
      };
      const st = el("td", "state"); st.append(r.state);
      const si = el("td", "since"); si.append(r.since);
      const act = el("td"); const box = el("div", "act"); box.append(r.hold, r.resume, r.mute, r.hangup); act.append(box);
      tr.append(r.role, r.ep, st, r.moh, si, act);
      c.rows[role] = r;
      tb.append(tr);
    }
    const tr = el("tr", "metarow");
    c.meta = el("td", "callmeta");
    c.meta.colSpan = 6;
    c.meta.setAttribute("aria-live", "polite");
    tr.append(c.meta);
    tb.append(tr);
    $("calls").append(tb);
    counts();
  }

  function show(b, on, label) {
    b.classList.toggle("off", !on);
    b.disabled = !on;
    b.setAttribute("aria-hidden", on ? "false" : "true");
    if (label) b.setAttribute("aria-label", label);
  }

  function render(c) {
    const info = c.info;
    const answered = info.state === "answered";
    const holders = info.holders || [];
    c.stateEl.textContent = info.state + (holders.length ? " · held by " + holders.join(", ") : "");
    c.tbody.dataset.state = info.state;
    for (const role of ["caller", "callee"]) {
      const p = info[role], r = c.rows[role];
      r.ep.textContent = p.endpoint;
      r.ep.title = p.endpoint + (p.channel_id ? " (" + p.channel_id + ")" : "");
      r.state.textContent = p.state;
      r.state.className = "badge " + p.state;
      // What the held party hears (the music its peer's hold chose), and its mute.
      r.moh.textContent = [p.on_hold_music ? "♪ " + (p.hold_media || "hold music") : "", p.muted ? "muted " + p.muted : ""].filter(Boolean).join(" · ");
      r.moh.title = [p.on_hold_music ? "hears the hold music " + (p.hold_media || "") : "", p.muted ? MUTE_TITLES[p.muted] : ""].filter(Boolean).join("; ");
      r.ep.parentElement.dataset.state = p.state;
      const who = role + " " + p.endpoint;
      // SPEC R1: only the holder may resume; H6: no hang-up on the side that holds.
      show(r.hold, answered && p.state === "LIVE", "Hold " + who);
      show(r.resume, answered && p.state === "HOLD", "Resume " + who);
      // Mute is apart from hold: offered in every state of an answered call.
      r.mute.textContent = p.muted ? "Unmute" : "Mute";
      show(r.mute, answered, (p.muted ? "Unmute " : "Mute ") + who);
      show(r.hangup, !c.ended && p.hangup_allowed !== false, "Hang up (" + who + ")");
    }
    tick(c);
  }

  function fmt(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function tick(c) {
    if (c.ended) return;
    const now = Date.now();
    for (const role of ["caller", "callee"]) {
      const since = c.since[role];
      c.rows[role].since.textContent = fmt(now - since.getTime());
      c.rows[role].since.title = "since " + since.toLocaleTimeString();
    }
  }

  function counts() {
    let n = 0;
    for (const c of calls.values()) if (!c.ended) n++;
    $("count").textContent = String(n);
    $("empty").hidden = calls.size > 0;
  }

  function showMsg(c, isErr, text) {
    c.meta.textContent = text;
    c.meta.classList.toggle("err", isErr);
  }

  async function op(c, what, role, direction) {
    const id = c.info.call_id;
    const path = "/v1/calls/" + encodeURIComponent(id);
    showMsg(c, false, what + " " + role + "…");
    const body = direction ? { party: role, direction } : { party: role };
    try {
      const info = what === "hangup" ? await api("DELETE", path) : await api("POST", path + "/" + what, body);
      if (!c.ended) showMsg(c, false, "");
      if (info && info.call_id) upsert(info, null, "reply");
    } catch (e) {
      if (!c.ended) showMsg(c, true, what + " " + role + " failed: " + e.message + (e.code ? " (" + e.status + " " + e.code + ")" : ""));
    }
  }

  async function showHistory(id) {
    const dlg = $("history");
    const body = $("history-table").tBodies[0];
    body.replaceChildren();
    $("history-h").textContent = "History of " + id;
    $("history-msg").textContent = "loading…";
    dlg.showModal();
    $("history-close").focus();
    try {
      const tl = await api("GET", "/v1/calls/" + encodeURIComponent(id) + "/timeline");
      for (const e of tl.entries || []) {
        const tr = el("tr");
        tr.append(el("td", "timer", new Date(e.time).toLocaleTimeString()), el("td", "", e.kind), el("td", "", e.name),
          el("td", "", e.party || ""), el("td", "", e.status ? String(e.status) : ""), el("td", "", e.detail || ""));
        body.append(tr);
      }
      $("history-msg").textContent = (tl.entries || []).length + " entries" + (tl.dropped ? ", " + tl.dropped + " older ones dropped" : "");
    } catch (e) {
      $("history-msg").textContent = "history failed: " + e.message;
    }
  }

  $("place").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("place-msg");
    const from = $("from").value.trim(), to = $("to").value.trim();
    msg.className = "msg";
    msg.textContent = "calling…";
    try {
      const info = await api("POST", "/v1/calls", { from, to });
      msg.textContent = "placed " + info.call_id;
      upsert(info, null, "reply");
    } catch (err) {
      msg.className = "msg err";
      msg.textContent = "refused: " + err.message + (err.code ? " (" + err.status + " " + err.code + ")" : "");
    }
  });

  setInterval(() => { for (const c of calls.values()) tick(c); }, 1000);

  // start probes the token with a list request before opening the stream.
  async function start() {
    stopStream();
    $("forget").hidden = !token;
    try {
      await api("GET", "/v1/calls");
    } catch (e) {
      if (e.status === 401) return; // askToken is showing
    }
    runStream();
  }
  start();
})();
