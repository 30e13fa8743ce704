/* The print button of the record sheets. */
document.addEventListener("click", function (event) {
  if (event.target instanceof Element && event.target.closest("[data-print]")) { window.print(); }
});
