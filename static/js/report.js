// The final report editor: autosave states, and keeping the report form on the latest
// report version. Unlike editor.js it leaves other `version` inputs alone: the submit form
// carries the case's version, which a report save does not change.
(function () {
  "use strict";

  function stateOf(elt) {
    var name = elt && elt.getAttribute && elt.getAttribute("data-autosave");
    return name ? document.getElementById("fs-" + name) : null;
  }

  function show(box, cls, text) {
    box.className = "save-state " + cls;
    box.textContent = text;
  }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var box = stateOf(evt.detail.elt);
    if (box) { show(box, "is-saving", box.dataset.saving || "…"); }
  });

  function failed(evt) {
    var box = stateOf(evt.detail.elt);
    if (box) { show(box, "is-error", box.dataset.failed || "!"); }
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // Each save answers with the report's new version; the next save must carry it.
  document.body.addEventListener("aksiReportVersion", function (evt) {
    var value = evt.detail && evt.detail.value;
    if (value === undefined || value === null) { return; }
    document.querySelectorAll("input[type=hidden][data-report-version]").forEach(function (input) {
      input.value = String(value);
    });
  });
})();
