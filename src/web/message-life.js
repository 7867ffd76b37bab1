// Message life in the built-in client (issue 13): edit and delete your messages, react, reply
// (quoting the parent), mentions highlighted, "Delivered"/"Read" marks; applies message_updated by
// id. Revs are the SDK's business: on a rev gap or a reconnect it asks for `changes` and hands each
// missed state here as one more message_updated. app.js calls the hooks below; user content only
// ever goes through textContent.
const QUICK = ["👍", "❤️", "😂", "🎉", "😮"];

export function messageLife(app) {
  const { state } = app;
  const delivered = new Map(); // conversation id -> Map(user id -> last_delivered_seq)
  const reported = new Map(); // conversation id -> highest seq sent in a `received`
  const owed = new Map(); // conversation id -> highest seq to report when the SDK's catch-up ends
  const receiptsLoaded = new Set();
  let replyTo = null; // {conversation_id, message}
  let editing = null; // message id being edited
  let draft = null; // its text so far (frames re-render the list meanwhile)

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const rerender = (convId) => {
    if (app.catchingUp()) return void (state.renderOwed = true); // app.js renders once when the catch-up ends
    if (convId === state.current) app.rerender();
    app.renderList();
  };

  /** Replaces the message by id (edits, tombstones, reactions, reply counts), or inserts it. */
  function apply(m) {
    const conv = state.convs.get(m.conversation_id);
    if (!conv) return;
    const i = conv.messages.findIndex((x) => x.id === m.id);
    if (i >= 0) conv.messages[i] = m;
    else if (conv.loaded) app.insertMessage(conv, m);
    if (conv.last_message && conv.last_message.id === m.id) conv.last_message = m;
  }

  function sendReceived(convId, seq) {
    if (!seq || seq <= (reported.get(convId) || 0)) return;
    // A catch-up brings messages in a burst (hundreds after a long absence): one receipt per
    // conversation when it ends, not one frame per message (the server closes flooding sockets).
    if (app.catchingUp()) return void owed.set(convId, Math.max(owed.get(convId) || 0, seq));
    if (app.received(convId, seq)) reported.set(convId, seq); // else: again when the next one shows
  }

  async function loadReceipts(conv) {
    receiptsLoaded.add(conv.id);
    try {
      const list = await app.api("GET", `/conversations/${conv.id}/receipts`);
      const map = delivered.get(conv.id) || new Map();
      for (const r of list) {
        map.set(r.user_id, Math.max(map.get(r.user_id) || 0, r.last_delivered_seq));
        if (r.user_id !== state.me.id) conv.reads.set(r.user_id, Math.max(conv.reads.get(r.user_id) || 0, r.last_read_seq));
      }
      delivered.set(conv.id, map);
      rerender(conv.id);
    } catch {
      receiptsLoaded.delete(conv.id);
    }
  }

  const othersOf = (conv) => conv.participants.filter((p) => p.id !== state.me.id);
  const deliveredToAll = (conv, m) => {
    const map = delivered.get(conv.id);
    const rest = othersOf(conv);
    return !!map && rest.length > 0 && rest.every((u) => Math.max(map.get(u.id) || 0, conv.reads.get(u.id) || 0) >= m.seq);
  };

  async function call(method, path, body) {
    try {
      const m = await app.api(method, path, body);
      if (m && m.id) apply(m);
    } catch (err) {
      alert(err.message);
    }
    rerender(state.current);
  }
  const react = (m, emoji, on) => call(on ? "PUT" : "DELETE", `/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`);

  /** The text with @mentions of the message's mentioned members in their own spans. */
  function fillText(span, m) {
    const names = new Map();
    for (const id of m.mentions || []) {
      const u = state.users.get(id);
      if (u) names.set(u.username.toLowerCase(), id);
    }
    if (!names.size) return;
    span.replaceChildren();
    for (const part of m.content.split(/(@[A-Za-z0-9_.-]+)/)) {
      const id = part.startsWith("@") && (names.get(part.slice(1).toLowerCase()) || names.get(part.slice(1).replace(/[.-]+$/, "").toLowerCase()));
      if (!id) {
        span.append(part);
        continue;
      }
      span.append(el("span", "mention" + (id === state.me.id ? " me" : ""), part));
    }
  }

  function editor(li, m) {
    const box = el("div", "edit-box");
    const input = el("textarea");
    input.value = draft ?? m.content;
    input.oninput = () => (draft = input.value);
    input.maxLength = 4000;
    const save = el("button", "", "Save");
    const cancel = el("button", "link", "Cancel");
    save.type = cancel.type = "button";
    save.onclick = () => {
      editing = null;
      void call("PATCH", `/messages/${m.id}`, { content: input.value });
    };
    cancel.onclick = () => {
      editing = null;
      rerender(state.current);
    };
    input.onkeydown = (e) => {
      if (e.key === "Enter" && !e.shiftKey) (e.preventDefault(), save.click());
      if (e.key === "Escape") cancel.click();
    };
    box.append(input, save, cancel);
    li.querySelector(".text").replaceWith(box);
    queueMicrotask(() => input.focus());
  }

  function actions(li, conv, m, mine) {
    const bar = el("div", "actions");
    const button = (label, title, onclick) => {
      const b = el("button", "link", label);
      b.type = "button";
      b.title = title;
      b.onclick = onclick;
      bar.append(b);
      return b;
    };
    button("Reply", "Reply", () => setReplyTo(conv, m));
    for (const emoji of QUICK) {
      const mineAlready = (m.reactions || []).some((r) => r.emoji === emoji && r.me);
      button(emoji, `React ${emoji}`, () => react(m, emoji, !mineAlready));
    }
    if (mine) {
      button("Edit", "Edit", () => {
        editing = m.id;
        draft = null;
        editor(li, m);
      });
      const del = button("Delete", "Delete", () => {
        if (del.dataset.armed) return void call("DELETE", `/messages/${m.id}`);
        del.dataset.armed = "1";
        del.textContent = "Delete?";
      });
    }
    li.append(bar);
  }

  function setReplyTo(conv, m) {
    replyTo = m ? { conversation_id: conv.id, message: m } : null;
    renderReplyBar();
    document.getElementById("message-input").focus();
  }

  function renderReplyBar() {
    let bar = document.getElementById("reply-bar");
    if (!bar) {
      bar = el("div", "reply-bar");
      bar.id = "reply-bar";
      document.getElementById("composer").before(bar);
    }
    const active = replyTo && replyTo.conversation_id === state.current;
    bar.hidden = !active;
    if (!active) return;
    const cancel = el("button", "link", "×");
    cancel.type = "button";
    cancel.title = "Cancel reply";
    cancel.onclick = () => setReplyTo(null, null);
    bar.replaceChildren(el("span", "", `Replying to ${app.userName(replyTo.message.sender_id)}: ${replyTo.message.content.slice(0, 80)}`), cancel);
  }

  return {
    /** The reply target for the message being sent now (then the composer forgets it). */
    takeReplyTo(convId) {
      if (!replyTo || replyTo.conversation_id !== convId) return undefined;
      const id = replyTo.message.id;
      setReplyTo(null, null);
      return id;
    },

    /** The SDK's catch-up is done: the receipts it owes, one per conversation. */
    synced() {
      const due = [...owed];
      owed.clear();
      for (const [convId, seq] of due) sendReceived(convId, seq);
    },

    /** Every SDK event first; true when handled here. */
    onFrame(f) {
      const convId = f.conversation_id || (f.message && f.message.conversation_id) || (f.conversation && f.conversation.id);
      switch (f.type) {
        case "new_message":
          if (f.message.sender_id !== state.me.id) sendReceived(convId, f.message.seq);
          return false;
        case "message_updated":
          apply(f.message);
          rerender(convId);
          return true;
        case "message_delivered": {
          const map = delivered.get(convId) || new Map();
          map.set(f.user_id, Math.max(map.get(f.user_id) || 0, f.last_delivered_seq));
          delivered.set(convId, map);
          rerender(convId);
          return true;
        }
        case "message_read":
          // After app.js has moved the read cursor: "Delivered" marks come back.
          queueMicrotask(() => rerender(convId));
          return false;
      }
      return false;
    },

    /** After the open conversation rendered: report what it shows, load receipts once. */
    rendered(conv) {
      renderReplyBar();
      const last = [...conv.messages].reverse().find((m) => m.sender_id !== state.me.id);
      if (last) sendReceived(conv.id, last.seq);
      if (!receiptsLoaded.has(conv.id)) void loadReceipts(conv);
    },

    /** Decorates one rendered message (app.js messageItem). */
    decorate(li, conv, m, pending) {
      if (pending || !m.id) return;
      const mine = m.sender_id === state.me.id;
      li.dataset.id = m.id;
      const text = li.querySelector(".text");
      if (m.deleted_at) {
        li.classList.add("deleted");
        text.textContent = "Message deleted";
        return;
      }
      fillText(text, m);
      if ((m.mentions || []).includes(state.me.id)) li.classList.add("mentions-me");
      if (m.reply_to_id) {
        const parent = conv.messages.find((x) => x.id === m.reply_to_id);
        const quote = parent
          ? `${app.userName(parent.sender_id)}: ${parent.deleted_at ? "Message deleted" : parent.content.slice(0, 80)}`
          : "an earlier message";
        text.before(el("div", "quote", "↪ " + quote));
      }
      const meta = li.querySelector(".meta");
      if (m.edited_at && meta) meta.textContent += " (edited)";
      if (m.reply_count > 0) text.after(el("span", "replies", `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`));
      if (m.reactions && m.reactions.length) {
        const row = el("div", "reactions");
        for (const r of m.reactions) {
          const b = el("button", "reaction" + (r.me ? " me" : ""), `${r.emoji} ${r.count}`);
          b.type = "button";
          b.onclick = () => react(m, r.emoji, !r.me);
          row.append(b);
        }
        li.append(row);
      }
      const status = li.querySelector(".status");
      if (mine && status && !status.classList.contains("read") && deliveredToAll(conv, m)) status.textContent = "Delivered";
      actions(li, conv, m, mine);
      if (editing === m.id) editor(li, m);
    },
  };
}
