// The proposal and final report editors: autosave states, and keeping every form on the
// latest draft version.
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

  // Each save answers with the new version; later saves (and Submit) must carry it. The
  // proposal's saves move the case's version (every `version` input follows); the final
  // report has its own, so only its inputs follow and the submit form keeps the case's.
  function keepVersion(eventName, selector) {
    document.body.addEventListener(eventName, function (evt) {
      var value = evt.detail && evt.detail.value;
      if (value === undefined || value === null) { return; }
      document.querySelectorAll(selector).forEach(function (input) {
        input.value = String(value);
      });
    });
  }
  keepVersion("aksiVersion", "input[type=hidden][name=version]");
  keepVersion("aksiReportVersion", "input[type=hidden][data-report-version]");
})();
