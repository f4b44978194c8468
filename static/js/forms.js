// Data forms (the profil pekon): after an autosave has replaced the message slots beside
// the boxes, mark each box invalid or valid again for screen readers. Saving states and
// network failures are editor.js's.
(function () {
  "use strict";

  function sync() {
    document.querySelectorAll(".field-msgs[data-for]").forEach(function (slot) {
      var box = document.getElementById(slot.getAttribute("data-for"));
      if (!box) { return; }
      if (slot.querySelector(".field-error")) {
        box.setAttribute("aria-invalid", "true");
      } else {
        box.removeAttribute("aria-invalid");
      }
    });
  }

  document.addEventListener("htmx:afterSettle", sync);
})();
