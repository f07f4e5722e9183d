// Follows an upload's status without reloading: polls its status.json until it ends,
// then reloads once so the report (errors, mapping) is shown.
(function () {
  const box = document.getElementById("upload-status");
  if (!box) return;
  const url = box.dataset.statusUrl;
  let wasFinished = null;
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
    for (const el of box.querySelectorAll("[data-field]")) {
      const value = data[el.dataset.field];
      if (value === null || value === undefined) el.textContent = "…";
      else el.textContent = typeof value === "number" ? value.toLocaleString("en-US") : String(value);
    }
    const label = box.querySelector('[data-field="status_label"]');
    label.className = "status status-" + data.status;
    box.dataset.state = data.status;
    if (wasFinished === false && data.finished) { window.location.reload(); return; }
    wasFinished = data.finished;
    if (!data.finished) setTimeout(poll, 1000);
  }
  poll();
})();
