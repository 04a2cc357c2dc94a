// Drop zones for readings files (templates/devices/_dropzone.html). Without this script the form
// posts its files and the server answers with the preview page. With it, each file is sent on
// its own (three at a time) by XMLHttpRequest, its upload progress shown in a <progress>, and the
// server's preview card (an HTML fragment) replaces the progress row.
(function () {
  "use strict";

  // Files sent at once; a form may ask for fewer with data-parallel="1".
  var PARALLEL = 3;

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function sizeText(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    if (bytes >= 1024) { return Math.round(bytes / 1024) + " KB"; }
    return bytes + " bytes";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function Zone(form) {
    this.form = form;
    this.input = form.querySelector("input[type=file]");
    this.queue = document.getElementById(form.dataset.queue) || form.querySelector(".upload-queue");
    this.target = form.querySelector("[data-drop-target]") || form;
    this.pending = [];
    this.running = 0;
    this.counter = 0;
    this.parallel = parseInt(form.dataset.parallel || PARALLEL, 10) || PARALLEL;
    var submit = form.querySelector("[data-dropzone-submit]");
    if (submit) { submit.hidden = true; }
    this.bind();
  }

  Zone.prototype.bind = function () {
    var zone = this;
    var target = this.target;
    ["dragenter", "dragover"].forEach(function (name) {
      target.addEventListener(name, function (event) {
        event.preventDefault();
        if (event.dataTransfer) { event.dataTransfer.dropEffect = "copy"; }
        target.classList.add("is-dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      target.addEventListener(name, function (event) {
        if (!target.contains(event.relatedTarget)) { target.classList.remove("is-dragover"); }
      });
    });
    target.addEventListener("drop", function (event) {
      event.preventDefault();
      target.classList.remove("is-dragover");
      if (event.dataTransfer && event.dataTransfer.files.length) { zone.add(event.dataTransfer.files); }
    });
    this.input.addEventListener("change", function () {
      if (zone.input.files.length) { zone.add(zone.input.files); }
      zone.input.value = "";
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (zone.input.files.length) { zone.add(zone.input.files); }
    });
  };

  Zone.prototype.add = function (files) {
    for (var i = 0; i < files.length; i++) {
      this.pending.push(this.row(files[i]));
    }
    this.pump();
  };

  Zone.prototype.row = function (file) {
    var id = "upload-row-" + Date.now() + "-" + (this.counter++);
    var item = el("li", "card mb-2 upload-row");
    item.id = id;
    var body = el("div", "card-body py-2");
    var head = el("div", "d-flex justify-content-between gap-2 small");
    head.appendChild(el("span", "mono fw-semibold text-truncate", file.name));
    head.appendChild(el("span", "text-body-secondary nowrap", sizeText(file.size)));
    var bar = el("progress", "w-progress");
    bar.max = 100;
    bar.value = 0;
    bar.id = id + "-progress";
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var status = el("div", "small text-body-secondary upload-status", "Waiting…");
    body.appendChild(head);
    body.appendChild(bar);
    body.appendChild(status);
    item.appendChild(body);
    this.queue.appendChild(item);
    return { file: file, item: item, bar: bar, status: status };
  };

  Zone.prototype.pump = function () {
    while (this.running < this.parallel && this.pending.length) {
      this.running++;
      this.send(this.pending.shift());
    }
  };

  Zone.prototype.done = function () {
    this.running--;
    this.pump();
  };

  Zone.prototype.send = function (job) {
    var zone = this;
    var xhr = new XMLHttpRequest();
    var data = new FormData();
    data.append("files", job.file, job.file.name);
    xhr.open("POST", this.form.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.setRequestHeader("X-CSRFToken", csrfToken(this.form));
    job.status.textContent = "Uploading…";
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        var percent = Math.round(event.loaded / event.total * 100);
        job.bar.value = percent;
        job.status.textContent = "Uploading… " + percent + " %";
      }
    });
    xhr.upload.addEventListener("load", function () {
      job.bar.value = 100;
      job.status.textContent = "Uploaded; checking the file…";
    });
    xhr.addEventListener("load", function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (type.indexOf("text/html") === 0 && xhr.responseText.indexOf("upload-card") !== -1) {
        job.item.className = "upload-result";
        job.item.innerHTML = xhr.responseText;
        if (window.htmx) { window.htmx.process(job.item); }
        job.item.dispatchEvent(new CustomEvent("gridfolio:loaded", { bubbles: true }));
      } else {
        job.item.classList.add("border-danger");
        job.status.className = "small text-danger upload-status";
        job.status.textContent = xhr.status === 403 ? "Your role can't upload readings."
          : (xhr.responseText && type.indexOf("text/plain") === 0 ? xhr.responseText
            : "The server could not check this file (HTTP " + xhr.status + ").");
      }
      zone.done();
    });
    xhr.addEventListener("error", function () {
      job.item.classList.add("border-danger");
      job.status.className = "small text-danger upload-status";
      job.status.textContent = "The upload failed (network). Try again.";
      zone.done();
    });
    xhr.send(data);
  };

  function init(root) {
    (root || document).querySelectorAll("form[data-dropzone]").forEach(function (form) {
      if (!form.dataset.dropzoneReady) {
        form.dataset.dropzoneReady = "1";
        new Zone(form);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
