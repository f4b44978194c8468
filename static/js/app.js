// Aksi: the little JavaScript the pages need. No inline scripts anywhere (CSP 'self').
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token in a header too.
  document.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRFToken"] = csrfToken();
  });

  function showProblem(text) {
    var box = document.getElementById("flash");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
    box.scrollIntoView({ block: "nearest" });
  }

  // Background polls (the inbox badge) neither clear messages nor raise alarms.
  function isBackground(evt) {
    var elt = evt.detail && (evt.detail.elt || evt.detail.target);
    return !!(elt && elt.closest && elt.closest("[data-background]"));
  }

  // Errors that are not swapped (400, 404, 500…) still tell the user something.
  document.addEventListener("htmx:responseError", function (evt) {
    if (isBackground(evt)) { return; }
    showProblem(document.body.dataset.errorMessage || "Error");
  });
  document.addEventListener("htmx:sendError", function (evt) {
    if (isBackground(evt)) { return; }
    showProblem(document.body.dataset.offlineMessage || "Offline");
  });

  // After a swap, bring the outcome (success or problem) into view for the reader.
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (isBackground(evt)) { return; }
    var target = evt.detail.target;
    if (!target || !target.querySelector) { return; }
    var status = document.getElementById(target.id) || target;
    var message = status.querySelector(".alert");
    if (message) {
      message.setAttribute("tabindex", "-1");
      message.focus({ preventScroll: true });
      message.scrollIntoView({ block: "nearest" });
    }
    var flash = document.getElementById("flash");
    if (flash) { flash.replaceChildren(); }
  });
})();
