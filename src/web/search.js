// Message search in the built-in client: a box above the conversation list, results with their
// matches highlighted, a click opens the conversation scrolled to the message. app.js hands in the
// few things it needs (bindMessageSearch). The server's highlight is HTML-escaped text with <mark>
// tags; it is turned into text nodes and <mark> elements here, never assigned as innerHTML.
const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 250;
const PAGE = 20;
/** History pages fetched while looking for an old message before giving up. */
const MAX_HISTORY_PAGES = 200;

let app = null;
let timer = 0;
/** Only the latest query's answers are shown (responses can arrive out of order). */
let generation = 0;
let next = null;

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };
const unescape = (text) => text.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]);

/** The highlight as DOM: text between the tags is unescaped into text nodes, matches into <mark>s. */
export function highlightNodes(highlight) {
  const nodes = [];
  const parts = highlight.split(/(<mark>|<\/mark>)/);
  let inMark = false;
  for (const part of parts) {
    if (part === "<mark>") inMark = true;
    else if (part === "</mark>") inMark = false;
    else if (part) {
      const text = document.createTextNode(unescape(part));
      if (inMark) {
        const mark = document.createElement("mark");
        mark.append(text);
        nodes.push(mark);
      } else nodes.push(text);
    }
  }
  return nodes;
}

function resultItem(r) {
  const m = r.message;
  const li = document.createElement("li");
  li.dataset.id = m.id;
  const head = document.createElement("span");
  head.className = "where";
  const conv = app.state.convs.get(m.conversation_id);
  const who = m.sender_id === app.state.me.id ? "You" : app.userName(m.sender_id);
  head.textContent = `${conv ? app.title(conv) : "Conversation"} · ${who} · ${new Date(m.created_at).toLocaleString([], { dateStyle: "short", timeStyle: "short" })}`;
  const text = document.createElement("span");
  text.className = "snippet";
  text.append(...highlightNodes(r.highlight));
  li.append(head, text);
  li.onclick = () => jumpTo(m).catch((err) => showStatus(err.message));
  return li;
}

function showStatus(text) {
  $("message-search-status").textContent = text;
}

async function run(q, before) {
  const mine = ++generation;
  const params = new URLSearchParams({ q, limit: String(PAGE) });
  if (before) params.set("before", before);
  let page;
  try {
    page = await app.api("GET", "/search/messages?" + params);
  } catch (err) {
    if (mine !== generation) return;
    $("message-search-results").replaceChildren();
    $("message-search-more").hidden = true;
    return showStatus(err.status === 422 ? err.message.replace(/^q: /, "") : "Search failed: " + err.message);
  }
  if (mine !== generation) return;
  const list = $("message-search-results");
  const items = page.results.map(resultItem);
  if (before) list.append(...items);
  else list.replaceChildren(...items);
  next = page.next_before;
  $("message-search-more").hidden = !next;
  showStatus(list.children.length ? "" : "No messages found");
}

/** Opens the conversation, loads history back to the message, scrolls to it and marks it briefly. */
async function jumpTo(m) {
  if (!app.state.convs.has(m.conversation_id)) await app.fetchConversation(m.conversation_id);
  await app.openConversation(m.conversation_id);
  const conv = app.state.convs.get(m.conversation_id);
  for (let i = 0; i < MAX_HISTORY_PAGES && conv.messages.length && conv.messages[0].seq > m.seq; i++) {
    const page = await app.api("GET", `/conversations/${conv.id}/messages?limit=100&before=${conv.messages[0].seq}`);
    if (!page.length) break;
    for (const x of page) app.insertMessage(conv, x);
  }
  if (app.state.current !== conv.id) return;
  app.renderMessages(false);
  const li = $("messages").querySelector(`li[data-seq="${m.seq}"]`);
  if (!li) return;
  li.scrollIntoView({ block: "center" });
  // Kept in state, not only on this node: a frame arriving meanwhile redraws the list.
  app.state.found = m.id;
  li.classList.add("found");
  setTimeout(() => {
    if (app.state.found === m.id) app.state.found = null;
    $("messages").querySelector(`li[data-id="${m.id}"]`)?.classList.remove("found");
  }, 2500);
}

/** Empties the box and its results (search results must not outlive a logout). */
export function resetMessageSearch() {
  generation++;
  clearTimeout(timer);
  next = null;
  const input = $("message-search");
  if (input) input.value = "";
  $("message-search-results")?.replaceChildren();
  if ($("message-search-more")) $("message-search-more").hidden = true;
  if ($("message-search-status")) showStatus("");
}

/**
 * `hooks`: api(method, path), state, title(conv), userName(id), fetchConversation(id),
 * openConversation(id), insertMessage(conv, m), renderMessages(scroll).
 */
export function bindMessageSearch(hooks) {
  app = hooks;
  const input = $("message-search");
  input.oninput = () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return resetMessageSearch();
    timer = setTimeout(() => run(q), DEBOUNCE_MS);
  };
  input.onkeydown = (e) => {
    if (e.key === "Escape") resetMessageSearch();
    if (e.key === "Enter") clearTimeout(timer), input.value.trim() && run(input.value.trim());
  };
  $("message-search-more").onclick = () => next && run(input.value.trim(), next);
}
