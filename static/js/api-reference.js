// The API reference page: Swagger UI (static/vendor/swagger-ui/) on the OpenAPI document named
// by #api-reference's data-spec-url. No inline script: the CSP allows only our own files.
(function () {
  "use strict";
  var root = document.getElementById("api-reference");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    validatorUrl: null, // never send the document to swagger.io's validator
  });
})();
