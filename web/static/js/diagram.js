/* Draws the case's BPMN diagram with bpmn-js (NavigatedViewer: drag to pan, Ctrl+wheel to
   zoom) and marks its progress; a large diagram opens zoomed on the active task. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }
  var READABLE_SCALE = 0.7;

  function list(name) {
    try { return JSON.parse(container.getAttribute("data-" + name) || "[]"); } catch (e) { return []; }
  }

  var viewer = new window.BpmnJS({ container: container });

  function focusOn(ids) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var shapes = ids.map(function (id) { return registry.get(id); }).filter(Boolean);
    if (!shapes.length) { canvas.zoom("fit-viewport", "auto"); return; }
    var box = shapes.reduce(function (acc, s) {
      return { x1: Math.min(acc.x1, s.x), y1: Math.min(acc.y1, s.y),
               x2: Math.max(acc.x2, s.x + s.width), y2: Math.max(acc.y2, s.y + s.height) };
    }, { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity });
    var size = canvas.getSize();
    var width = size.width / READABLE_SCALE;
    var height = size.height / READABLE_SCALE;
    canvas.viewbox({ x: (box.x1 + box.x2 - width) / 2, y: (box.y1 + box.y2 - height) / 2,
                     width: width, height: height });
  }

  function bindControls() {
    var canvas = viewer.get("canvas");
    document.querySelectorAll("[data-diagram-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-diagram-action");
        if (action === "fit") { canvas.zoom("fit-viewport", "auto"); }
        else if (action === "focus") { focusOn(list("active").concat(list("failed"))); }
        else if (action === "in") { canvas.zoom(canvas.zoom() * 1.25); }
        else if (action === "out") { canvas.zoom(canvas.zoom() / 1.25); }
      });
    });
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
      var marks = { completed: "cf-done", active: "cf-active", failed: "cf-failed" };
      Object.keys(marks).forEach(function (name) {
        list(name).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, marks[name]); }
        });
      });
      var fitted = canvas.zoom("fit-viewport", "auto");
      var current = list("active").concat(list("failed"));
      if (fitted < READABLE_SCALE / 2 && current.length) { focusOn(current); }
      bindControls();
      container.setAttribute("data-rendered", "true");
    })
    .catch(function (err) {
      container.setAttribute("data-rendered", "error");
      var message = document.createElement("p");
      message.className = "error";
      message.textContent = (container.getAttribute("data-error-text") || "") + " " + err.message;
      container.appendChild(message);
    });
})();
