// Dashboard chart: rows masked per day. The data comes from a json_script element (not executed,
// so the strict CSP holds); Chart.js is served from static/vendor.
document.addEventListener("DOMContentLoaded", function () {
  var dataEl = document.getElementById("chart-data");
  var canvas = document.getElementById("rows-chart");
  if (!dataEl || !canvas || typeof window.Chart === "undefined") return;
  var data = JSON.parse(dataEl.textContent);
  // Chart.js sizes a responsive chart from a dedicated, relatively positioned container
  // (set through the CSSOM, which the CSP allows; no style attribute in the markup).
  var box = canvas.parentNode;
  box.style.position = "relative";
  box.style.width = "100%";
  box.style.height = "16rem";
  var labels = data.labels.map(function (day) { return day.slice(5); }); // MM-DD
  canvas.chart = new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: labels,
      datasets: [{ label: "Rows masked", data: data.rows_masked, backgroundColor: "#1e6fd9" }]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    }
  });
  canvas.dataset.rendered = "true";
});
