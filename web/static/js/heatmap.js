/* "Where cases wait": draws the process version with bpmn-js (NavigatedViewer) and overlays each
   element with its figures (passed, waiting now, median, p90) and each sequence flow with the
   times it was taken; elements are shaded by their 90th percentile. No inline script (CSP). */
(function () {
  "use strict";
  var container = document.getElementById("heat-diagram");
  var holder = document.getElementById("heat-data");
  if (!container || !holder || !window.BpmnJS) { return; }
  var data = JSON.parse(holder.textContent);
  var viewer = new window.BpmnJS({ container: container });

  function badge(className, text) {
    var el = document.createElement("div");
    el.className = className;
    el.textContent = text;
    return el;
  }

  fetch(container.getAttribute("data-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var t = data.texts;
      var longest = 0;
      Object.keys(data.elements).forEach(function (id) {
        longest = Math.max(longest, data.elements[id].p90_s || 0);
      });
      Object.keys(data.elements).forEach(function (id) {
        var shape = registry.get(id);
        var e = data.elements[id];
        if (!shape) { return; }
        var lines = t.passed + " " + e.passed + (e.waiting ? " · " + t.waiting + " " + e.waiting : "");
        if (e.p90_s !== null && e.p90_s !== undefined) {
          lines += "\n" + t.median + " " + e.median + " · " + t.p90 + " " + e.p90;
          var level = longest > 0 ? Math.min(4, 1 + Math.floor(4 * e.p90_s / (longest + 1))) : 1;
          canvas.addMarker(id, "heat-" + level);
        }
        var el = badge("heat-badge", "");
        lines.split("\n").forEach(function (line, i) {
          if (i) { el.appendChild(document.createElement("br")); }
          el.appendChild(document.createTextNode(line));
        });
        overlays.add(id, { position: { bottom: -4, left: 0 }, html: el });
      });
      Object.keys(data.flows).forEach(function (id) {
        var flow = registry.get(id);
        if (!flow || !flow.waypoints || flow.waypoints.length < 2) { return; }
        var a = flow.waypoints[Math.floor((flow.waypoints.length - 1) / 2)];
        var b = flow.waypoints[Math.floor((flow.waypoints.length - 1) / 2) + 1];
        var minX = Math.min.apply(null, flow.waypoints.map(function (w) { return w.x; }));
        var minY = Math.min.apply(null, flow.waypoints.map(function (w) { return w.y; }));
        var x = (a.x + b.x) / 2 - minX, y = (a.y + b.y) / 2 - minY;
        overlays.add(id, { position: { left: x - 8, top: y - 8 }, html: badge("heat-flow", String(data.flows[id])) });
      });
      canvas.zoom("fit-viewport", "auto");
      container.setAttribute("data-drawn", "true");
    })
    .catch(function () {
      container.textContent = container.getAttribute("data-error-text") || "The diagram could not be drawn.";
      container.setAttribute("data-drawn", "error");
    });
})();
