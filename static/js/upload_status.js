// Follows an upload's status without reloading: polls its status.json until it ends (or
// waits for the user's choice), moving the stage marker and the progress bar; then
// reloads once so the report (errors, downloads, mapping) is shown.
(function () {
  "use strict";
  const box = document.getElementById("upload-status");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const bar = document.getElementById("upload-progress");
  const rows = document.getElementById("rows-progress");
  const elapsed = document.getElementById("elapsed");
  // As the server drew the page: an upload that ends between that and the first poll must
  // still bring the reload that shows its report.
  let wasFinished = box.dataset.finished === "true";

  function number(value) { return value.toLocaleString("en-US"); }

  function show(data) {
    for (const el of box.querySelectorAll("[data-field]")) {
      const value = data[el.dataset.field];
      if (value === null || value === undefined) el.textContent = "…";
      else el.textContent = typeof value === "number" ? number(value) : String(value);
    }
    box.querySelector('[data-field="status_label"]').className = "status status-" + data.status;
    for (const li of document.querySelectorAll("#stages li")) {
      li.classList.toggle("current", li.dataset.stage === data.progress_stage);
    }
    bar.value = data.progress;
    rows.textContent = data.rows_processed !== null && data.rows_read
      ? number(data.rows_processed) + " of " + number(data.rows_read) + " rows" : "";
    if (data.started_at && !data.finished) {
      elapsed.textContent = Math.round((Date.now() - Date.parse(data.started_at)) / 1000) + " s";
    }
    box.dataset.state = data.status;
  }

  async function poll() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (err) {
      setTimeout(poll, 3000);
      return;
    }
    show(data);
    if (wasFinished === false && data.finished) { window.location.reload(); return; }
    wasFinished = data.finished;
    if (!data.finished && !data.awaits_choice) setTimeout(poll, 1000);
  }
  poll();
})();
