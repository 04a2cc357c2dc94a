// The new-home wizard's small behaviours. Everything works, and is validated on the server,
// without them; no inline script anywhere (the CSP forbids it).
(function () {
  "use strict";

  function inputsNamed(name) {
    return document.querySelectorAll('input[name="' + CSS.escape(name) + '"], select[name="' + CSS.escape(name) + '"]');
  }

  // data-show-if="prefix-field" shows an element while that checkbox is ticked;
  // data-show-if="prefix-field=value" while that radio (or select) has that value.
  function isShown(condition) {
    var parts = condition.split("=");
    var inputs = inputsNamed(parts[0]);
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.type === "checkbox") { return input.checked; }
      if (input.type === "radio" && input.checked) { return input.value === parts[1]; }
      if (input.tagName === "SELECT" || input.type === "hidden") { return input.value === parts[1]; }
    }
    return false;
  }

  function updateShown() {
    document.querySelectorAll("[data-show-if]").forEach(function (element) {
      // Hidden, not disabled: what was typed is kept for when the box is ticked again.
      element.hidden = !isShown(element.dataset.showIf);
    });
  }

  // Utility cards: a rate plan picks its utility; another utility clears a plan that is not its own.
  function highlightCards(utilityId) {
    document.querySelectorAll("[data-utility-card]").forEach(function (card) {
      card.classList.toggle("border-primary", card.dataset.utilityCard === utilityId);
    });
  }

  function onPlanChosen(plan) {
    document.querySelectorAll("input[data-utility-choice]").forEach(function (utility) {
      utility.checked = utility.value === plan.dataset.utility;
    });
    highlightCards(plan.dataset.utility);
  }

  function onUtilityChosen(utility) {
    document.querySelectorAll("input[data-utility]").forEach(function (plan) {
      if (plan.checked && plan.dataset.utility !== utility.value) { plan.checked = false; }
    });
    highlightCards(utility.value);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement || target instanceof HTMLSelectElement)) { return; }
    if (target.dataset.utility) { onPlanChosen(target); }
    if (target.hasAttribute("data-utility-choice")) { onUtilityChosen(target); }
    updateShown();
  });
  // One Create per click: a double click would otherwise send the same draft twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "wizard-form") { return; }
    if (form.dataset.submitting) { event.preventDefault(); return; }
    form.dataset.submitting = "1";
  });
  // A page restored by the browser's back button must accept a submit again.
  window.addEventListener("pageshow", function () {
    var form = document.getElementById("wizard-form");
    if (form) { delete form.dataset.submitting; }
  });

  updateShown();
})();
