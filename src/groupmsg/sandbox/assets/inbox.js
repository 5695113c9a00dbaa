// The sandbox inbox: groups, a chat view, refused requests; live through server-sent events.
// Messages arrive as HTML the sandbox rendered (every sender character escaped there); everything
// else is set with textContent.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const url = (path) => (token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : path);
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  };
  const convs = new Map(); // key -> {conv, node, unread}
  let selected = ""; // "" = all messages
  let source = null;

  function status(state, text) {
    const s = $("status");
    s.dataset.state = state;
    s.textContent = text;
  }

  function shortTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function groupName(key) {
    const c = convs.get(key);
    return c ? c.conv.name : key.replace(/^hook:/, "");
  }

  function renderConv(conv) {
    let entry = convs.get(conv.key);
    if (!entry) {
      entry = { conv, node: el("li", "conv"), unread: 0 };
      entry.node.addEventListener("click", () => select(conv.key));
      convs.set(conv.key, entry);
    }
    entry.conv = Object.assign(entry.conv, conv);
    const c = entry.conv;
    const n = entry.node;
    n.className = "conv " + (c.kind || "group") + (selected === c.key ? " selected" : "");
    n.dataset.key = c.key;
    n.replaceChildren();
    n.append(el("div", "gavatar", (c.name || "?").slice(0, 1)));
    const info = el("div", "info");
    const name = el("div", "name");
    const title = el("span", "t", c.name);
    if (entry.unread) title.append(el("span", "badge", entry.unread));
    name.append(title, el("span", "when", shortTime(c.last_time)));
    const last = c.kind === "webhook" ? c.preview || "webhook robot " + c.robot + (c.enabled === false ? " (disabled)" : "") : c.preview || (c.members ? c.members + " members" : "");
    info.append(name, el("div", "last", last));
    n.append(info);
    return n;
  }

  function drawGroups() {
    const list = $("groups");
    const all = el("li", "conv all" + (selected === "" ? " selected" : ""));
    all.dataset.key = "";
    all.append(el("div", "gavatar", "全"), el("div", "info"));
    all.lastChild.append(el("div", "name", "All messages"), el("div", "last", convs.size + " groups and robots"));
    all.addEventListener("click", () => select(""));
    const sorted = [...convs.values()].sort((a, b) => (b.conv.last_time || "").localeCompare(a.conv.last_time || ""));
    list.replaceChildren(all, ...sorted.map((e) => renderConv(e.conv)));
  }

  function select(key) {
    selected = key;
    const entry = convs.get(key);
    if (entry) entry.unread = 0;
    $("chat-title").textContent = key ? groupName(key) : "All messages";
    $("chat-sub").textContent = entry && entry.conv.kind === "webhook" ? "webhook robot " + entry.conv.robot : "";
    filter();
    drawGroups();
    scrollDown(true);
  }

  function filter() {
    let shown = 0;
    for (const m of $("messages").children) {
      const show = !selected || m.dataset.conv === selected;
      m.hidden = !show;
      if (show) shown++;
    }
    $("empty").hidden = shown > 0;
  }

  function scrollDown(force) {
    const box = $("messages");
    if (force || box.scrollHeight - box.scrollTop - box.clientHeight < 120) box.scrollTop = box.scrollHeight;
  }

  function addMessage(item, live) {
    if (document.querySelector('.msg[data-id="' + CSS.escape(item.id) + '"]')) return;
    const holder = el("div");
    holder.innerHTML = item.html; // rendered and escaped by the sandbox (render.py)
    const node = holder.firstElementChild;
    node.dataset.conv = item.conversation;
    const meta = node.querySelector(".meta");
    if (meta) meta.append(el("span", "group", groupName(item.conversation)));
    const time = node.querySelector("time");
    if (time) time.textContent = shortTime(item.time);
    $("messages").append(node);
    const entry = convs.get(item.conversation);
    const conv = { key: item.conversation, last_time: item.time, preview: item.preview };
    if (!entry) renderConv(Object.assign({ name: item.conversation.replace(/^hook:/, ""), kind: "gone" }, conv));
    else Object.assign(entry.conv, conv);
    if (live && selected && selected !== item.conversation) convs.get(item.conversation).unread++;
    if (live) {
      filter();
      drawGroups();
      scrollDown(false);
    }
  }

  function addRefused(r) {
    const li = el("li", "ref");
    const code = r.code || (r.errcode !== null && r.errcode !== undefined ? r.errcode : r.fault || r.status);
    li.append(el("span", "code", code));
    li.append(el("span", "why", r.reason ? (r.errmsg || "") + " — " + r.reason : r.errmsg || (r.fault ? "injected fault: " + r.fault : "HTTP " + r.status)));
    const who = [shortTime(r.time), r.method + " " + r.path, r.robot ? "robot " + r.robot : r.app_key ? "app " + r.app_key : ""].filter(Boolean);
    li.append(el("span", "where", who.join(" · ")));
    $("refused").prepend(li);
    $("refused-count").textContent = $("refused").children.length;
  }

  async function load() {
    if (source) source.close();
    try {
      const r = await fetch(url("/_sandbox/inbox"), { cache: "no-store" });
      if (!r.ok) throw new Error((await r.json()).error || "HTTP " + r.status);
      const data = await r.json();
      convs.clear();
      $("messages").replaceChildren();
      $("refused").replaceChildren();
      for (const c of data.conversations) renderConv(c);
      for (const m of data.messages) addMessage(m, false);
      for (const r of data.refused) addRefused(r);
      $("refused-count").textContent = data.refused.length;
      if (selected && !convs.has(selected)) selected = "";
      select(selected);
      connect(data.last_event);
    } catch (e) {
      status("offline", "offline: " + e.message + " (retrying)");
      setTimeout(load, 2000);
    }
  }

  function connect(last) {
    source = new EventSource(url("/_sandbox/events?after=" + last));
    source.onopen = () => status("live", "live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        status("offline", "offline (retrying)");
        setTimeout(load, 2000);
      } else status("connecting", "reconnecting…");
    };
    source.addEventListener("message", (e) => addMessage(JSON.parse(e.data), true));
    source.addEventListener("refused", (e) => addRefused(JSON.parse(e.data)));
    source.addEventListener("group", (e) => {
      renderConv(JSON.parse(e.data));
      drawGroups();
    });
    source.addEventListener("reload", load);
  }

  load();
})();
