/* Draws the impact dashboard's charts from the JSON in #dashboard-data (vendored Chart.js). */
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var options = { responsive: true, maintainAspectRatio: false, animation: false };
    function chart(id, config) {
      var canvas = document.getElementById(id);
      if (canvas) { new Chart(canvas, Object.assign({ options: options }, config)); }
    }
    function column(rows, key) { return rows.map(function (row) { return row[key]; }); }

    chart("chart-weekly-sends", { type: "bar", data: {
      labels: column(data.weekly_sends, "week"),
      datasets: [{ label: "Emails sent", data: column(data.weekly_sends, "sent") }] } });
    chart("chart-weekly-nps", { type: "line", data: {
      labels: column(data.weekly_nps, "week"),
      datasets: [{ label: "NPS", data: column(data.weekly_nps, "nps") }] } });
    var steps = ["enrolled", "sent", "delivered", "opened", "clicked", "converted"];
    chart("chart-campaign-funnel", { type: "bar", data: {
      labels: steps,
      datasets: data.campaign_funnel.map(function (row) {
        return { label: row.campaign, data: steps.map(function (s) { return row[s]; }) };
      }) } });
    chart("chart-campaign-variants", { type: "bar", data: {
      labels: data.campaign_variants.map(function (row) {
        return row.campaign + " · step " + row.step + " · " + row.variant;
      }),
      datasets: [{ label: "Conversion rate (%)", data: column(data.campaign_variants, "conversion_pct") }]
    } });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
