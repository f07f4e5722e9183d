// Sends each chosen or dropped file in its own request, with a progress bar of the bytes
// sent (XHR upload progress). The server checks everything again; these checks only spare
// the user a long wait for a file that would be refused anyway. Each file sent is then
// followed (its status.json) until its run ends, and the list of uploads is refreshed.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector('input[type="file"]');
  const zone = document.getElementById("drop-zone");
  const queue = document.getElementById("upload-queue");
  const maxBytes = Number(form.dataset.maxBytes);
  const suffixes = form.dataset.suffixes.split(",");
  const redirectSingle = form.dataset.redirectSingle === "true";
  let dropped = null;

  function size(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  function row(file) {
    const li = document.createElement("li");
    li.className = "upload-item";
    li.dataset.name = file.name;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = "waiting · " + size(file.size);
    li.append(name, bar, note);
    queue.append(li);
    return { li, bar, note };
  }

  function problem(file) {
    const dot = file.name.lastIndexOf(".");
    const suffix = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
    if (!suffixes.includes(suffix)) return "not a CSV or Excel file (" + suffixes.join(", ") + ")";
    if (file.size === 0) return "the file is empty";
    if (file.size > maxBytes) return size(file.size) + "; the limit is " + size(maxBytes);
    return "";
  }

  function fail(item, message) {
    item.li.dataset.state = "error";
    item.note.textContent = message;
  }

  function send(file, item) {
    return new Promise((resolve) => {
      const data = new FormData(form);
      data.delete("file");
      data.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.pathname);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      xhr.upload.onprogress = (e) => {
        item.bar.value = e.loaded;
        item.note.textContent = size(e.loaded) + " of " + size(file.size) + " sent";
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 201) {
          item.bar.value = item.bar.max;
          item.li.dataset.state = body.status;
          const link = document.createElement("a");
          link.href = body.url;
          link.textContent = body.status === "duplicate" ? "same file uploaded before: choose" : "follow it";
          item.note.textContent = "sent · ";
          item.note.append(link);
          item.link = link;
          resolve(body);
        } else {
          fail(item, (body.errors || ["refused (HTTP " + xhr.status + ")"]).join(" "));
          resolve(null);
        }
      };
      xhr.onerror = () => { fail(item, "the connection failed; try again"); resolve(null); };
      xhr.send(data);
    });
  }

  let refreshing = null;
  async function refreshList() {
    // The list card as the server renders it now (same filters and page): no reload, so
    // the queue above stays.
    const card = document.getElementById("upload-list-card");
    if (!card || refreshing) return;
    refreshing = fetch(window.location.href, { headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : ""))
      .then((html) => {
        const fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("upload-list-card");
        if (fresh) card.replaceWith(fresh);
      })
      .catch(() => {})
      .finally(() => { refreshing = null; });
  }

  function follow(item, body) {
    if (body.status === "duplicate") return;  // it waits for the user's choice, on its page
    const statusUrl = body.url + "status.json";
    const poll = () => fetch(statusUrl, { headers: { Accept: "application/json" } })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then((data) => {
        item.li.dataset.state = data.status;
        const rows = data.rows_read === null ? "" : " · " + data.rows_loaded + " of " + data.rows_read + " rows loaded";
        item.note.textContent = data.status_label + (data.finished ? rows : "") + " · ";
        item.note.append(item.link);
        if (data.finished || data.awaits_choice) { refreshList(); return; }
        setTimeout(poll, 1000);
      })
      .catch(() => setTimeout(poll, 3000));
    poll();
  }

  async function upload(files) {
    queue.replaceChildren();
    const sent = [];
    for (const file of files) {
      const item = row(file);
      const why = problem(file);
      if (why) { fail(item, why); continue; }
      const result = await send(file, item);  // one at a time: each gets the full bandwidth
      if (result) sent.push({ item, result });
    }
    input.value = "";
    dropped = null;
    if (redirectSingle && files.length === 1 && sent.length === 1) {
      window.location.assign(sent[0].result.url);
      return;
    }
    refreshList();
    for (const { item, result } of sent) follow(item, result);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const files = dropped || Array.from(input.files);
    if (files.length) upload(files);
  });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    dropped = Array.from(e.dataTransfer.files);
    upload(dropped);
  });
})();
