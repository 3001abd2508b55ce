"use strict";
// The leaderboard site's one script: sortable tables, and the per-sample browser,
// which loads a run's samples in shards through <script> tags (this works from
// file:// as from any static host) and writes every string with textContent.
(function () {
  const H = (window.harness = { index: {}, shards: {} });
  window.harnessIndex = (key, data) => { H.index[key] = data; };
  window.harnessShard = (key, k, rows) => { (H.shards[key] = H.shards[key] || {})[k] = rows; };

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error("cannot load " + src));
      document.head.appendChild(s);
    });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // ---- sortable tables: th[data-sort=NAME] sorts rows by tr[data-NAME] (numbers; blanks last)
  function sortTable(table, th) {
    const key = th.dataset.sort;
    const dir = th.dataset.dir === "desc" ? "asc" : "desc";
    table.querySelectorAll("th[data-sort]").forEach((h) => delete h.dataset.dir);
    th.dataset.dir = dir;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const value = (tr) => { const v = parseFloat(tr.dataset[key]); return isNaN(v) ? null : v; };
    rows.sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === null || y === null) return (x === null) - (y === null);
      return dir === "desc" ? y - x : x - y;
    });
    rows.forEach((r) => body.appendChild(r));
  }
  document.querySelectorAll("table.sortable th[data-sort]").forEach((th) =>
    th.addEventListener("click", () => sortTable(th.closest("table"), th)));

  // ---- pair picker on task pages
  document.querySelectorAll("form.pick-pair").forEach((form) => form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const a = form.elements.a.value, b = form.elements.b.value;
    const out = form.querySelector(".pick-message");
    if (a === b) { out.textContent = "pick two different rows"; return; }
    const [x, y] = [a, b].sort();
    window.location.href = "compare-" + x + "-" + y + ".html";
  }));

  // ---- per-sample browser
  const app = document.getElementById("samples");
  if (!app) return;
  const key = app.dataset.entry;
  const PAGE = 50;
  const state = { filter: "all", q: "", page: 0 };
  const hash = new URLSearchParams(window.location.hash.slice(1));
  state.filter = hash.get("filter") || "all";
  state.q = hash.get("q") || "";
  state.page = parseInt(hash.get("page") || "0", 10) || 0;
  const filter = app.querySelector("select.filter");
  const search = app.querySelector("input.search");
  const info = app.querySelector(".info");
  const list = app.querySelector(".list");
  const prev = app.querySelector("button.prev"), next = app.querySelector("button.next");
  filter.value = state.filter;
  search.value = state.q;
  let generation = 0;

  async function shard(k) {
    if (!(H.shards[key] && H.shards[key][k])) await loadScript("data/" + key + "/shard-" + k + ".js");
    return H.shards[key][k];
  }

  function matchesFilter(idx, i) {
    if (state.filter === "all") return true;
    if (state.filter === "judge") return idx.judged[i] === 1;
    return idx.status[i] === state.filter;
  }

  function matchesQuery(row, q) {
    return [row.id, row.input, row.output, row.answer, row.target, row.explanation, row.error]
      .some((v) => v !== null && v !== undefined && (typeof v === "string" ? v : JSON.stringify(v)).toLowerCase().includes(q));
  }

  function show(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function render(row) {
    const judged = row.judged ? el("span", { class: "badge" }, "judge") : "";
    const dl = el("dl");
    const add = (label, value, pre) => {
      if (value === null || value === undefined || value === "") return;
      dl.append(el("dt", {}, label), el("dd", { "data-field": label }, pre ? el("pre", {}, show(value)) : show(value)));
    };
    add("input", row.input, true);
    add("output", row.output, true);
    add("extracted answer", row.answer, true);
    add("target", row.target, true);
    add("how the verdict was reached", row.explanation, true);
    add("error", row.error, true);
    const details = el("details", {}, el("summary", {}, "task fields and judge calls"),
      el("pre", {}, JSON.stringify({ fields: row.fields, role_responses: row.role_responses }, null, 1)));
    return el("article", { class: "sample status-" + row.status, "data-id": row.id },
      el("header", {}, row.id + " ", el("span", { class: "badge" }, row.status), " score " + row.score, judged), dl, details);
  }

  async function update() {
    const mine = ++generation;
    const idx = H.index[key];
    window.location.hash = new URLSearchParams({ filter: state.filter, q: state.q, page: String(state.page) }).toString();
    let positions = [];
    for (let i = 0; i < idx.n; i++) if (matchesFilter(idx, i)) positions.push(i);
    const q = state.q.trim().toLowerCase();
    if (q) {
      const found = [];
      for (let k = 0; k < idx.n_shards; k++) {
        info.textContent = "searching shard " + (k + 1) + " of " + idx.n_shards + "...";
        const rows = await shard(k);
        if (mine !== generation) return;
        rows.forEach((row, j) => { const i = k * idx.shard_size + j; if (matchesFilter(idx, i) && matchesQuery(row, q)) found.push(i); });
      }
      positions = found;
    }
    const pages = Math.max(1, Math.ceil(positions.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const shown = positions.slice(state.page * PAGE, (state.page + 1) * PAGE);
    const rows = [];
    for (const i of shown) {
      const rowsOfShard = await shard(Math.floor(i / idx.shard_size));
      rows.push(rowsOfShard[i % idx.shard_size]);
    }
    if (mine !== generation) return;
    list.replaceChildren(...rows.map(render));
    info.textContent = positions.length + " of " + idx.n + " samples; page " + (state.page + 1) + " of " + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    if (!app.dataset.ready) app.dataset.readyMs = String(Math.round(performance.now()));
    app.dataset.ready = "1";
  }

  filter.addEventListener("change", () => { state.filter = filter.value; state.page = 0; update(); });
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.q = search.value; state.page = 0; update(); }, 200); });
  prev.addEventListener("click", () => { state.page -= 1; update(); });
  next.addEventListener("click", () => { state.page += 1; update(); });
  loadScript("data/" + key + "/index.js").then(() => {
    const idx = H.index[key];
    for (const option of filter.options) {
      const n = option.value === "all" ? idx.n : option.value === "judge" ? idx.judged.filter((j) => j === 1).length
        : idx.status.filter((s) => s === option.value).length;
      option.textContent = option.value + " (" + n + ")";
    }
    return update();
  }).catch((e) => { info.textContent = String(e); });
})();
