/* Draws the case's BPMN diagram with bpmn-js (NavigatedViewer) and marks its progress. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }

  function list(name) {
    try { return JSON.parse(container.getAttribute("data-" + name) || "[]"); } catch (e) { return []; }
  }

  var viewer = new window.BpmnJS({ container: container });
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
      canvas.zoom("fit-viewport", "auto");
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
