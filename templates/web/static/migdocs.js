/* migdocs: progress of long work (uploads, signing, verification). No inline script: the
   CSP allows only this file.  Without JavaScript the forms work as plain forms. */
(function () {
  "use strict";

  function sizeRu(bytes) {
    if (bytes < 1024) return bytes + "\u00a0байт";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024).toLocaleString("ru-RU") + "\u00a0КБ";
    return (bytes / 1048576).toLocaleString("ru-RU", { maximumFractionDigits: 1 }) + "\u00a0МБ";
  }

  function progressBox(form, label) {
    var box = document.createElement("div");
    box.className = "progress-box";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    box.id = (form.id || "form") + "-progress";
    var text = document.createElement("p");
    text.className = "progress-text";
    text.textContent = label + "…";
    var bar = document.createElement("progress");
    bar.setAttribute("aria-label", label);
    box.appendChild(text);
    box.appendChild(bar);
    form.appendChild(box);
    return { box: box, text: text, bar: bar };
  }

  function replacePage(xhr) {
    var finalUrl = xhr.responseURL || "";
    var action = new URL(xhr._action, window.location.href).href;
    if (finalUrl && finalUrl !== action) {
      window.location.assign(finalUrl); /* the POST redirected: open its result */
      return;
    }
    document.open();
    document.write(xhr.responseText);
    document.close();
  }

  function withProgress(form, event) {
    var label = form.getAttribute("data-progress");
    var buttons = form.querySelectorAll("button[type=submit]");
    var fileInput = form.querySelector("input[type=file]");
    var ui = progressBox(form, label);
    form.setAttribute("aria-busy", "true");
    buttons.forEach(function (b) { b.disabled = true; });
    if (!fileInput || !window.FormData || !window.XMLHttpRequest) {
      return; /* plain submission; the indeterminate bar shows that work is going on */
    }
    event.preventDefault();
    var data = new FormData(form);
    var total = 0;
    for (var i = 0; i < fileInput.files.length; i++) total += fileInput.files[i].size;
    var xhr = new XMLHttpRequest();
    xhr._action = form.action;
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      ui.bar.max = e.total;
      ui.bar.value = e.loaded;
      ui.text.textContent = label + ": передано " + sizeRu(Math.min(e.loaded, total || e.loaded)) +
        " из " + sizeRu(total || e.total) + " (" + Math.round(100 * e.loaded / e.total) + "\u00a0%)";
    };
    xhr.upload.onload = function () {
      ui.bar.removeAttribute("value");
      ui.text.textContent = label + ": файл передан, идёт проверка…";
    };
    xhr.onload = function () { replacePage(xhr); };
    xhr.onerror = function () {
      ui.text.textContent = "Соединение прервано. Повторите попытку.";
      form.removeAttribute("aria-busy");
      buttons.forEach(function (b) { b.disabled = false; });
    };
    xhr.send(data);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-progress")) return;
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    withProgress(form, event);
  });
})();
