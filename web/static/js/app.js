/* Caseflow UI behaviour without a framework: repeatable form rows, text length counters, forms sent once. */
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

  // Long texts: a live count against the form's limit (the server refuses longer text with a message).
  function updateCount(area) {
    var counter = document.querySelector('[data-count-for="' + area.id + '"]');
    if (!counter) { return; }
    var limit = Number(area.getAttribute("data-maxlength"));
    counter.textContent = area.value.length + " / " + limit;
    counter.classList.toggle("over-limit", area.value.length > limit);
  }

  // Uploads over the server's limit are refused here, before the form is sent: the server would
  // answer a request that large with a bare 413, and everything typed would be lost. The limit
  // (data-max-bytes) holds for one file and for all the files of a form together.
  function bytesOf(inputs) {
    var total = 0;
    Array.prototype.forEach.call(inputs, function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) { total += file.size; });
    });
    return total;
  }

  function checkUpload(input, formTotal) {
    var limit = Number(input.getAttribute("data-max-bytes"));
    var own = bytesOf([input]);
    var single = (input.files || []).length === 1 && formTotal === undefined;
    var tooLarge = limit > 0 && (formTotal === undefined ? own : formTotal) > limit;
    var text = single ? input.getAttribute("data-too-large-text")
      : (input.getAttribute("data-too-large-total-text") || input.getAttribute("data-too-large-text"));
    input.setCustomValidity(tooLarge ? (text || "") : "");
    if (tooLarge) { input.reportValidity(); }
    return !tooLarge;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.type === "file" && target.hasAttribute("data-max-bytes")) {
      checkUpload(target);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var inputs = form.querySelectorAll("input[type=file][data-max-bytes]");
    for (var i = 0; i < inputs.length; i += 1) {
      if (!checkUpload(inputs[i])) { event.preventDefault(); return; }
    }
    var total = bytesOf(inputs);
    for (var j = inputs.length - 1; j >= 0; j -= 1) {  // the last input with files tells the total
      if ((inputs[j].files || []).length) {
        if (!checkUpload(inputs[j], total)) { event.preventDefault(); }
        return;
      }
    }
  }, true);

  // A form sent once is not sent again by a second click while its answer is on the way (a
  // double click would file a complaint twice, or answer "no longer ready" to a task just done).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-send-once") || event.defaultPrevented) {
      return;
    }
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    form.setAttribute("aria-busy", "true");
  });

  // Back to a page kept by the browser (back/forward cache): its forms can be sent again.
  window.addEventListener("pageshow", function () {
    var busy = document.querySelectorAll("form[data-send-once][aria-busy]");
    for (var i = 0; i < busy.length; i += 1) { busy[i].removeAttribute("aria-busy"); }
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.hasAttribute("data-maxlength")) { updateCount(target); }
  });

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
