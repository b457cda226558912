// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

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

  // Image detail: ← and → follow the prev/next links, unless typing in a field.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (document.querySelector("dialog[open]")) return;
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag)) return;
    var link = document.querySelector('a[data-hotkey="' + event.key + '"]');
    if (link) {
      event.preventDefault();
      link.click();
    }
  });
})();

// The generator page: checks before sending (the server's own limits and messages, read
// from the page), reference images kept across errors and removable one by one, errors
// shown at their fields, the new job brought into view, Ctrl/⌘+Enter to generate.
(function () {
  "use strict";

  function form() { return document.querySelector("[data-generate-form]"); }

  function rules() {
    var node = document.getElementById("generate-rules");
    return node ? JSON.parse(node.textContent) : null;
  }

  function announce(text) {
    var node = document.getElementById("announcer");
    if (!node) return;
    node.textContent = "";
    setTimeout(function () { node.textContent = text; }, 50);
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  // --- Field errors ------------------------------------------------------------------

  function slots() { return document.querySelectorAll(".field-error[data-for]"); }

  function setError(name, text) {
    var slot = document.getElementById("error-" + name);
    if (!slot) return;
    slot.textContent = text || "";
    slot.hidden = !text;
  }

  // Mark fields whose error slot has text, and focus the first of them.
  function markErrors(focus) {
    var first = null;
    slots().forEach(function (slot) {
      var field = document.getElementById(slot.getAttribute("data-for"));
      var invalid = !slot.hidden && slot.textContent.trim() !== "";
      var targets = field ? [field] : [];
      if (slot.id === "error-model") {
        targets = Array.prototype.slice.call(document.querySelectorAll("#generate-form [name=model]"));
        field = document.querySelector("#generate-form [name=model]:checked") || targets[0];
      }
      targets.forEach(function (el) {
        if (invalid) el.setAttribute("aria-invalid", "true");
        else el.removeAttribute("aria-invalid");
      });
      if (invalid && !first) first = field;
    });
    if (focus && first) {
      first.focus({ preventScroll: true });
      first.scrollIntoView({ block: "center", behavior: "instant" });
    }
    return first;
  }

  function clearErrors() {
    ["prompt", "model", "n", "images"].forEach(function (name) { setError(name, ""); });
    var summary = document.getElementById("form-errors");
    if (summary) summary.textContent = "";
    markErrors(false);
  }

  // --- Reference images --------------------------------------------------------------

  var picked = null; // a DataTransfer holding the files chosen so far

  function fileInput() { return document.getElementById("id_images"); }

  function selectedModel() {
    var options = document.getElementById("model-options");
    return options ? {
      name: options.getAttribute("data-name"),
      max: parseInt(options.getAttribute("data-max-refs"), 10),
      edits: options.getAttribute("data-edits") === "1",
    } : { name: "", max: 16, edits: true };
  }

  function referenceCount() {
    var reused = document.querySelectorAll("[data-reused]").length;
    var editing = document.querySelector("[data-editing]") ? 1 : 0;
    return (picked ? picked.files.length : 0) + reused + editing;
  }

  function countProblem() {
    var r = rules();
    var model = selectedModel();
    var count = referenceCount();
    if (!r || !count) return "";
    if (!model.edits) return format(r.images.no_edits, { model: model.name });
    if (count > model.max) return format(r.images.too_many, { model: model.name, max: model.max, count: count });
    return "";
  }

  function syncReferences() {
    var input = fileInput();
    if (!input || !picked) return;
    input.files = picked.files;
    var counter = document.getElementById("id_references");
    if (counter) counter.value = String(referenceCount());
    renderPreviews();
    document.body.dispatchEvent(new CustomEvent("pixdash:refresh-cost"));
  }

  function renderPreviews() {
    var list = document.querySelector("[data-previews]");
    if (!list) return;
    list.querySelectorAll("[data-picked]").forEach(function (item) { item.remove(); });
    Array.prototype.forEach.call(picked.files, function (file, index) {
      var item = document.createElement("li");
      item.className = "preview-item";
      item.setAttribute("data-picked", String(index));
      var img = document.createElement("img");
      img.className = "preview";
      img.alt = "Reference: " + file.name;
      img.width = 64;
      img.height = 64;
      img.src = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(img.src); };
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "preview-remove";
      remove.setAttribute("data-remove-picked", String(index));
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.textContent = "×";
      item.appendChild(img);
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  // Add files the person picked or dropped, refusing (with the server's words) any of
  // the wrong type or too large, before anything is sent.
  function addFiles(files) {
    var r = rules();
    if (!r) return;
    var problems = [];
    Array.prototype.forEach.call(files, function (file) {
      if (r.images.types.indexOf(file.type) === -1) {
        problems.push(file.name + ": " + r.images.bad_type);
      } else if (file.size > r.images.max_bytes) {
        problems.push(file.name + ": " + r.images.too_large);
      } else {
        picked.items.add(file);
      }
    });
    syncReferences();
    var problem = problems.concat(countProblem() ? [countProblem()] : []).join(" ");
    setError("images", problem);
    markErrors(false);
    if (problem) announce(problem);
  }

  function removePicked(index) {
    var kept = new DataTransfer();
    Array.prototype.forEach.call(picked.files, function (file, i) {
      if (i !== index) kept.items.add(file);
    });
    picked = kept;
    syncReferences();
    setError("images", countProblem());
    markErrors(false);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "id_images" && picked) {
      // The picker replaces the input's files; add the new ones to those kept so far.
      var chosen = Array.prototype.slice.call(target.files);
      target.files = picked.files;
      addFiles(chosen);
    }
  });

  document.addEventListener("click", function (event) {
    var removePickedButton = event.target.closest && event.target.closest("[data-remove-picked]");
    if (removePickedButton) {
      removePicked(parseInt(removePickedButton.getAttribute("data-remove-picked"), 10));
      var next = document.querySelector("[data-remove-picked], [data-remove-reference]") || fileInput();
      if (next) next.focus();
      return;
    }
    var removeReused = event.target.closest && event.target.closest("[data-remove-reference]");
    if (removeReused) {
      removeReused.closest("[data-reused]").remove();
      syncReferences();
      setError("images", countProblem());
      markErrors(false);
      var other = document.querySelector("[data-remove-picked], [data-remove-reference]") || fileInput();
      if (other) other.focus();
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
    if (!zone || !picked) return;
    event.preventDefault();
    zone.classList.remove("is-over");
    addFiles(event.dataTransfer.files);
  });

  // --- Checks before sending -----------------------------------------------------------

  function check() {
    var r = rules();
    var f = form();
    if (!r || !f) return true;
    clearErrors();
    var prompt = f.querySelector("[name=prompt]").value;
    if (!prompt.trim()) setError("prompt", r.prompt.required);
    else if (prompt.length > r.prompt.max_length) setError("prompt", r.prompt.too_long);
    var raw = f.querySelector("[name=n]").value.trim();
    var n = Number(raw);
    if (!/^-?\d+$/.test(raw)) setError("n", r.n.invalid);
    else if (n < r.n.min) setError("n", r.n.too_few);
    else if (n > r.n.max) setError("n", r.n.too_many);
    setError("images", countProblem());
    var first = markErrors(true);
    var shown = document.querySelector(".field-error[data-for]:not([hidden])");
    if (shown) announce(shown.textContent);
    return !first;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var f = form();
    if (!f || event.detail.elt !== f || event.detail.verb !== "post") return;
    if (!check()) event.preventDefault();
  });

  // Ctrl+Enter (⌘+Enter on a Mac) generates from anywhere in the form.
  document.addEventListener("keydown", function (event) {
    var f = form();
    if (!f || event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!f.contains(document.activeElement)) return;
    event.preventDefault();
    var button = document.getElementById("generate-button");
    if (button && !button.disabled) f.requestSubmit(button);
  });

  // "Clear" empties the form: the prompt, the picked files, the settings back to defaults.
  document.addEventListener("click", function (event) {
    var clear = event.target.closest && event.target.closest("[data-clear-form]");
    var f = form();
    if (!clear || !f) return;
    event.preventDefault();
    f.querySelector("[name=prompt]").value = "";
    f.querySelector("[name=n]").value = "1";
    var editFrom = f.querySelector("[name=edit_from]");
    if (editFrom) editFrom.value = "";
    var editing = f.querySelector("[data-editing]");
    if (editing) editing.remove();
    f.querySelectorAll("[data-reused]").forEach(function (item) { item.remove(); });
    picked = new DataTransfer();
    syncReferences();
    clearErrors();
    var first = f.querySelector("[name=model]:not(:disabled)");
    if (first && !first.checked) {
      first.checked = true;
      first.dispatchEvent(new Event("change", { bubbles: true }));
    }
    f.querySelector("[name=prompt]").focus();
    announce("The form is cleared.");
  });

  // --- After htmx swaps ---------------------------------------------------------------

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "cost-line") {
      // The cost line says whether the job can run; the button itself is never replaced,
      // so a click on it is never lost to this refresh.
      var cost = target.querySelector("[data-cost]");
      var button = document.getElementById("generate-button");
      if (cost && button) {
        var blocked = cost.getAttribute("data-blocked") === "1";
        button.disabled = blocked;
        if (blocked) button.setAttribute("aria-describedby", "blocked-reason");
        else button.removeAttribute("aria-describedby");
      }
    } else if (target.id === "form-errors" || target.id === "submit-bar") {
      markErrors(true);
    } else if (target.id === "model-options") {
      var model = selectedModel();
      var hint = document.querySelector("[data-refs-hint]");
      if (hint) hint.textContent = model.edits ? model.name + " takes up to " + model.max + "." : model.name + " cannot edit images.";
      if (referenceCount()) { setError("images", countProblem()); markErrors(false); }
    } else if (target.id === "jobs") {
      var empty = document.getElementById("jobs-empty");
      var card = target.querySelector(".job");
      var config = event.detail.requestConfig;
      if (config && config.verb === "post" && config.elt === form() && card) {
        if (empty) empty.remove();
        clearErrors();
        // Bring the new job into view (on a phone it starts far below the form).
        var rect = card.getBoundingClientRect();
        if (rect.top < 0 || rect.top > window.innerHeight - 80) {
          card.scrollIntoView({ block: "start", behavior: "instant" });
        }
        announce("Started: " + (card.querySelector(".job-title") || card).textContent.replace(/\s+/g, " ").trim());
      }
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var config = event.detail.requestConfig;
    if (!config || config.elt !== form()) return;
    var summary = document.getElementById("form-errors");
    if (summary) summary.textContent = "Something went wrong on our side; nothing was started. Try again.";
  });

  // The pinned composer is as tall as the screen below where it sits now (lower while the
  // page head is still in view), so its submit bar is always on screen; its fields scroll.
  function fitComposer() {
    var composer = document.querySelector(".composer");
    if (!composer) return;
    if (getComputedStyle(composer).position !== "sticky") {
      composer.style.maxHeight = "";
      return;
    }
    var top = Math.max(composer.getBoundingClientRect().top, parseFloat(getComputedStyle(composer).top) || 0);
    composer.style.maxHeight = Math.max(320, window.innerHeight - top - 12) + "px";
  }
  window.addEventListener("scroll", fitComposer, { passive: true });
  window.addEventListener("resize", fitComposer);

  function init() {
    fitComposer();
    if (!form()) return;
    picked = new DataTransfer();
    markErrors(document.querySelector(".field-error[data-for]:not([hidden])") !== null);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// The gallery: select several images for favourite, delete or a zip download; and a
// lightbox with zoom and keyboard navigation (links still open the image's page).
(function () {
  "use strict";

  function selected() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-select]:checked"));
  }

  function updateBulk() {
    var bar = document.querySelector("[data-bulk]");
    if (!bar) return;
    var ids = selected().map(function (box) { return box.value; });
    bar.hidden = ids.length === 0;
    bar.querySelector("[data-bulk-count]").textContent = String(ids.length);
    var zip = bar.querySelector("[data-bulk-zip]");
    var base = zip.getAttribute("href").split("?")[0];
    zip.setAttribute("href", base + "?" + ids.map(function (id) { return "ids=" + id; }).join("&"));
    document.querySelectorAll(".tile").forEach(function (tile) {
      var box = tile.querySelector("[data-select]");
      tile.classList.toggle("is-selected", !!(box && box.checked));
    });
    document.body.classList.toggle("is-selecting", ids.length > 0);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-select]")) updateBulk();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-bulk-clear]")) {
      selected().forEach(function (box) { box.checked = false; });
      updateBulk();
    }
  });
  document.addEventListener("submit", function (event) {
    var bar = event.target.closest && event.target.closest("[data-bulk]");
    if (!bar) return;
    var action = event.submitter && event.submitter.value;
    if (action === "delete" && !window.confirm("Delete " + selected().length + " images? You can undo it right after.")) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:afterSettle", updateBulk);

  // --- Lightbox ------------------------------------------------------------------------

  var box = null;
  var current = null; // the tile shown
  var zoom = 1;

  function tiles() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-gallery] .tile[data-image]"));
  }

  // Zoom 1 fits the image to the screen; 2, 4, 8 enlarge that fitted size, and the
  // stage scrolls to pan.
  function applyZoom() {
    var img = box.querySelector("[data-lightbox-image]");
    var stage = box.querySelector("[data-lightbox-stage]");
    if (zoom > 1) {
      if (!img.getAttribute("data-fit-width")) {
        img.setAttribute("data-fit-width", String(img.getBoundingClientRect().width));
      }
      stage.classList.add("is-zoomed");
      img.style.width = (parseFloat(img.getAttribute("data-fit-width")) * zoom) + "px";
    } else {
      stage.classList.remove("is-zoomed");
      img.style.width = "";
      img.removeAttribute("data-fit-width");
    }
    box.setAttribute("data-zoom", String(zoom));
  }

  function show(tile) {
    current = tile;
    zoom = 1;
    var img = box.querySelector("[data-lightbox-image]");
    img.src = tile.getAttribute("data-original");
    img.alt = tile.getAttribute("data-prompt");
    box.querySelector("[data-lightbox-caption]").textContent = tile.getAttribute("data-prompt");
    box.querySelector("[data-lightbox-detail]").setAttribute("href", tile.getAttribute("data-detail"));
    var list = tiles();
    var index = list.indexOf(tile);
    box.querySelector("[data-lightbox-step='-1']").disabled = index <= 0;
    box.querySelector("[data-lightbox-step='1']").disabled = index >= list.length - 1;
    applyZoom();
  }

  function step(delta) {
    var list = tiles();
    var index = list.indexOf(current) + delta;
    if (index >= 0 && index < list.length) show(list[index]);
  }

  function close() {
    if (!box || !box.open) return;
    box.close();
  }

  document.addEventListener("click", function (event) {
    box = box || document.querySelector("[data-lightbox]");
    if (!box) return;
    var link = event.target.closest && event.target.closest("[data-gallery] .tile-link");
    if (link && !(event.ctrlKey || event.metaKey || event.shiftKey || event.button)) {
      event.preventDefault();
      show(link.closest(".tile"));
      box.showModal();
      box.querySelector("[data-lightbox-close]").focus();
      return;
    }
    if (!box.open) return;
    var stepButton = event.target.closest("[data-lightbox-step]");
    if (stepButton) { step(parseInt(stepButton.getAttribute("data-lightbox-step"), 10)); return; }
    var zoomButton = event.target.closest("[data-lightbox-zoom]");
    if (zoomButton) {
      var how = zoomButton.getAttribute("data-lightbox-zoom");
      zoom = how === "fit" ? 1 : Math.max(1, Math.min(8, how === "in" ? zoom * 2 : zoom / 2));
      applyZoom();
      return;
    }
    if (event.target.closest("[data-lightbox-close]")) { close(); return; }
    if (event.target.matches("[data-lightbox-image]")) {
      zoom = zoom > 1 ? 1 : 2;
      applyZoom();
      return;
    }
    if (event.target === box || event.target.matches("[data-lightbox-stage]")) close();
  });

  document.addEventListener("keydown", function (event) {
    if (!box || !box.open) return;
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
    else if (event.key === "+" || event.key === "=") { zoom = Math.min(8, zoom * 2); applyZoom(); }
    else if (event.key === "-") { zoom = Math.max(1, zoom / 2); applyZoom(); }
    else if (event.key === "0") { zoom = 1; applyZoom(); }
  });

  document.addEventListener("close", function (event) {
    if (event.target === box && current) {
      var link = current.querySelector(".tile-link");
      if (link) link.focus();
    }
  }, true);
})();

// "Try on other models": the total of the models ticked, before anything runs.
(function () {
  "use strict";
  function format(amount) {
    return (Math.round(amount * 100) / 100).toLocaleString("en", { maximumFractionDigits: 2, minimumFractionDigits: amount % 1 ? 2 : 0 });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("[data-compare]");
    if (!form) return;
    var ticked = form.querySelectorAll("input[name=models]:checked");
    var total = 0;
    ticked.forEach(function (box) { total += parseFloat(box.getAttribute("data-hold")) || 0; });
    var line = form.querySelector("[data-compare-total]");
    line.textContent = ticked.length
      ? ticked.length + " model" + (ticked.length > 1 ? "s" : "") + ": " + format(total) + " credit" + (total === 1 ? "" : "s") + " in all"
      : "Pick up to 3 models; each shows what it costs.";
  });
})();
