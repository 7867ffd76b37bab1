// Attachments in the web client: the attach button and the uploads waiting for the next message, and
// how a message's files show (image previews, download links). Downloads need the bearer token, so
// files are fetched with it and shown through blob: URLs (the page's CSP allows img-src blob:).
// File names and types only ever go through textContent and attributes, never innerHTML.

const INLINE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
/** attachment id -> Promise of a blob: URL (each file is fetched once per page). */
const blobUrls = new Map();
/** Uploads for the next message: {file, id?, error?, done: Promise}. */
let pending = [];
let onChange = () => {};
let tokenOf = () => null;

function blobUrl(id) {
  if (!blobUrls.has(id)) {
    const promise = fetch(`/api/v1/attachments/${id}`, { headers: { authorization: "Bearer " + tokenOf() } }).then((res) => {
      if (!res.ok) throw new Error(res.status === 404 ? "File no longer available" : res.statusText);
      return res.blob().then((b) => URL.createObjectURL(b));
    });
    promise.catch(() => blobUrls.delete(id));
    blobUrls.set(id, promise);
  }
  return blobUrls.get(id);
}

const formatSize = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);

async function save(a, link) {
  try {
    const url = await blobUrl(a.id);
    const tmp = document.createElement("a");
    tmp.href = url;
    tmp.download = a.filename;
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
  } catch (e) {
    link.textContent = `${a.filename}: ${e.message}`;
  }
}

/** The elements showing a message's attachments (an empty list when it has none). */
export function attachmentNodes(message) {
  const files = message.attachments || [];
  if (!files.length) return [];
  const box = document.createElement("div");
  box.className = "attachments";
  for (const a of files) {
    const item = document.createElement("div");
    item.className = "attachment";
    if (INLINE.has(a.content_type)) {
      const img = document.createElement("img");
      img.alt = a.filename;
      img.className = "thumb";
      if (a.width && a.height) (img.width = Math.min(240, a.width)), (img.height = Math.round((img.width * a.height) / a.width));
      blobUrl(a.id).then((url) => (img.src = url), () => (img.alt = `${a.filename} (unavailable)`));
      item.append(img);
    }
    const link = document.createElement("a");
    link.href = "#";
    link.className = "download";
    link.textContent = `${a.filename} (${formatSize(a.size)})`;
    link.onclick = (e) => (e.preventDefault(), save(a, link));
    item.append(link);
    box.append(item);
  }
  return [box];
}

function renderPending() {
  const list = document.getElementById("attach-list");
  list.replaceChildren(
    ...pending.map((p) => {
      const chip = document.createElement("span");
      chip.className = "chip" + (p.error ? " error" : "");
      chip.textContent = p.error ? `${p.file.name}: ${p.error}` : p.id ? p.file.name : `${p.file.name}…`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove ${p.file.name}`);
      remove.onclick = () => ((pending = pending.filter((x) => x !== p)), renderPending());
      chip.append(remove);
      return chip;
    }),
  );
  list.hidden = pending.length === 0;
  onChange();
}

async function uploadOne(p) {
  try {
    const res = await fetch(`/api/v1/attachments?filename=${encodeURIComponent(p.file.name)}`, {
      method: "POST",
      headers: { authorization: "Bearer " + tokenOf(), "content-type": p.file.type || "application/octet-stream" },
      body: p.file,
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && data.detail) || res.statusText);
    p.id = data.id;
  } catch (e) {
    p.error = e.message;
  }
  renderPending();
}

/** Wires the attach button; `getToken` gives the current bearer token, `changed` runs when uploads change. */
export function bindAttachments(getToken, changed) {
  tokenOf = getToken;
  onChange = changed || onChange;
  const input = document.getElementById("file-input");
  document.getElementById("attach").onclick = () => input.click();
  input.onchange = () => {
    for (const file of input.files) {
      if (pending.length >= 10) break;
      const p = { file, id: null, error: null };
      pending.push(p);
      p.done = uploadOne(p);
    }
    input.value = "";
    renderPending();
  };
}

/** Whether the next message has files ready (and none still uploading). */
export const hasAttachments = () => pending.some((p) => p.id) && pending.every((p) => p.id || p.error);
export const uploading = () => pending.some((p) => !p.id && !p.error);

/** The ids of the uploaded files for the message being sent; the list starts over. */
export function takeAttachmentIds() {
  const ids = pending.filter((p) => p.id).map((p) => p.id);
  pending = [];
  renderPending();
  return ids;
}
