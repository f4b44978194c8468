// Milestone cards (templates/implementation/_card.html). Everything works without this file;
// it saves phone users a slow upload that would be refused, shows upload progress, and keeps
// the other cards' forms current after one card changed the case.
(function () {
  "use strict";

  // ---- file checks before sending: too many, too large, or too much together
  function checkFiles(input) {
    var max = parseInt(input.dataset.maxBytes || "0", 10);
    var maxTotal = parseInt(input.dataset.maxTotalBytes || "0", 10);
    var maxFiles = parseInt(input.dataset.maxFiles || "0", 10);
    var files = Array.prototype.slice.call(input.files || []);
    var problem = "";
    var total = 0;
    if (maxFiles && files.length > maxFiles) {
      problem = input.dataset.tooMany || "";
    }
    files.forEach(function (f) {
      total += f.size;
      if (!problem && max && f.size > max) {
        problem = (input.dataset.tooLarge || "").replace("{name}", f.name);
      }
    });
    if (!problem && maxTotal && total > maxTotal) {
      problem = input.dataset.tooLargeTotal || "";
    }
    // A custom validity stops the submit, with htmx and without.
    input.setCustomValidity(problem);
    var box = document.getElementById(input.id + "-check");
    if (box) {
      box.textContent = problem;
      box.hidden = !problem;
    }
  }

  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (input && input.matches && input.matches('input[type="file"][data-max-bytes]')) {
      checkFiles(input);
    }
  });

  // ---- upload progress on the form's button (slow connections)
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target && evt.target.closest && evt.target.closest("form");
    if (!form || !form.querySelector('input[type="file"]')) { return; }
    var detail = evt.detail || {};
    if (!detail.lengthComputable || !detail.total) { return; }
    var button = form.querySelector('button[type="submit"]');
    if (!button) { return; }
    if (!button.dataset.label) { button.dataset.label = button.textContent; }
    var pct = Math.min(100, Math.round((detail.loaded / detail.total) * 100));
    button.textContent = button.dataset.label + " " + pct + "%";
  });

  // ---- a request too large to read comes back as the card with a message: show it
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var detail = evt.detail || {};
    var target = detail.target;
    if (detail.xhr && detail.xhr.status === 413 && target && target.closest && target.closest(".ms-card")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  // ---- after our own change, the other forms' case version is still current: move it on
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-version-before]").forEach(function (card) {
      var before = card.getAttribute("data-version-before");
      var after = card.getAttribute("data-version");
      card.removeAttribute("data-version-before");
      if (!before || !after || before === after) { return; }
      document.querySelectorAll('input[name="version"]').forEach(function (input) {
        if (input.value === before) { input.value = after; }
      });
    });
  });
})();
