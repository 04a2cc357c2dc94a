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
  // htmx sends the CSRF token with every non-GET request.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) { event.detail.headers["X-CSRFToken"] = token.value; }
  });
})();
