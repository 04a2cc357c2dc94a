// Gridfolio's small page behaviours. No inline script anywhere: the CSP forbids it.
(function () {
  "use strict";
  // Forms with data-confirm ask before submitting (delete, retry all, disconnect).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // A select with data-follows="<field>" offers only the options whose data-<key> is the value
  // chosen in that field (a device's meters: those of its home).
  function follow(select) {
    var form = select.form;
    var leader = form && form.elements[select.dataset.follows];
    if (!leader) { return; }
    var key = select.dataset.followsKey;
    Array.prototype.forEach.call(select.options, function (option) {
      var owner = option.dataset[key];
      var shown = !owner || owner === leader.value;
      option.hidden = !shown;
      option.disabled = !shown;
      if (!shown && option.selected) { select.value = ""; }
    });
  }
  document.querySelectorAll("select[data-follows]").forEach(function (select) {
    follow(select);
    var leader = select.form && select.form.elements[select.dataset.follows];
    if (leader) { leader.addEventListener("change", function () { follow(select); }); }
  });
  // htmx sends the CSRF token with every non-GET request.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) { event.detail.headers["X-CSRFToken"] = token.value; }
  });
})();
