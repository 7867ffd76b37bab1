// Generated from client/ by `bun run build:client`: do not edit. Served at /client.js; the built-in
// web client imports it. CI (`bun run build:client --check`) fails when it is out of date.
// node_modules/@elysiajs/eden/dist/chunk-I5KHAGLL.mjs
var d = class extends Error {
  constructor(e, s) {
    super(s + "");
    this.status = e;
    this.value = s;
  }
};
var i = /(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+([+-][0-2]\d:[0-5]\d|Z))|(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z))|(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z))/;
var o = /(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s\d{2}\s\d{4}\s\d{2}:\d{2}:\d{2}\sGMT(?:\+|-)\d{4}\s\([^)]+\)/;
var u = /^(?:(?:(?:(?:0?[1-9]|[12][0-9]|3[01])[/\s-](?:0?[1-9]|1[0-2])[/\s-](?:19|20)\d{2})|(?:(?:19|20)\d{2}[/\s-](?:0?[1-9]|1[0-2])[/\s-](?:0?[1-9]|[12][0-9]|3[01]))))(?:\s(?:1[012]|0?[1-9]):[0-5][0-9](?::[0-5][0-9])?(?:\s[AP]M)?)?$/;
var c = (t) => t.trim().length !== 0 && !Number.isNaN(Number(t));
var a = (t, r) => {
  if (typeof t != "string" || r?.parseDate === false)
    return null;
  let e = t.replace(/"/g, "");
  if (i.test(e) || o.test(e) || u.test(e)) {
    let s = new Date(e);
    if (!Number.isNaN(s.getTime()))
      return s;
  }
  return null;
};
var p = (t) => {
  let r = t.charCodeAt(0), e = t.charCodeAt(t.length - 1);
  return r === 123 && e === 125 || r === 91 && e === 93;
};
var f = (t, r) => JSON.parse(t, (e, s) => {
  let n = a(s, r);
  return n || s;
});
var g = (t, r) => {
  if (!t)
    return t;
  if (c(t))
    return +t;
  if (t === "true")
    return true;
  if (t === "false")
    return false;
  if (r?.parseDate !== false) {
    let e = a(t, r);
    if (e)
      return e;
  }
  if (p(t))
    try {
      return f(t, r);
    } catch {}
  return t;
};
var S = (t, r) => {
  let e = t.data.toString();
  return e === "null" ? null : g(e, r);
};

// node_modules/@elysiajs/eden/dist/chunk-TTKI5TQ7.mjs
var C = class {
  constructor(t) {
    this.url = t;
    this.ws = new WebSocket(t);
  }
  ws;
  send(t) {
    return Array.isArray(t) ? (t.forEach((n) => this.send(n)), this) : (this.ws.send(typeof t == "object" ? JSON.stringify(t) : t.toString()), this);
  }
  on(t, n, r) {
    return this.addEventListener(t, n, r);
  }
  off(t, n, r) {
    return this.ws.removeEventListener(t, n, r), this;
  }
  subscribe(t, n) {
    return this.addEventListener("message", t, n);
  }
  addEventListener(t, n, r) {
    return this.ws.addEventListener(t, (o) => {
      if (t === "message") {
        let i = S(o);
        n({ ...o, data: i });
      } else
        n(o);
    }, r), this;
  }
  removeEventListener(t, n, r) {
    return this.off(t, n, r), this;
  }
  close() {
    return this.ws.close(), this;
  }
};
var X = ["get", "post", "put", "delete", "patch", "options", "head", "connect", "subscribe"];
var P = (e, t) => typeof t == "function" ? t(e) : t === true;
var _ = ["localhost", "127.0.0.1", "0.0.0.0"];
var q = typeof FileList > "u";
var H = (e) => q ? e instanceof Blob : e instanceof FileList || e instanceof File;
var Y = (e) => {
  if (!e)
    return false;
  for (let t in e)
    if (H(e[t]) || Array.isArray(e[t]) && e[t].find(H))
      return true;
  return false;
};
var K = (e) => q ? e : new Promise((t) => {
  let n = new FileReader;
  n.onload = () => {
    let r = new File([n.result], e.name, { lastModified: e.lastModified, type: e.type });
    t(r);
  }, n.readAsArrayBuffer(e);
});
var A = async (e, t, n = {}, r = {}) => {
  if (Array.isArray(e)) {
    for (let o of e)
      if (!Array.isArray(o))
        r = await A(o, t, n, r);
      else {
        let i = o[0];
        if (typeof i == "string")
          r[i.toLowerCase()] = o[1];
        else
          for (let [s, u] of i)
            r[s.toLowerCase()] = u;
      }
    return r;
  }
  if (!e)
    return r;
  switch (typeof e) {
    case "function":
      if (e instanceof Headers)
        return A(e, t, n, r);
      let o = await e(t, n);
      return o ? A(o, t, n, r) : r;
    case "object":
      if (e instanceof Headers)
        return e.forEach((i, s) => {
          r[s.toLowerCase()] = i;
        }), r;
      for (let [i, s] of Object.entries(e))
        r[i.toLowerCase()] = s;
      return r;
    default:
      return r;
  }
};
function V(e, t) {
  let n = e.split(`
`), r = {};
  for (let o of n) {
    if (!o || o.startsWith(":"))
      continue;
    let i = o.indexOf(":");
    if (i > 0) {
      let s = o.slice(0, i).trim(), u = o.slice(i + 1).replace(/^ /, "");
      r[s] = u && g(u, t);
    }
  }
  return Object.keys(r).length > 0 ? r : null;
}
function* B(e, t) {
  let n;
  for (;(n = e.value.indexOf(`

`)) !== -1; ) {
    let r = e.value.slice(0, n);
    if (e.value = e.value.slice(n + 2), r.trim()) {
      let o = V(r, t);
      o && (yield o);
    }
  }
}
async function* U(e, t) {
  let n = e.body;
  if (!n)
    return;
  let r = n.getReader(), o = new TextDecoder("utf-8");
  if (e.headers.get("Content-Type")?.startsWith("text/event-stream")) {
    let i = { value: "" };
    try {
      for (;; ) {
        let { done: u, value: x } = await r.read();
        if (u)
          break;
        let m = typeof x == "string" ? x : o.decode(x, { stream: true });
        i.value += m, yield* B(i, t);
      }
      let s = o.decode();
      if (s && (i.value += s), yield* B(i, t), i.value.trim()) {
        let u = V(i.value, t);
        u && (yield u);
      }
    } finally {
      r.releaseLock();
    }
  } else
    try {
      for (;; ) {
        let { done: i, value: s } = await r.read();
        if (i)
          break;
        yield g(typeof s == "string" ? s : o.decode(s, { stream: true }), { parseDate: t?.parseDate });
      }
    } finally {
      r.releaseLock();
    }
}
var L = (e, t, n = [], r) => new Proxy(() => {}, { get(o, i) {
  if (i === "~path")
    return "/" + n.join("/");
  if (!(n.length === 0 && (i === "then" || i === "catch" || i === "finally")))
    return L(e, t, [...n, i], r);
}, apply(o, i, [s, u]) {
  if (!s || u || typeof s == "object" && Object.keys(s).length !== 1 || X.includes(n.at(-1))) {
    let x = [...n], m = x.pop(), b = "/" + x.join("/"), { fetcher: G = fetch, headers: R, onRequest: g2, onResponse: D, fetch: $ } = t, E = m === "get" || m === "head" || m === "subscribe", M = E ? s?.query : u?.query, F = "";
    if (M) {
      let a = (k, d) => {
        d != null && (d instanceof Date && (d = d.toISOString()), F += (F ? "&" : "?") + `${encodeURIComponent(k)}=${encodeURIComponent(typeof d == "object" ? JSON.stringify(d) : d + "")}`);
      };
      for (let [k, d] of Object.entries(M)) {
        if (Array.isArray(d)) {
          for (let T of d)
            a(k, T);
          continue;
        }
        a(k, d);
      }
    }
    if (m === "subscribe") {
      let a = e.replace(/^([^]+):\/\//, e.startsWith("https://") ? "wss://" : e.startsWith("http://") || _.find((k) => e.includes(k)) ? "ws://" : "wss://") + b + F;
      return new C(a);
    }
    return (async () => {
      R = await A(R, b, u);
      let a2 = { method: m?.toUpperCase(), body: s, ...$, headers: R };
      a2.headers = { ...R, ...await A(E ? s?.headers : u?.headers, b, a2) };
      let k = E && typeof s == "object" ? s.fetch : u?.fetch, T = (E && typeof s == "object" ? s.throwHttpError : u?.throwHttpError) ?? t.throwHttpError;
      if (a2 = { ...a2, ...k }, E && delete a2.body, g2) {
        Array.isArray(g2) || (g2 = [g2]);
        for (let y of g2) {
          let c = await y(b, a2);
          typeof c == "object" && (a2 = { ...a2, ...c, headers: { ...a2.headers, ...await A(c.headers, b, a2) } });
        }
      }
      if (E && delete a2.body, Y(s)) {
        let y = new FormData, c = (f) => {
          if (typeof f == "string" || H(f))
            return false;
          if (typeof f == "object") {
            if (f !== null)
              return true;
            if (f instanceof Date)
              return false;
          }
          return false;
        }, w = async (f) => f instanceof File ? await K(f) : c(f) ? JSON.stringify(f) : f;
        for (let [f, p] of Object.entries(a2.body)) {
          if (Array.isArray(p)) {
            if (p.some((S) => typeof S == "object" && S !== null && !H(S)))
              y.append(f, JSON.stringify(p));
            else
              for (let S = 0;S < p.length; S++) {
                let z = p[S], Q = await w(z);
                y.append(f, Q);
              }
            continue;
          }
          if (q) {
            if (Array.isArray(p))
              for (let O of p)
                y.append(f, await w(O));
            else
              y.append(f, await w(p));
            continue;
          }
          if (p instanceof File) {
            y.append(f, await K(p));
            continue;
          }
          if (p instanceof FileList) {
            for (let O = 0;O < p.length; O++)
              y.append(f, await K(p[O]));
            continue;
          }
          y.append(f, await w(p));
        }
        a2.body = y;
      } else
        typeof s == "object" ? (a2.headers["content-type"] = "application/json", a2.body = JSON.stringify(s)) : s != null && (a2.headers["content-type"] = "text/plain");
      if (E && delete a2.body, g2) {
        Array.isArray(g2) || (g2 = [g2]);
        for (let y of g2) {
          let c = await y(b, a2);
          typeof c == "object" && (a2 = { ...a2, ...c, headers: { ...a2.headers, ...await A(c.headers, b, a2) } });
        }
      }
      u?.headers?.["content-type"] && (a2.headers["content-type"] = u?.headers["content-type"]);
      let I = e + b + F, l;
      try {
        l = await (r?.handle(new Request(I, a2)) ?? G(I, a2));
      } catch (y) {
        let c = new d(503, y);
        if (P(c, T))
          throw c;
        return { data: null, error: c, response: undefined, status: 503, headers: undefined };
      }
      let h = null, v = null;
      if (D) {
        Array.isArray(D) || (D = [D]);
        for (let y of D)
          try {
            let c = await y(l.clone());
            if (c != null) {
              h = c;
              break;
            }
          } catch (c) {
            c instanceof d ? v = c : v = new d(422, c);
            break;
          }
      }
      if (h !== null)
        return { data: h, error: v, response: l, status: l.status, headers: l.headers };
      switch (l.headers.get("Content-Type")?.split(";")[0]) {
        case "text/event-stream":
          h = U(l, { parseDate: t.parseDate });
          break;
        case "application/json":
          h = JSON.parse(await l.text(), (c, w) => {
            if (typeof w != "string")
              return w;
            let f = a(w, { parseDate: t.parseDate });
            return f || w;
          });
          break;
        case "application/octet-stream":
          h = await l.arrayBuffer();
          break;
        case "multipart/form-data":
          let y = await l.formData();
          h = {}, y.forEach((c, w) => {
            h[w] = c;
          });
          break;
        default:
          l.headers.get("content-type")?.startsWith("text/") && l.headers.get("transfer-encoding") === "chunked" && !l.headers.has("content-length") ? h = U(l, { parseDate: t.parseDate }) : h = await l.text().then((c) => g(c, { parseDate: t.parseDate }));
      }
      if (l.status >= 300 || l.status < 200) {
        if (v = new d(l.status, h), P(v, T))
          throw v;
        h = null;
      }
      return { data: h, error: v, response: l, status: l.status, headers: l.headers };
    })();
  }
  return typeof s == "object" ? L(e, t, [...n, Object.values(s)[0]], r) : L(e, t, n);
} });
var se = (e, t = {}) => typeof e == "string" ? (t.keepDomain || (e.includes("://") || (e = (_.find((n) => e.includes(n)) ? "http://" : "https://") + e), e.endsWith("/") && (e = e.slice(0, -1))), L(e, t)) : (typeof window < "u" && console.warn("Elysia instance server found on client side, this is not recommended for security reason. Use generic type instead."), L("http://e.ly", t, [], e));

// client/cursors.ts
var MESSAGE_REVS_KEPT = 1e4;

class Cursors {
  seqs = new Map;
  revs = new Map;
  messageRevs = new Map;
  constructor(since = {}, revs = {}) {
    for (const [id, seq] of Object.entries(since))
      this.seqs.set(id, seq);
    for (const [id, rev] of Object.entries(revs))
      this.revs.set(id, rev);
  }
  has(conversationId) {
    return this.seqs.has(conversationId);
  }
  position(conversationId) {
    return this.seqs.get(conversationId) ?? 0;
  }
  revision(conversationId) {
    return this.revs.get(conversationId);
  }
  follow(conversationId, seq, rev) {
    if (!this.seqs.has(conversationId))
      this.seqs.set(conversationId, seq);
    if (rev !== undefined && !this.revs.has(conversationId))
      this.revs.set(conversationId, rev);
  }
  forget(conversationId) {
    this.seqs.delete(conversationId);
    this.revs.delete(conversationId);
  }
  placeMessage(conversationId, seq) {
    const at = this.seqs.get(conversationId) ?? 0;
    if (!this.seqs.has(conversationId))
      this.seqs.set(conversationId, at);
    if (seq <= at)
      return "duplicate";
    if (seq > at + 1)
      return "gap";
    this.seqs.set(conversationId, seq);
    return "deliver";
  }
  placeRev(conversationId, rev) {
    if (rev === undefined)
      return "apply";
    const known = this.revs.get(conversationId);
    if (known !== undefined && rev <= known)
      return "stale";
    if (known !== undefined && rev > known + 1)
      return "gap";
    this.revs.set(conversationId, rev);
    return "apply";
  }
  caughtUpTo(conversationId, rev) {
    if ((this.revs.get(conversationId) ?? -1) < rev)
      this.revs.set(conversationId, rev);
  }
  freshMessageState(messageId, rev) {
    if (rev === undefined)
      return true;
    const shown = this.messageRevs.get(messageId);
    if (shown !== undefined && rev <= shown)
      return false;
    if (this.messageRevs.size >= MESSAGE_REVS_KEPT)
      this.messageRevs.delete(this.messageRevs.keys().next().value);
    this.messageRevs.set(messageId, rev);
    return true;
  }
  since() {
    return Object.fromEntries(this.seqs);
  }
  revisions() {
    return Object.fromEntries(this.revs);
  }
  syncFrame() {
    return this.revs.size > 0 ? { type: "sync", since: this.since(), revs: this.revisions() } : { type: "sync", since: this.since() };
  }
}

// client/socket.ts
class ChatSendError extends Error {
  code;
  detail;
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

class ChatSocket {
  internals;
  options;
  ws = null;
  cursors;
  handlers = new Map;
  pending = new Map;
  startFromNow;
  fromPresent;
  attempt = 0;
  retryTimer = null;
  heartbeat = null;
  lastFrameAt = 0;
  held = null;
  syncing = false;
  syncAgain = false;
  state = "connecting";
  constructor(internals, options = {}) {
    this.internals = internals;
    this.options = options;
    this.cursors = new Cursors(options.since, options.revs);
    this.startFromNow = options.since === undefined;
    this.fromPresent = options.since === undefined;
    this.connect();
  }
  on(type, handler) {
    let set = this.handlers.get(type);
    if (!set)
      this.handlers.set(type, set = new Set);
    set.add(handler);
    return () => set.delete(handler);
  }
  send(input) {
    const frame = { ...input, type: "message", client_msg_id: input.client_msg_id ?? crypto.randomUUID() };
    const known = this.pending.get(frame.client_msg_id);
    if (known)
      return new Promise((resolve, reject) => this.pending.set(frame.client_msg_id, chain(known, resolve, reject)));
    if (this.state === "closed")
      return Promise.reject(new ChatSendError("socket_closed", "The socket is closed"));
    return new Promise((resolve, reject) => {
      this.pending.set(frame.client_msg_id, { frame, resolve, reject });
      if (this.state === "syncing" || this.state === "live")
        this.write(frame);
    });
  }
  markRead(messageId) {
    return this.writeWhenReady({ type: "mark_read", message_id: messageId });
  }
  typing(conversationId) {
    return this.writeWhenReady({ type: "typing", conversation_id: conversationId });
  }
  received(conversationId, seq) {
    return this.writeWhenReady({ type: "received", conversation_id: conversationId, seq });
  }
  reconnectNow() {
    if (this.state !== "connecting" || !this.retryTimer)
      return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.connect();
  }
  positions() {
    return this.cursors.since();
  }
  revisions() {
    return this.cursors.revisions();
  }
  close() {
    if (this.state === "closed")
      return;
    this.state = "closed";
    if (this.retryTimer)
      clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    this.ws?.close(1000, "client closed");
    for (const p of this.pending.values())
      p.reject(new ChatSendError("socket_closed", "The socket closed before the server acknowledged"));
    this.pending.clear();
  }
  emit(type, event) {
    for (const handler of this.handlers.get(type) ?? []) {
      try {
        handler(event);
      } catch (error) {
        console.error("chat client: an event handler threw", error);
      }
    }
  }
  write(frame) {
    if (this.ws?.readyState !== 1)
      return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
  writeWhenReady(frame) {
    return (this.state === "syncing" || this.state === "live") && this.write(frame);
  }
  async connect() {
    if (this.state === "closed")
      return;
    this.state = "connecting";
    this.syncing = false;
    this.syncAgain = false;
    this.held = null;
    if (this.startFromNow) {
      try {
        for (const c of await this.internals.discover())
          this.cursors.follow(c.id, c.seq, c.rev);
        this.startFromNow = false;
      } catch (error) {
        if (error.status === 401)
          return this.giveUp(4401, "token refused");
        return this.retryLater(0, "could not list conversations");
      }
      if (this.state === "closed")
        return;
    }
    const Socket = this.options.WebSocket ?? WebSocket;
    const ws = new Socket(this.internals.url);
    this.ws = ws;
    ws.onopen = async () => {
      const token = await this.internals.token().catch(() => null);
      if (this.ws === ws)
        ws.send(JSON.stringify({ token: token ?? "" }));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws)
        return;
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (this.held && frame.type !== "ready")
        this.held.push(frame);
      else
        this.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws)
        return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.state === "closed")
        return;
      if (event.code === 4401)
        return this.giveUp(event.code, event.reason);
      this.retryLater(event.code, event.reason);
    };
  }
  giveUp(code, reason) {
    this.emit("disconnected", { type: "disconnected", code, reason, retryInMs: null });
    this.close();
  }
  retryLater(code, reason) {
    const delay = this.nextDelay();
    this.state = "connecting";
    this.emit("disconnected", { type: "disconnected", code, reason, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
  nextDelay() {
    const min = this.options.minDelayMs ?? 250;
    const max = this.options.maxDelayMs ?? 30000;
    const step = Math.min(max, min * 2 ** this.attempt++);
    return Math.round(step / 2 + Math.random() * step / 2);
  }
  startHeartbeat() {
    const every = this.options.heartbeatMs ?? 25000;
    if (!every)
      return;
    this.heartbeat = setInterval(() => {
      const quiet = Date.now() - this.lastFrameAt;
      if (quiet >= 2 * every)
        this.abandon(4000, "no answer to ping");
      else if (quiet >= every)
        this.write({ type: "ping" });
    }, every / 2);
  }
  abandon(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    ws?.close(code, reason);
    if (this.state !== "closed")
      this.retryLater(code, reason);
  }
  stopHeartbeat() {
    if (this.heartbeat)
      clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
  async onReady() {
    const ws = this.ws;
    this.attempt = 0;
    this.state = "syncing";
    this.startHeartbeat();
    for (const p of this.pending.values())
      this.write(p.frame);
    this.held = [];
    try {
      for (const c of await this.internals.discover())
        this.cursors.follow(c.id, 0, c.rev);
    } catch {}
    if (this.ws !== ws)
      return;
    const held = this.held;
    this.held = null;
    this.requestSync();
    for (const frame of held)
      this.handle(frame);
  }
  requestSync() {
    if (this.state !== "syncing" && this.state !== "live")
      return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    this.syncAgain = false;
    this.write(this.cursors.syncFrame());
  }
  handle(frame) {
    switch (frame.type) {
      case "ready":
        this.emit("ready", frame);
        this.onReady();
        return;
      case "new_message":
        return this.onMessage(frame.message, frame.rev, frame);
      case "message_ack": {
        const p = frame.client_msg_id === null ? undefined : this.pending.get(frame.client_msg_id);
        this.pending.delete(frame.client_msg_id ?? "");
        p?.resolve(frame.message);
        return;
      }
      case "sync_done":
        this.syncing = false;
        if (frame.has_more || this.syncAgain)
          return this.requestSync();
        this.state = "live";
        this.emit("synced", { type: "synced" });
        return;
      case "error": {
        const p = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
        if (!p)
          return this.emit("error", frame);
        this.pending.delete(frame.ref);
        p.reject(new ChatSendError(frame.code, frame.detail));
        return;
      }
      case "changes":
        return this.onChanges(frame);
      case "message_updated": {
        const conversationId = frame.message.conversation_id;
        const applied = this.cursors.revision(conversationId);
        const placed = this.cursors.placeRev(conversationId, frame.rev);
        if (placed === "gap")
          return this.requestSync();
        const current = placed === "apply" || frame.rev !== undefined && frame.rev === applied;
        if (current && this.cursors.freshMessageState(frame.message.id, frame.message.rev))
          this.emit("message_updated", frame);
        return;
      }
      case "conversation_updated": {
        const placed = this.cursors.placeRev(frame.conversation.id, frame.rev);
        this.cursors.follow(frame.conversation.id, this.fromPresent ? frame.conversation.last_message?.seq ?? 0 : 0);
        if (placed === "gap")
          return this.requestSync();
        if (placed === "apply")
          this.emit("conversation_updated", frame);
        return;
      }
      case "conversation_removed":
        this.cursors.forget(frame.conversation_id);
        return this.emit("conversation_removed", frame);
      case "message_read":
      case "user_typing":
      case "presence":
      case "message_delivered":
        return this.emit(frame.type, frame);
      case "pong":
        return;
    }
  }
  onMessage(message, rev, frame) {
    const conversationId = message.conversation_id;
    const placed = this.cursors.placeMessage(conversationId, message.seq);
    if (placed === "gap")
      return this.requestSync();
    if (placed === "duplicate")
      return;
    if (this.cursors.placeRev(conversationId, rev) === "gap")
      this.requestSync();
    this.cursors.freshMessageState(message.id, message.rev);
    this.emit("new_message", frame ?? { type: "new_message", message, rev, timestamp: message.created_at });
  }
  onChanges(frame) {
    const conversationId = frame.conversation_id;
    for (const message of frame.messages) {
      if (message.seq > this.cursors.position(conversationId)) {
        this.onMessage(message, undefined);
      } else if (this.cursors.freshMessageState(message.id, message.rev)) {
        this.emit("message_updated", { type: "message_updated", message, rev: message.rev });
      }
    }
    if (frame.conversation)
      this.emit("conversation_updated", { type: "conversation_updated", conversation: frame.conversation, rev: frame.rev });
    this.cursors.caughtUpTo(conversationId, frame.rev);
    if (frame.has_more)
      this.syncAgain = true;
  }
}
function chain(first, resolve, reject) {
  return {
    frame: first.frame,
    resolve: (m) => (first.resolve(m), resolve(m)),
    reject: (e) => (first.reject(e), reject(e))
  };
}

// client/index.ts
var DISCOVERY_PAGE = 100;
function createChatClient(options) {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  let token = options.token;
  const currentToken = async () => typeof token === "function" ? await token() : token;
  const api = se(baseUrl, {
    parseDate: false,
    ...options.fetch ? { fetcher: options.fetch } : {},
    headers: async () => {
      const current = await currentToken();
      return current ? { authorization: `Bearer ${current}` } : undefined;
    }
  });
  async function discover() {
    const found = [];
    for (let offset = 0;; offset += DISCOVERY_PAGE) {
      const page = await api.api.v1.conversations.get({ query: { limit: DISCOVERY_PAGE, offset } });
      if (page.error)
        throw page.error;
      for (const c of page.data) {
        const rev = c.rev;
        found.push({ id: c.id, seq: c.last_message?.seq ?? 0, ...typeof rev === "number" ? { rev } : {} });
      }
      if (page.data.length < DISCOVERY_PAGE)
        return found;
    }
  }
  return {
    api,
    setToken(next) {
      token = next;
    },
    token: currentToken,
    async login(username, password) {
      const res = await api.api.v1.auth.login.post({ username, password });
      if (res.error)
        throw res.error;
      token = res.data.access_token;
      return res.data;
    },
    socket(socketOptions = {}) {
      const url = baseUrl.replace(/^http/, "ws") + "/api/v1/ws";
      return new ChatSocket({ url, token: currentToken, discover }, { WebSocket: options.WebSocket, ...socketOptions });
    }
  };
}
export {
  ChatSendError,
  ChatSocket,
  createChatClient
};
