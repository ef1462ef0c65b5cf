// Small behaviours shared by every page. No inline scripts anywhere (strict CSP).
document.addEventListener("DOMContentLoaded", function () {
  // Confirm destructive actions: <form data-confirm="Delete this?">
  document.body.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
  document.body.addEventListener("htmx:confirm", function (event) {
    var el = event.detail.elt;
    if (el.dataset && el.dataset.confirm && event.detail.question === null) {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    }
  });
});

// Connection form: show only the fields that fit the chosen dialect.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("[data-dialect-form]");
  if (!form) return;
  var select = form.querySelector("select[name=dialect]");
  var dbInput = form.querySelector("#id_database");
  var pathInput = form.querySelector("#id_database_path");
  function apply() {
    var dialect = select.value;
    form.querySelectorAll("[data-dialects]").forEach(function (el) {
      var on = el.dataset.dialects.split(" ").indexOf(dialect) !== -1;
      el.hidden = !on;
      el.querySelectorAll("input,select").forEach(function (i) { if (i !== dbInput || dialect !== "sqlite") i.disabled = !on; });
    });
    // One "database" field on the server: the SQLite path input mirrors into it.
    if (dbInput && pathInput) { dbInput.disabled = false; if (dialect === "sqlite") dbInput.value = pathInput.value; }
  }
  if (pathInput && dbInput) pathInput.addEventListener("input", function () { dbInput.value = pathInput.value; });
  select.addEventListener("change", apply);
  apply();
});

// Wizard step 2: a foreign-key hint says whether its parent table is chosen on the page now,
// as boxes are ticked and unticked (the server renders it right when the columns load).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[type=checkbox][name=table]")) return;
  var chosen = {};
  document.querySelectorAll("input[name=table]").forEach(function (i) {
    if (i.type !== "checkbox" || i.checked) chosen[i.value] = true;
  });
  document.querySelectorAll("[data-fk-ref]").forEach(function (hint) {
    var included = !!chosen[hint.dataset.fkRef];
    hint.classList.toggle("flash", !included);
    hint.classList.toggle("flash-warning", !included);
    hint.querySelector("[data-when=missing]").hidden = included;
    hint.querySelector("[data-when=included]").hidden = !included;
  });
});

// Wizard step 3: a column found to hold personal data warns while its technique is "keep".
document.addEventListener("change", function (event) {
  var select = event.target;
  if (!select.matches || !select.matches("select[name^='t:']")) return;
  var row = select.closest("tr");
  var warning = row && row.querySelector("[data-unmasked-warning]");
  if (warning) warning.hidden = select.value !== "keep";
});
