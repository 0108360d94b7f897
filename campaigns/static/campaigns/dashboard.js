/* Draws the impact dashboard's charts from the JSON in #dashboard-data (vendored Chart.js).
   Every word a chart shows comes translated from the page (#dashboard-labels). */
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("dashboard-data");
    var words = document.getElementById("dashboard-labels");
    if (!source || !words || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var label = JSON.parse(words.textContent);
    var narrow = window.matchMedia("(max-width: 767px)").matches;
    function options(extra) {
      return Object.assign({
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: narrow ? "bottom" : "top",
                             labels: { boxWidth: narrow ? 10 : 40 } } },
        spanGaps: true
      }, extra || {});
    }
    function chart(id, config, extra) {
      var canvas = document.getElementById(id);
      if (canvas) { new Chart(canvas, Object.assign({ options: options(extra) }, config)); }
    }
    function column(rows, key) { return rows.map(function (row) { return row[key]; }); }
    function month(value) { return String(value).slice(0, 7); }
    function line(rows, key, extra) {
      return Object.assign({ label: label[key], data: column(rows, key),
                             cubicInterpolationMode: "monotone" }, extra || {});
    }

    var health = data.health || [];
    var months = health.map(function (row) { return month(row.month); });
    chart("chart-satisfaction", { type: "line", data: { labels: months, datasets: [
      line(health, "nps", { yAxisID: "nps" }),
      line(health, "csat", { yAxisID: "score" }),
      line(health, "ces", { yAxisID: "score" })
    ] } }, { scales: {
      nps: { type: "linear", position: "left", suggestedMin: -100, suggestedMax: 100,
             title: { display: !narrow, text: label.nps } },
      score: { type: "linear", position: "right", min: 1, max: 7, grid: { drawOnChartArea: false },
               title: { display: !narrow, text: label.csat + " · " + label.ces } }
    } });
    chart("chart-retention", { type: "line", data: { labels: months, datasets: [
      line(health, "retention_rate"), line(health, "churn_rate"), line(health, "repeat_purchase_rate")
    ] } }, { scales: { y: { min: 0, max: 100 } } });
    chart("chart-clv", { type: "line", data: { labels: months, datasets: [
      line(health, "clv"), line(health, "predictive_clv")
    ] } });
    chart("chart-days-between", { type: "bar", data: { labels: months, datasets: [
      { label: label.avg_days_between_purchases, data: column(health, "avg_days_between_purchases") }
    ] } });

    // Word of mouth: the funnel over the period, then month by month.
    var referrals = data.referrals || [];
    var referralMonths = referrals.map(function (row) { return month(row.month); });
    var funnel = data.referral_funnel || [];
    chart("chart-referral-funnel", { type: "bar", data: {
      labels: column(funnel, "step"),
      datasets: [{ label: label.signups, data: column(funnel, "customers") }] } },
      { plugins: { legend: { display: false } } });
    chart("chart-referral-share", { type: "line", data: { labels: referralMonths, datasets: [
      line(referrals, "referred_share")
    ] } }, { scales: { y: { min: 0, suggestedMax: 20 } } });
    chart("chart-referral-value", { type: "line", data: { labels: referralMonths, datasets: [
      line(referrals, "referred_retention", { yAxisID: "share" }),
      line(referrals, "others_retention", { yAxisID: "share" }),
      line(referrals, "referred_clv", { yAxisID: "money" }),
      line(referrals, "others_clv", { yAxisID: "money" })
    ] } }, { scales: {
      share: { type: "linear", position: "left", min: 0, max: 100 },
      money: { type: "linear", position: "right", grid: { drawOnChartArea: false } }
    } });

    chart("chart-weekly-sends", { type: "bar", data: {
      labels: column(data.weekly_sends, "week"),
      datasets: [{ label: label.sent, data: column(data.weekly_sends, "sent") }] } });
    chart("chart-weekly-nps", { type: "line", data: {
      labels: column(data.weekly_nps, "week"),
      datasets: [{ label: label.nps, data: column(data.weekly_nps, "nps"),
                   cubicInterpolationMode: "monotone" }] } },
      { scales: { y: { suggestedMin: -100, suggestedMax: 100 } } });
    var steps = ["enrolled", "sent", "delivered", "opened", "clicked", "converted"];
    chart("chart-campaign-funnel", { type: "bar", data: {
      labels: steps.map(function (s) { return label[s]; }),
      datasets: data.campaign_funnel.map(function (row) {
        return { label: row.campaign, data: steps.map(function (s) { return row[s]; }) };
      }) } });
    // Per variant: the share of its emails opened, clicked and followed by a purchase.
    function share(row, key) { return row.sends ? Math.round(1000 * row[key] / row.sends) / 10 : null; }
    function short(text) { return narrow && text.length > 22 ? text.slice(0, 21) + "…" : text; }
    var variants = data.campaign_variants;
    chart("chart-campaign-variants", { type: "bar", data: {
      labels: variants.map(function (row) {
        return [short(row.campaign), label.step + " " + (row.step + 1) + " · " + row.variant];
      }),
      datasets: [
        { label: label.opened_pct, data: variants.map(function (row) { return share(row, "opens"); }) },
        { label: label.clicked_pct, data: variants.map(function (row) { return share(row, "clicks"); }) },
        { label: label.conversion_pct, data: column(variants, "conversion_pct") }
      ]
    } }, { scales: { y: { min: 0, suggestedMax: 100 } } });
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
