// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // <select data-autosubmit> submits its form on change (team switcher, role pickers).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.requestSubmit();
    }
  });

  // <form data-confirm="..."> asks before a destructive plain POST.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <button data-copy="#selector"> copies that element's text and says so.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied ✓";
      button.classList.add("is-done");
      setTimeout(function () { button.textContent = label; button.classList.remove("is-done"); }, 1800);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* text stays selected */ }
    }
  });

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();

// Generator and gallery enhancements.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Reference images: previews, drag and drop, and the model's limit.
  function maxRefs() {
    var checked = document.querySelector(".model-option input:checked");
    var option = checked && checked.closest(".model-option");
    return option ? parseInt(option.getAttribute("data-max-refs"), 10) : 16;
  }

  function renderPreviews(zone) {
    var input = zone.querySelector("input[type=file]");
    var box = zone.querySelector("[data-previews]");
    if (!input || !box) return;
    box.textContent = "";
    var limit = maxRefs();
    Array.prototype.forEach.call(input.files, function (file, index) {
      var img = document.createElement("img");
      img.className = "preview" + (index >= limit ? " preview-over" : "");
      img.alt = "Reference " + (index + 1) + ": " + file.name;
      img.src = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(img.src); };
      box.appendChild(img);
    });
    if (input.files.length > limit) {
      var note = document.createElement("p");
      note.className = "field-error";
      note.textContent = "This model takes at most " + limit + " reference images.";
      box.appendChild(note);
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var zone = target.closest && target.closest("[data-dropzone]");
    if (zone) renderPreviews(zone);
    if (target.matches && target.matches(".model-option input")) {
      var option = target.closest(".model-option");
      var hint = document.querySelector("[data-refs-hint]");
      if (hint && option) {
        var name = option.querySelector(".model-name").textContent;
        hint.textContent = option.getAttribute("data-edits") === "1"
          ? name + " takes up to " + option.getAttribute("data-max-refs") + "."
          : name + " cannot edit images.";
      }
      document.querySelectorAll("[data-dropzone]").forEach(renderPreviews);
    }
  });

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = event.target.closest && event.target.closest("[data-dropzone]");
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("is-over");
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone) zone.classList.remove("is-over");
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("is-over");
    var input = zone.querySelector("input[type=file]");
    var merged = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (f) { merged.items.add(f); });
    Array.prototype.forEach.call(event.dataTransfer.files, function (f) {
      if (/^image\/(png|jpeg|webp)$/.test(f.type)) merged.items.add(f);
    });
    input.files = merged.files;
    renderPreviews(zone);
  });

  // Image detail: ← and → follow the prev/next links, unless typing in a field.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag)) return;
    var link = document.querySelector('a[data-hotkey="' + event.key + '"]');
    if (link) {
      event.preventDefault();
      link.click();
    }
  });
})();
