// The built-in client's conversation tools: the members panel (roles, add by username, remove,
// leave, change role), mute and pin toggles, block and unblock, and the conversation_updated /
// conversation_removed frames. app.js hands in what it owns (state, api, renderers) through
// initMembers. User content only ever goes through textContent, never innerHTML.
let ctx = null;
const blocked = new Set(); // ids of users I blocked
let panelOpen = false;
let searchTimer = 0;

const RANK = { owner: 3, admin: 2, member: 1 };
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const button = (text, onclick, extra = {}) => el("button", { type: "button", className: "link", textContent: text, onclick, ...extra });

/** app.js calls this once at load with what the panel needs from it. */
export function initMembers(app) {
  ctx = app;
  const head = document.querySelector(".chat-head");
  head.append(el("div", { id: "chat-tools", className: "chat-tools" }));
  head.after(el("section", { id: "members-panel", className: "members-panel", hidden: true }));
}

/** After login: who I blocked (the first 100 are plenty for a personal list). */
export async function loadBlocks() {
  const list = await ctx.api("GET", "/users/me/blocks?limit=100").catch(() => []);
  blocked.clear();
  for (const u of list) blocked.add(u.id);
}

/** Forget everything of the last session (logout). */
export function resetMembers() {
  blocked.clear();
  panelOpen = false;
  const panel = document.getElementById("members-panel");
  if (panel) (panel.hidden = true), panel.replaceChildren();
  const tools = document.getElementById("chat-tools");
  if (tools) tools.replaceChildren();
}

/** Copies the v2 fields of a Conversation onto the client's record. */
export function applyConversationFields(conv, c) {
  if (c.members) conv.members = c.members;
  if (c.my_role) conv.my_role = c.my_role;
  if (c.muted !== undefined) conv.muted = c.muted;
  if (c.muted_until !== undefined) conv.muted_until = c.muted_until;
  if (c.pinned !== undefined) conv.pinned = c.pinned;
}

/** Pinned first; app.js sorts the rest by activity. */
export const pinnedFirst = (a, b) => (b.pinned ? 1 : 0) - (a.pinned ? 1 : 0);

/** Marks a conversation list item as pinned or muted. */
export function decorateListItem(li, conv) {
  li.classList.toggle("pinned", !!conv.pinned);
  li.classList.toggle("muted", !!conv.muted);
}

/** The header's buttons and, when open, the members panel of the open conversation. */
export function renderConversationTools(conv) {
  const tools = document.getElementById("chat-tools");
  if (!tools) return;
  if (!conv) return tools.replaceChildren();
  const other = conv.is_group ? null : (conv.participants || []).find((p) => p.id !== ctx.state.me.id);
  tools.replaceChildren(
    button(conv.muted ? "Unmute" : "Mute", () => saveSettings(conv, { muted: !conv.muted }), { id: "mute-toggle" }),
    button(conv.pinned ? "Unpin" : "Pin", () => saveSettings(conv, { pinned: !conv.pinned }), { id: "pin-toggle" }),
    ...(other ? [blockButton(other.id)] : []),
    ...(conv.is_group ? [button(panelOpen ? "Hide members" : "Members", () => togglePanel(conv), { id: "members-toggle" })] : []),
  );
  renderPanel(conv);
}

function blockButton(userId) {
  const isBlocked = blocked.has(userId);
  return button(isBlocked ? "Unblock" : "Block", () => toggleBlock(userId), { className: "link block-toggle" });
}

async function toggleBlock(userId) {
  const was = blocked.has(userId);
  if (!was && !confirm(`Block ${ctx.userName(userId)}? They will not be told.`)) return;
  try {
    await ctx.api(was ? "DELETE" : "PUT", `/users/${userId}/block`);
    if (was) blocked.delete(userId);
    else blocked.add(userId);
  } catch (err) {
    return alert(err.message);
  }
  rerender();
}

async function saveSettings(conv, body) {
  try {
    ctx.upsertConversation(await ctx.api("PUT", `/conversations/${conv.id}/settings`, body));
  } catch (err) {
    return alert(err.message);
  }
  rerender();
}

async function togglePanel(conv) {
  panelOpen = !panelOpen;
  renderConversationTools(conv);
  // The conversation list shows 10 members of a big group; the panel lists them all.
  if (panelOpen && conv.member_count > (conv.members || []).length) {
    const full = await ctx.api("GET", `/conversations/${conv.id}`).catch(() => null);
    if (full) ctx.upsertConversation(full), ctx.renderHeader();
  }
}

function rerender() {
  ctx.renderList();
  ctx.renderHeader();
}

function renderPanel(conv) {
  const panel = document.getElementById("members-panel");
  if (!conv.is_group || !panelOpen) return void ((panel.hidden = true), panel.replaceChildren());
  panel.hidden = false;
  const me = ctx.state.me.id;
  const myRank = RANK[conv.my_role] || 1;
  const rows = (conv.members || []).map((m) => {
    const name = el("span", { className: "member-name", textContent: ctx.userName(m.user_id) + (m.user_id === me ? " (you)" : "") });
    const role = el("span", { className: "role", textContent: m.role });
    const actions = el("span", { className: "member-actions" });
    if (m.user_id === me) {
      actions.append(button("Leave", () => leave(conv), { className: "link danger" }));
    } else {
      if (conv.my_role === "owner") {
        for (const r of ["member", "admin", "owner"]) {
          if (r !== m.role) actions.append(button(r === "owner" ? "Make owner" : `Make ${r}`, () => setRole(conv, m.user_id, r)));
        }
      }
      if (myRank > (RANK[m.role] || 1)) actions.append(button("Remove", () => removeMember(conv, m.user_id), { className: "link danger" }));
      actions.append(blockButton(m.user_id));
    }
    return el("li", { className: "member" }, name, role, actions);
  });
  const children = [el("h3", { textContent: `Members (${conv.member_count ?? rows.length})` }), el("ul", { className: "member-list" }, ...rows)];
  if (myRank >= RANK.admin) children.push(addForm(conv));
  panel.replaceChildren(...children);
}

function addForm(conv) {
  const results = el("ul", { className: "search-results" });
  const input = el("input", { type: "search", placeholder: "Add people by username", autocomplete: "off", id: "member-search" });
  input.oninput = () => {
    clearTimeout(searchTimer);
    const q = input.value.trim();
    searchTimer = setTimeout(async () => {
      const users = q ? await ctx.api("GET", "/users?limit=10&q=" + encodeURIComponent(q)).catch(() => []) : [];
      const present = new Set((conv.members || []).map((m) => m.user_id));
      results.replaceChildren(
        ...users
          .filter((u) => !present.has(u.id))
          .map((u) => {
            const li = el("li", { textContent: u.full_name ? `${u.username} (${u.full_name})` : u.username });
            li.dataset.id = u.id;
            li.onclick = () => addMember(conv, u);
            return li;
          }),
      );
    }, 150);
  };
  return el("div", { className: "member-add" }, input, results);
}

async function addMember(conv, user) {
  ctx.state.users.set(user.id, user);
  try {
    ctx.upsertConversation(await ctx.api("POST", `/conversations/${conv.id}/members`, { user_ids: [user.id] }));
  } catch (err) {
    return alert(err.message);
  }
  rerender();
}

async function removeMember(conv, userId) {
  if (!confirm(`Remove ${ctx.userName(userId)} from ${conv.name || "the group"}?`)) return;
  try {
    await ctx.api("DELETE", `/conversations/${conv.id}/members/${userId}`);
    ctx.upsertConversation(await ctx.api("GET", `/conversations/${conv.id}`));
  } catch (err) {
    return alert(err.message);
  }
  rerender();
}

async function leave(conv) {
  if (!confirm(`Leave ${conv.name || "the group"}?`)) return;
  try {
    await ctx.api("DELETE", `/conversations/${conv.id}/members/${ctx.state.me.id}`);
  } catch (err) {
    return alert(err.message);
  }
  forget(conv.id);
}

async function setRole(conv, userId, role) {
  if (role === "owner" && !confirm(`Make ${ctx.userName(userId)} the owner? You will become an admin.`)) return;
  try {
    ctx.upsertConversation(await ctx.api("PATCH", `/conversations/${conv.id}/members/${userId}`, { role }));
  } catch (err) {
    return alert(err.message);
  }
  rerender();
}

/** The conversation is gone for me (left, removed, or deleted): drop it and close it if open. */
function forget(conversationId) {
  if (!ctx.state.convs.delete(conversationId)) return;
  if (ctx.state.current === conversationId) {
    ctx.state.current = null;
    panelOpen = false;
    document.getElementById("messages").replaceChildren();
    document.getElementById("chat-title").textContent = "Pick a conversation";
    document.getElementById("chat-sub").textContent = document.getElementById("typing").textContent = "";
    document.getElementById("composer").hidden = document.getElementById("load-earlier").hidden = true;
    document.body.classList.remove("show-chat");
    renderConversationTools(null);
    renderPanel({ is_group: false });
  }
  ctx.renderList();
}

/** conversation_updated / conversation_removed frames; returns true when it handled the frame. */
export function onConversationFrame(f) {
  if (f.type === "conversation_removed") {
    forget(f.conversation_id);
    return true;
  }
  if (f.type === "conversation_updated" && f.conversation) {
    ctx.upsertConversation(f.conversation);
    ctx.renderList();
    if (ctx.state.current === f.conversation.id) ctx.renderHeader();
    return true;
  }
  return false;
}
