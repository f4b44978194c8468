// Dashboard: select-all for the bulk form, the count of selected rows, and only the
// fields of the chosen action. Without JavaScript every field shows and the form works.
(function () {
  "use strict";

  function picks(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input[data-pick]"));
  }

  function refresh(form) {
    if (!form) { return; }
    var boxes = picks(form);
    var checked = boxes.filter(function (b) { return b.checked; }).length;
    var all = form.querySelector("input[data-select-all]");
    if (all) {
      all.hidden = false;
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    var count = form.querySelector("[data-selected-count]");
    if (count && count.dataset.template) {
      count.textContent = count.dataset.template.replace("{n}", String(checked));
    }
    var action = form.querySelector("select[data-bulk-action]");
    if (action) {
      form.querySelectorAll("[data-for-action]").forEach(function (el) {
        el.hidden = el.dataset.forAction !== action.value;
      });
    }
  }

  function setUp(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var form = scope.id === "bulk-form" ? scope : scope.querySelector("#bulk-form");
    refresh(form);
  }

  document.addEventListener("change", function (evt) {
    var target = evt.target;
    var form = target.closest && target.closest("#bulk-form");
    if (!form) { return; }
    if (target.matches("input[data-select-all]")) {
      picks(form).forEach(function (b) { b.checked = target.checked; });
    }
    refresh(form);
  });

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (evt) { setUp(evt.target); });
})();
