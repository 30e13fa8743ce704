/* Caseflow UI behaviour without a framework: repeatable form rows. */
(function () {
  "use strict";

  // Rows keep the index they were rendered with; the server renumbers them on submit.
  function addRow(fieldset) {
    var template = fieldset.querySelector("template");
    var tbody = fieldset.querySelector("tbody");
    var next = Number(fieldset.getAttribute("data-next-index") || tbody.children.length + 1000);
    fieldset.setAttribute("data-next-index", String(next + 1));
    var html = template.innerHTML.split("__index__").join(String(next));
    tbody.insertAdjacentHTML("beforeend", html);
    var first = tbody.lastElementChild.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var add = target.closest("[data-add-row]");
    if (add) {
      event.preventDefault();
      addRow(add.closest("[data-rows]"));
      return;
    }
    var remove = target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      remove.closest("tr[data-row]").remove();
    }
  });
})();
