/* The KPI dashboard's charts (Apache ECharts, from web/static/vendor/echarts): each chart is
   drawn from the JSON the page carries (#report-charts); clicking a bar or slice opens the
   complaint register filtered to the cases behind it. No inline script (CSP). */
(function () {
  "use strict";
  var holder = document.getElementById("report-charts");
  if (!holder || typeof echarts === "undefined") { return; }
  var config = JSON.parse(holder.textContent);
  var locale = config.language === "zh" ? "ZH" : "EN";
  var charts = [];

  function option(spec) {
    var series;
    if (spec.type === "pie") {
      var s = spec.series[0];
      return {
        tooltip: { trigger: "item" }, legend: { bottom: 0, type: "scroll" },
        series: [{ type: "pie", radius: ["35%", "65%"], name: s.name,
                   data: spec.categories.map(function (c, i) { return { name: c, value: s.data[i], link: s.links[i] }; }) }]
      };
    }
    series = spec.series.map(function (s) {
      return { type: "bar", name: s.name, stack: spec.type === "stacked" ? "total" : undefined,
               data: s.data.map(function (v, i) { return { value: v, link: s.links ? s.links[i] : null }; }) };
    });
    var axes = [{ type: "value", minInterval: 1 }];
    if (spec.line) {
      axes.push({ type: "value", minInterval: 1, splitLine: { show: false } });
      series.push({ type: "line", name: spec.line.name, yAxisIndex: 1, data: spec.line.data });
    }
    return {
      tooltip: { trigger: "axis" }, legend: { bottom: 0, type: "scroll" },
      grid: { left: 40, right: spec.line ? 40 : 16, top: 16, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } },
      yAxis: axes, series: series
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = config.charts[el.getAttribute("data-chart")];
    if (!spec) { return; }
    var chart = echarts.init(el, null, { locale: locale, renderer: "svg" });
    chart.setOption(option(spec));
    chart.on("click", function (params) {
      var link = params.data && params.data.link;
      if (link) { window.location.href = link; }
    });
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });
})();
