// Swagger UI started from a static file so the page needs no inline script.
(function () {
  var el = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: el.dataset.schemaUrl, dom_id: "#swagger-ui", deepLinking: true });
})();
