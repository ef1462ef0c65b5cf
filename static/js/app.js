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
