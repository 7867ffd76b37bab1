// The built-in web client: plain DOM over the server's own REST API and the client SDK's socket
// (/client.js, built from client/), no framework. The SDK owns the connection: reconnect with backoff,
// catch-up after every `ready` (sync, changes on a rev gap), each message once in seq order, sends
// resent until acknowledged. This file only renders its events. User content only ever goes through
// textContent, never innerHTML.
import { createChatClient } from "/client.js";
import { attachmentNodes, bindAttachments, hasAttachments, takeAttachmentIds, uploading } from "/web/attachments.js";
import { messageLife } from "./message-life.js";
import * as members from "./members.js";

import { bindMessageSearch, resetMessageSearch } from "/web/search.js";
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "chat.token";
const PAGE = 50;

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  me: null,
  users: new Map(), // id -> User
  convs: new Map(), // id -> conversation record (see upsertConversation)
  current: null, // open conversation id
  socket: null, // the SDK's ChatSocket while logged in
  outbox: new Map(), // client_msg_id -> {conversation_id, content, error?}: shown until acknowledged
  typingSentAt: 0,
  found: null, // id of the message a search just jumped to (highlighted for a moment)
  renderOwed: false, // frames arrived during the SDK's catch-up: render once when it ends
  scrollOwed: false, // ... and new messages of the open conversation among them: scroll down then
  selected: new Map(), // new-chat picks: id -> User
};
// Edits, deletes, reactions, replies, mentions and receipts (message-life.js).
const life = messageLife({ state, api, insertMessage, userName: (id) => userName(id), renderList, rerender: () => renderMessages(false), received: (convId, seq) => online() && state.socket.received(convId, seq), catchingUp: () => catchingUp() });
// The token is read before each reconnect, so a logout or a new login is picked up.
const chat = createChatClient({ baseUrl: location.origin, token: () => state.token });
/** Authenticated: frames can be sent now (otherwise REST, or the SDK's resend after `ready`). */
const online = () => !!state.socket && (state.socket.state === "live" || state.socket.state === "syncing");
/** The SDK is catching up after a `ready`: read marks and receipts wait for its `synced`. */
const catchingUp = () => !!state.socket && state.socket.state === "syncing";

// ---------- REST ----------

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.authorization = "Bearer " + state.token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (res.status === 401 && state.token && path !== "/auth/login") logout("Your session has ended; log in again.");
  if (!res.ok) throw Object.assign(new Error((data && data.detail) || res.statusText), { status: res.status });
  return data;
}

// Works on plain http too (crypto.randomUUID needs a secure context; a LAN install may not have TLS).
function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// ---------- auth ----------

function showAuth(message) {
  $("app").hidden = true;
  $("auth").hidden = false;
  $("login-form").reset();
  $("signup-form").reset();
  $("login-form").hidden = false;
  $("signup-form").hidden = true;
  $("auth-error").textContent = message || "";
}

async function login(username, password) {
  const res = await api("POST", "/auth/login", { username, password });
  state.token = res.access_token;
  localStorage.setItem(TOKEN_KEY, state.token);
  await start();
}

function logout(message) {
  state.token = null;
  localStorage.removeItem(TOKEN_KEY);
  const socket = state.socket;
  state.socket = null;
  socket?.close();
  state.convs.clear();
  state.current = null;
  state.outbox.clear();
  state.users.clear();
  state.me = null;
  members.resetMembers();
  resetMessageSearch();
  $("conversation-list").replaceChildren();
  $("messages").replaceChildren();
  $("chat-title").textContent = "Pick a conversation";
  $("chat-sub").textContent = $("typing").textContent = "";
  $("composer").hidden = $("load-earlier").hidden = $("new-chat").hidden = true;
  document.body.classList.remove("show-chat");
  document.title = "Chat";
  showAuth(message);
}

function bindAuthForms() {
  const toggle = (signup) => {
    $("signup-form").hidden = !signup;
    $("login-form").hidden = signup;
    $("auth-error").textContent = "";
  };
  $("show-signup").onclick = (e) => (e.preventDefault(), toggle(true));
  $("show-login").onclick = (e) => (e.preventDefault(), toggle(false));
  $("login-form").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await login(f.get("username"), f.get("password"));
    } catch (err) {
      $("auth-error").textContent = err.message;
    }
  };
  $("signup-form").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { username: f.get("username"), email: f.get("email"), password: f.get("password") };
    if (f.get("full_name")) body.full_name = f.get("full_name");
    try {
      await api("POST", "/auth/signup", body);
      await login(body.username, body.password);
    } catch (err) {
      $("auth-error").textContent = err.message;
    }
  };
  $("logout").onclick = () => logout();
}

async function start() {
  try {
    state.me = await api("GET", "/auth/me");
  } catch (err) {
    return err.status === 401 ? logout() : showAuth("Cannot reach the server: " + err.message);
  }
  state.users.set(state.me.id, state.me);
  $("auth").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = state.me.username;
  await Promise.all([loadConversations(), members.loadBlocks()]);
  connect();
}

// ---------- conversations ----------

const others = (conv) => conv.participants.filter((p) => p.id !== state.me.id);
const userName = (id) => {
  const u = state.users.get(id);
  return u ? u.full_name || u.username : "someone";
};
const title = (conv) => (conv.is_group ? conv.name || "Group" : others(conv).map((u) => u.full_name || u.username).join(", ") || "Just you");
const activity = (conv) => (conv.last_message ? conv.last_message.created_at : conv.updated_at);

function upsertConversation(c) {
  for (const p of c.participants) state.users.set(p.id, p);
  let conv = state.convs.get(c.id);
  if (!conv) {
    conv = { messages: [], loaded: false, reads: new Map(), readFloor: 0, myReadSeq: 0, typing: new Map(), lastSeq: 0 };
    state.convs.set(c.id, conv);
  }
  Object.assign(conv, {
    id: c.id,
    name: c.name,
    is_group: c.is_group,
    participants: c.participants,
    updated_at: c.updated_at,
    unread_count: c.unread_count,
    member_count: c.member_count,
  });
  members.applyConversationFields(conv, c);
  if (c.last_message && c.last_message.seq >= (conv.last_message ? conv.last_message.seq : 0)) conv.last_message = c.last_message;
  conv.lastSeq = Math.max(conv.lastSeq, conv.last_message ? conv.last_message.seq : 0);
  if (conv.last_message && c.unread_count === 0) conv.myReadSeq = Math.max(conv.myReadSeq, conv.last_message.seq);
  return conv;
}

async function loadConversations() {
  const list = await api("GET", "/conversations?limit=100");
  for (const c of list) upsertConversation(c);
  renderList();
  if (state.current) markRead(state.convs.get(state.current));
}

async function fetchConversation(id) {
  const conv = upsertConversation(await api("GET", "/conversations/" + id));
  renderList();
  return conv;
}

function renderList() {
  const convs = [...state.convs.values()].sort((a, b) => members.pinnedFirst(a, b) || (activity(b) > activity(a) ? 1 : -1));
  const items = convs.map((conv) => {
    const li = document.createElement("li");
    li.dataset.id = conv.id;
    if (conv.id === state.current) li.className = "active";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = title(conv);
    if (!conv.is_group && others(conv).some((u) => u.is_online)) name.classList.add("online");
    const preview = document.createElement("span");
    preview.className = "preview";
    const m = conv.last_message;
    preview.textContent = m ? (m.sender_id === state.me.id ? "You: " : conv.is_group ? userName(m.sender_id) + ": " : "") + (m.deleted_at ? "Message deleted" : m.content) : "No messages yet";
    li.append(name, preview);
    if (conv.unread_count > 0 && conv.id !== state.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = conv.unread_count > 99 ? "99+" : String(conv.unread_count);
      li.append(badge);
    }
    members.decorateListItem(li, conv);
    li.onclick = () => openConversation(conv.id);
    return li;
  });
  $("conversation-list").replaceChildren(...items);
  const total = convs.reduce((n, c) => n + (c.id === state.current || c.muted ? 0 : c.unread_count), 0); // muted: not in the total
  document.title = total ? `(${total}) Chat` : "Chat";
}

async function openConversation(id) {
  state.current = id;
  const conv = state.convs.get(id);
  document.body.classList.add("show-chat");
  $("composer").hidden = false;
  renderHeader();
  renderList();
  renderTyping();
  if (!conv.loaded) {
    $("messages").replaceChildren();
    const page = await api("GET", `/conversations/${id}/messages?limit=${PAGE}`);
    if (state.current !== id) return;
    conv.messages = [];
    for (const m of page) insertMessage(conv, m);
    conv.loaded = true;
  }
  renderMessages();
  markRead(conv);
  $("message-input").focus();
}

async function loadEarlier() {
  const conv = state.convs.get(state.current);
  if (!conv || !conv.messages.length) return;
  const page = await api("GET", `/conversations/${conv.id}/messages?limit=${PAGE}&before=${conv.messages[0].seq}`);
  for (const m of page) insertMessage(conv, m);
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  renderMessages(false);
  box.scrollTop = box.scrollHeight - fromBottom;
}

function renderHeader() {
  const conv = state.convs.get(state.current);
  if (!conv) return;
  $("chat-title").textContent = title(conv);
  $("chat-sub").textContent = conv.is_group
    ? conv.participants.map((u) => u.username).join(", ")
    : others(conv).map((u) => (u.is_online ? "online" : "offline")).join("");
  members.renderConversationTools(conv);
}

// ---------- messages ----------

/** Inserts by seq, ignoring duplicates (live events, acks and sync can all carry the same message). */
function insertMessage(conv, m) {
  if (m.sender_id === state.me.id && m.is_read) conv.readFloor = Math.max(conv.readFloor, m.seq);
  if (m.sender_id !== state.me.id && m.is_read) conv.myReadSeq = Math.max(conv.myReadSeq, m.seq);
  const list = conv.messages;
  let i = list.length;
  while (i > 0 && list[i - 1].seq > m.seq) i--;
  if (i > 0 && list[i - 1].seq === m.seq) return false;
  list.splice(i, 0, m);
  return true;
}

function isReadByOthers(conv, m) {
  if (m.seq <= conv.readFloor) return true;
  const rest = others(conv);
  return rest.length > 0 && rest.every((u) => (conv.reads.get(u.id) || 0) >= m.seq);
}

function messageItem(conv, m, pending) {
  const li = document.createElement("li");
  const mine = m.sender_id === state.me.id;
  li.className = "message " + (mine ? "mine" : "theirs") + (pending ? " pending" : "");
  if (m.seq) li.dataset.seq = m.seq;
  if (conv.is_group && !mine) {
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = userName(m.sender_id);
    li.append(who);
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.content;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = m.created_at ? new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  li.append(text, ...attachmentNodes(m), meta);
  if (mine) {
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = pending ? (m.error ? "Not sent: " + m.error : "Sending…") : isReadByOthers(conv, m) ? "Read" : "Sent";
    if (!pending && isReadByOthers(conv, m)) status.classList.add("read");
    li.append(status);
  }
  life.decorate(li, conv, m, pending);
  if (m.id && m.id === state.found) li.classList.add("found"); // a search result just jumped to
  return li;
}

function renderMessages(scroll = true) {
  const conv = state.convs.get(state.current);
  if (!conv) return;
  const items = conv.messages.map((m) => messageItem(conv, m, false));
  for (const [id, p] of state.outbox) {
    if (p.conversation_id === conv.id) items.push(messageItem(conv, { sender_id: state.me.id, content: p.content, error: p.error, client_msg_id: id }, true));
  }
  const box = $("messages");
  box.replaceChildren(...items);
  $("load-earlier").hidden = !(conv.messages.length && conv.messages[0].seq > 1);
  if (scroll) {
    // A message a search just jumped to stays in view while it is highlighted: a frame or a late
    // render of the opened conversation must not scroll the reader away to the bottom.
    const found = state.found && box.querySelector(`li[data-id="${state.found}"]`);
    if (found) found.scrollIntoView({ block: "center" });
    else box.scrollTop = box.scrollHeight;
  }
  life.rendered(conv);
}

function refreshStatuses(conv) {
  if (conv.id !== state.current) return;
  for (const li of $("messages").querySelectorAll("li.mine[data-seq]")) {
    const m = conv.messages.find((x) => x.seq === Number(li.dataset.seq));
    const status = li.querySelector(".status");
    if (!m || !status) continue;
    const read = isReadByOthers(conv, m);
    status.textContent = read ? "Read" : "Sent";
    status.classList.toggle("read", read);
  }
}

async function addMessage(m) {
  let conv = state.convs.get(m.conversation_id);
  if (!conv) conv = await fetchConversation(m.conversation_id).catch(() => null);
  if (!conv) return;
  const isNew = m.seq > conv.lastSeq;
  if (conv.loaded) insertMessage(conv, m);
  if (isNew) {
    conv.lastSeq = m.seq;
    conv.last_message = m;
    if (m.sender_id !== state.me.id && m.seq > conv.myReadSeq) conv.unread_count++;
  }
  conv.typing.delete(m.sender_id);
  // A catch-up can bring hundreds: rendering each would redraw the list hundreds of times.
  if (catchingUp()) {
    state.renderOwed = true;
    if (isNew && conv.id === state.current) state.scrollOwed = true;
    return;
  }
  if (conv.id === state.current) {
    renderMessages();
    renderTyping();
    markRead(conv);
  }
  renderList();
}

/** Marks everything up to the newest message from others read, when the user can see it. */
function markRead(conv) {
  if (!conv || conv.id !== state.current || document.visibilityState !== "visible" || catchingUp()) return;
  const last = [...conv.messages].reverse().find((m) => m.sender_id !== state.me.id);
  if (!last || last.seq <= conv.myReadSeq) {
    if (conv.unread_count) (conv.unread_count = 0), renderList();
    return;
  }
  conv.myReadSeq = last.seq;
  conv.unread_count = 0;
  if (!(online() && state.socket.markRead(last.id))) api("PUT", `/messages/${last.id}/read`).catch(() => (conv.myReadSeq = 0));
  renderList();
}

/** Shown as pending at once; the SDK sends it now or after the next `ready` (same client_msg_id: stored once). */
function sendMessage(content, attachmentIds = []) {
  const conv = state.convs.get(state.current);
  if (!conv || !state.socket) return;
  const id = randomId();
  const p = { conversation_id: conv.id, content, attachment_ids: attachmentIds, reply_to_id: life.takeReplyTo(conv.id) };
  state.outbox.set(id, p);
  renderMessages();
  state.socket.send({ conversation_id: p.conversation_id, content, attachment_ids: attachmentIds, reply_to_id: p.reply_to_id, client_msg_id: id }).then(
    (m) => {
      state.outbox.delete(id);
      void addMessage(m);
    },
    (err) => {
      if (state.outbox.get(id) !== p) return; // logged out meanwhile
      p.error = err.detail || err.message;
      if (p.conversation_id === state.current) renderMessages();
    },
  );
}

// ---------- typing ----------

function renderTyping() {
  const conv = state.convs.get(state.current);
  const names = conv ? [...conv.typing.keys()].map(userName) : [];
  $("typing").textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

async function onTyping(f) {
  if (f.user_id === state.me.id) return;
  // Someone starting a new conversation with us: it shows up as soon as they type.
  const conv = state.convs.get(f.conversation_id) || (await fetchConversation(f.conversation_id).catch(() => null));
  if (!conv) return;
  clearTimeout(conv.typing.get(f.user_id));
  conv.typing.set(
    f.user_id,
    setTimeout(() => {
      conv.typing.delete(f.user_id);
      renderTyping();
    }, 4000),
  );
  renderTyping();
}

// ---------- socket (the SDK's) ----------

function setConn(status) {
  const el = $("conn");
  el.dataset.status = status;
  el.textContent = status === "online" ? "online" : status === "connecting" ? "connecting…" : "reconnecting…";
}

/** The SDK's events this page renders; they have the shapes of the server's frames. */
const RENDERED = ["new_message", "message_updated", "conversation_updated", "conversation_removed", "message_read", "message_delivered", "user_typing", "presence", "error"];

function connect() {
  if (state.socket || !state.token) return;
  setConn("connecting");
  const socket = chat.socket({ maxDelayMs: 15000, heartbeatMs: 20000 });
  state.socket = socket;
  const mine = (handler) => (event) => state.socket === socket && handler(event);
  socket.on("ready", mine(onReady));
  socket.on("synced", mine(onSynced));
  socket.on(
    "disconnected",
    mine((e) => {
      if (e.retryInMs !== null) return setConn("reconnecting");
      state.socket = null;
      logout("Your session has ended; log in again."); // 4401: the token was refused
    }),
  );
  for (const type of RENDERED) socket.on(type, mine(onFrame));
}

/** Caught up: one render, one read mark for the open conversation and one receipt per conversation. */
function onSynced() {
  if (state.renderOwed) {
    renderList();
    // Scrolled down only for new messages, as live ones do (a search jump keeps its place).
    if (state.current) renderMessages(state.scrollOwed), renderTyping();
    state.renderOwed = state.scrollOwed = false;
  }
  if (state.current) markRead(state.convs.get(state.current));
  life.synced();
}

async function onReady() {
  setConn("online");
  // Names, members, counts and conversations started while away come over REST; missed messages and
  // changes come from the SDK's catch-up (after this `ready` it syncs every conversation it follows).
  await loadConversations().catch(() => {});
}

function onFrame(f) {
  if (life.onFrame(f)) return;
  if (members.onConversationFrame(f)) return;
  switch (f.type) {
    case "new_message":
      return void addMessage(f.message);
    case "message_read": {
      const conv = state.convs.get(f.conversation_id);
      if (!conv) return;
      if (f.user_id === state.me.id) {
        conv.myReadSeq = Math.max(conv.myReadSeq, f.last_read_seq);
        if (f.last_read_seq >= conv.lastSeq) conv.unread_count = 0;
        return renderList();
      }
      conv.reads.set(f.user_id, Math.max(conv.reads.get(f.user_id) || 0, f.last_read_seq));
      return refreshStatuses(conv);
    }
    case "user_typing":
      return void onTyping(f);
    case "presence": {
      const u = state.users.get(f.user_id);
      if (u) u.is_online = f.is_online;
      renderList();
      return renderHeader();
    }
    case "error":
      // Errors of sends come back through their send() promise; these answer other frames.
      console.warn("server error frame", f);
      return;
  }
}

// ---------- new chat ----------

let searchTimer = 0;
function bindNewChat() {
  const panel = $("new-chat");
  const reset = () => {
    state.selected.clear();
    $("user-search").value = "";
    $("group-name").value = "";
    $("search-results").replaceChildren();
    renderSelected();
  };
  $("new-chat-btn").onclick = () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) reset(), $("user-search").focus();
  };
  $("cancel-chat").onclick = () => (panel.hidden = true);
  $("user-search").oninput = (e) => {
    clearTimeout(searchTimer);
    const q = e.target.value.trim();
    searchTimer = setTimeout(async () => {
      const users = q ? await api("GET", "/users?limit=10&q=" + encodeURIComponent(q)).catch(() => []) : [];
      $("search-results").replaceChildren(
        ...users
          .filter((u) => u.id !== state.me.id)
          .map((u) => {
            const li = document.createElement("li");
            li.dataset.id = u.id;
            li.textContent = u.full_name ? `${u.username} (${u.full_name})` : u.username;
            li.onclick = () => {
              state.users.set(u.id, u);
              state.selected.set(u.id, u);
              renderSelected();
            };
            return li;
          }),
      );
    }, 150);
  };
  $("create-chat").onclick = async () => {
    const ids = [...state.selected.keys()];
    const name = $("group-name").value.trim();
    const group = ids.length > 1 || name !== "";
    try {
      const c = await api("POST", "/conversations", group ? { participant_ids: ids, name: name || "Group", is_group: true } : { participant_ids: ids });
      upsertConversation(c);
      panel.hidden = true;
      await openConversation(c.id);
    } catch (err) {
      alert(err.message);
    }
  };
}

function renderSelected() {
  const chips = [...state.selected.values()].map((u) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.textContent = u.username + " ×";
    chip.onclick = () => (state.selected.delete(u.id), renderSelected());
    return chip;
  });
  $("selected").replaceChildren(...chips);
  $("create-chat").disabled = state.selected.size === 0;
}

// ---------- composer and page ----------

function bindComposer() {
  const input = $("message-input");
  $("composer").onsubmit = (e) => {
    e.preventDefault();
    const content = input.value.trim();
    if ((!content && !hasAttachments()) || uploading()) return;
    input.value = "";
    sendMessage(content, takeAttachmentIds());
  };
  bindAttachments(() => state.token);
  input.onkeydown = (e) => {
    if (e.key === "Enter" && !e.shiftKey) (e.preventDefault(), $("composer").requestSubmit());
  };
  input.oninput = () => {
    const now = Date.now();
    if (!online() || !state.current || !input.value || now - state.typingSentAt < 2000) return;
    if (state.socket.typing(state.current)) state.typingSentAt = now;
  };
  $("load-earlier").onclick = () => loadEarlier();
  $("back").onclick = () => {
    document.body.classList.remove("show-chat");
    state.current = null;
    renderList();
  };
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.current) markRead(state.convs.get(state.current));
});
// The network is back: no need to wait out the backoff.
window.addEventListener("online", () => state.socket?.reconnectNow());

members.initMembers({ state, api, userName, upsertConversation, renderList, renderHeader });
bindAuthForms();
bindNewChat();
bindComposer();
bindMessageSearch({ api, state, title, userName, fetchConversation, openConversation, insertMessage, renderMessages });
if (state.token) start();
else showAuth();
