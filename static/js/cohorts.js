// Cohort set-up pages: small conveniences over forms that work without JavaScript.
(function () {
  "use strict";

  // A group chosen for a trainee is saved at once; the button stays for keyboards
  // and for browsers without JavaScript, hidden here.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.classList.add("is-auto");
    var select = form.querySelector("select");
    if (!select) { return; }
    select.addEventListener("change", function () {
      if (select.value) { form.requestSubmit(); }
    });
  });

  // Rebalancing all groups moves trainees who already have one: ask first.
  document.querySelectorAll("form[data-confirm-all]").forEach(function (form) {
    form.addEventListener("submit", function (evt) {
      var all = form.querySelector('input[name="scope"][value="all"]');
      if (all && all.checked && !window.confirm(form.dataset.confirmAll)) {
        evt.preventDefault();
      }
    });
  });

  // Say at once when a file is over the limit, instead of after a long upload.
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () {
      var max = parseInt(input.dataset.maxBytes, 10);
      var file = input.files && input.files[0];
      input.setCustomValidity(file && file.size > max ? input.dataset.tooLarge : "");
      input.reportValidity();
    });
  });
})();
