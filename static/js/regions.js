// Region picker (templates/regions/_picker.html): htmx fills the option list as one types;
// picking an option fills the code box and the text box. No inline scripts (CSP).
(function () {
  "use strict";
  // The picker macro may include this file more than once on a page.
  if (window.aksiRegionPicker) return;
  window.aksiRegionPicker = true;

  function pickerOf(el) {
    return el && el.closest ? el.closest("[data-region-picker]") : null;
  }

  function close(picker) {
    var list = picker.querySelector(".region-options");
    var search = picker.querySelector("[role=combobox]");
    if (list) list.innerHTML = "";
    if (search) search.setAttribute("aria-expanded", "false");
  }

  function choose(button) {
    var picker = pickerOf(button);
    if (!picker) return;
    var code = picker.querySelector("[data-region-code]");
    var search = picker.querySelector("[role=combobox]");
    if (code) {
      code.value = button.getAttribute("data-code") || "";
      // Autosaving forms listen for input/change on their fields.
      code.dispatchEvent(new Event("input", { bubbles: true }));
      code.dispatchEvent(new Event("change", { bubbles: true }));
    }
    if (search) {
      search.value = button.getAttribute("data-label") || "";
      search.focus();
    }
    close(picker);
    picker.dispatchEvent(
      new CustomEvent("region:picked", {
        bubbles: true,
        detail: { code: button.getAttribute("data-code"), label: button.getAttribute("data-label") },
      })
    );
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".region-option") : null;
    if (button) {
      event.preventDefault();
      choose(button);
    }
  });

  document.addEventListener("keydown", function (event) {
    var picker = pickerOf(event.target);
    if (!picker) return;
    var options = Array.prototype.slice.call(picker.querySelectorAll(".region-option"));
    var search = picker.querySelector("[role=combobox]");
    if (event.key === "Escape") {
      close(picker);
      if (search) search.focus();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      event.preventDefault();
      var at = options.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? at + 1 : at - 1;
      if (next < 0) {
        if (search) search.focus();
        return;
      }
      options[Math.min(next, options.length - 1)].focus();
    } else if (event.key === "Enter" && event.target === search) {
      // Enter in the search box picks the first option instead of submitting the form
      // (never the milestone row's form around a units filler).
      if (options.length || search.closest("[data-units-fill]")) event.preventDefault();
      if (options.length) choose(options[0]);
    }
  });

  // Emptying the name box clears the code too.
  function onInput(event) {
    var picker = pickerOf(event.target);
    if (!picker || event.target.getAttribute("role") !== "combobox") return;
    var code = picker.querySelector("[data-region-code]");
    if (code && code.value && event.target.value.trim() === "") code.value = "";
  }
  document.addEventListener("input", onInput);

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.target;
    if (!list.classList || !list.classList.contains("region-options")) return;
    var picker = pickerOf(list);
    var search = picker && picker.querySelector("[role=combobox]");
    if (search) search.setAttribute("aria-expanded", list.children.length ? "true" : "false");
  });

  // ---- filling a coverage milestone's units from the region table (_units_fill.html)

  function arm(root) {
    if (!root || !root.querySelectorAll) return;
    var boxes = Array.prototype.slice.call(root.querySelectorAll("[data-units-fill]"));
    if (root.matches && root.matches("[data-units-fill]")) boxes.push(root);
    boxes.forEach(function (box) {
      if (box.getAttribute("data-armed")) return;
      box.setAttribute("data-armed", "1");
      box.hidden = false;
      // The row form saves on every change: picking a region is not a change of the row.
      ["change", "input"].forEach(function (type) {
        box.addEventListener(type, function (event) {
          if (type === "input") onInput(event);
          event.stopPropagation();
        });
      });
    });
  }

  function say(box, text, isError) {
    var message = box.querySelector("[data-units-fill-message]");
    if (!message) return;
    message.textContent = text || "";
    message.classList.toggle("field-error", !!isError);
  }

  function fill(button) {
    var box = button.closest("[data-units-fill]");
    var target = document.getElementById(button.getAttribute("data-units-target"));
    var code = box && box.querySelector("[data-region-code]");
    if (!box || !target || !code) return;
    var failed = button.getAttribute("data-units-failed");
    var url = button.getAttribute("data-units-url") + "?code=" + encodeURIComponent(code.value.trim());
    button.disabled = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          say(box, (result.body && result.body.message) || failed, true);
          return;
        }
        // Keep what is there; add the units not listed yet.
        var lines = target.value.split(/\r?\n/).map(function (l) { return l.trim(); }).filter(Boolean);
        var have = {};
        lines.forEach(function (l) { have[l.toLowerCase()] = true; });
        result.body.units.forEach(function (name) {
          if (!have[name.toLowerCase()]) {
            lines.push(name);
            have[name.toLowerCase()] = true;
          }
        });
        target.value = lines.join("\n");
        say(box, result.body.message, false);
        target.dispatchEvent(new Event("input", { bubbles: true }));
        target.dispatchEvent(new Event("change", { bubbles: true }));
      })
      .catch(function () {
        say(box, failed, true);
      })
      .then(function () {
        button.disabled = false;
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-units-fill-button]") : null;
    if (button) {
      event.preventDefault();
      fill(button);
    }
  });

  document.addEventListener("htmx:load", function (event) {
    arm(event.detail && event.detail.elt);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { arm(document); });
  } else {
    arm(document);
  }
})();
