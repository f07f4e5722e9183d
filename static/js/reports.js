// Report filters live in the URL: a plain GET form, minus empty fields, so links stay short
// and the back button works; defaults are left out. Editing a date switches the range to "Custom".
(function () {
  const form = document.getElementById("report-filters");
  if (form) {
    const preset = document.getElementById("f-preset");
    for (const id of ["f-start", "f-end"]) {
      document.getElementById(id).addEventListener("change", () => { preset.value = "custom"; });
    }
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        const isDate = field.name === "start" || field.name === "end";
        const isDefault = field.dataset.default === field.value;
        if (field.name && (field.value === "" || isDefault || (isDate && preset.value !== "custom"))) {
          field.disabled = true;
        }
      }
    });
  }
  for (const row of document.querySelectorAll("tr[data-href]")) {
    row.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;
      window.location.assign(row.dataset.href);
    });
  }
})();
