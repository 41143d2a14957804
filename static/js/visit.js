// The visit form on the phone: visit ID, location fix, show_if conditions, photo counts,
// extra on-site problem rows, and the same answer checks the server makes before it saves.
(function () {
  "use strict";

  var form = document.getElementById("visit-form");
  if (!form) {
    return;
  }
  var messages = form.dataset;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  // Visit ID and times.

  function randomUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // crypto.randomUUID needs a secure context (HTTPS); getRandomValues does not.
    var bytes = new Uint8Array(16);
    if (window.crypto && typeof window.crypto.getRandomValues === "function") {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i += 1) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  var uuidInput = form.elements.client_uuid;
  if (uuidInput && !uuidInput.value) {
    uuidInput.value = randomUuid();
  }
  if (form.elements.started_at && !form.elements.started_at.value) {
    form.elements.started_at.value = new Date().toISOString();
  }

  // Location.

  var statusBox = document.getElementById("location-status");
  var retryButton = document.getElementById("location-retry");
  var maxAccuracy = parseFloat(messages.maxAccuracy) || 100;

  function showStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "location-status" + (kind ? " is-" + kind : "");
  }

  function setFix(position) {
    var coords = position.coords;
    form.elements.latitude.value = String(coords.latitude);
    form.elements.longitude.value = String(coords.longitude);
    form.elements.accuracy_m.value = String(coords.accuracy);
    form.elements.fixed_at.value = new Date(position.timestamp || Date.now()).toISOString();
    var accuracy = Math.round(coords.accuracy);
    if (coords.accuracy > maxAccuracy) {
      showStatus(format(messages.msgLocatedPoor, { accuracy: accuracy }), "warn");
    } else {
      showStatus(format(messages.msgLocated, { accuracy: accuracy }), "ok");
    }
  }

  function locationFailed(error) {
    var text = messages.msgUnavailable;
    if (error && error.code === 1) {
      text = messages.msgDenied;
    } else if (error && error.code === 3) {
      text = messages.msgTimeout;
    }
    showStatus(text, "bad");
    retryButton.disabled = false;
  }

  function locate() {
    if (!navigator.geolocation) {
      showStatus(messages.msgUnsupported, "bad");
      retryButton.hidden = true;
      return;
    }
    showStatus(messages.msgLocating, "");
    retryButton.disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      setFix(position);
      retryButton.disabled = false;
    }, locationFailed, { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 });
  }

  retryButton.addEventListener("click", locate);
  if (form.elements.latitude.value && form.elements.accuracy_m.value) {
    // The page came back with errors: keep the fix it was sent with.
    showStatus(format(messages.msgKept, { accuracy: Math.round(parseFloat(form.elements.accuracy_m.value)) }), "ok");
  } else {
    locate();
  }

  // Answers and show_if conditions, mirroring fieldapp/visits/questionnaires.py.

  var questions = Array.prototype.slice.call(form.querySelectorAll(".q[data-field]"));
  var byKey = {};
  questions.forEach(function (node) {
    byKey[node.dataset.field] = node;
  });

  function inputsOf(node) {
    return Array.prototype.slice.call(node.querySelectorAll("input, select, textarea"));
  }

  // Return the typed answer of a visible field, or undefined when it has none.
  function answerOf(key) {
    var node = byKey[key];
    if (!node || node.hidden) {
      return undefined;
    }
    var inputs = inputsOf(node);
    var type = node.dataset.type;
    if (type === "multiple_choice") {
      var chosen = inputs.filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
      return chosen.length ? chosen : undefined;
    }
    if (type === "photo") {
      return inputs[0].files ? inputs[0].files.length : 0;
    }
    var value;
    if (inputs[0].type === "radio") {
      var checked = inputs.filter(function (i) { return i.checked; })[0];
      value = checked ? checked.value : "";
    } else {
      value = inputs[0].value.trim();
    }
    if (value === "") {
      return undefined;
    }
    if (type === "yes_no" && (value === "yes" || value === "no")) {
      return value === "yes";
    }
    if (type === "number") {
      var number = Number(value.replace(",", "."));
      return isFinite(number) ? number : NaN;
    }
    return value;
  }

  function holds(condition) {
    if (condition.all) {
      return condition.all.every(holds);
    }
    if (condition.any) {
      return condition.any.some(holds);
    }
    if (Object.prototype.hasOwnProperty.call(condition, "const")) {
      return condition.const;
    }
    var value = answerOf(condition.field);
    if (Object.prototype.hasOwnProperty.call(condition, "equals")) {
      return value !== undefined && value === condition.equals;
    }
    if (condition.in) {
      return value !== undefined && condition.in.indexOf(value) !== -1;
    }
    return Array.isArray(value) && value.indexOf(condition.contains) !== -1;
  }

  // Show and hide fields in page order, so that a condition reads only the answers of visible fields.
  function applyConditions() {
    questions.forEach(function (node) {
      var condition = node.dataset.showIf ? JSON.parse(node.dataset.showIf) : null;
      var visible = condition === null || holds(condition);
      node.hidden = !visible;
      inputsOf(node).forEach(function (input) { input.disabled = !visible; });
    });
    form.querySelectorAll(".member-block").forEach(function (block) {
      block.hidden = !block.querySelector(".q:not([hidden])");
    });
    form.querySelectorAll(".q-section").forEach(function (section) {
      var empty = section.querySelector(".repeat-empty");
      if (empty) {
        empty.hidden = Boolean(section.querySelector(".member-block:not([hidden])"));
      }
    });
  }

  form.addEventListener("change", applyConditions);
  form.addEventListener("input", function (event) {
    if (event.target.type === "number" || event.target.type === "radio") {
      applyConditions();
    }
  });
  applyConditions();

  // Photo inputs: show how many files were chosen and how large they are.

  form.querySelectorAll(".photo-input").forEach(function (input) {
    input.addEventListener("change", function () {
      var count = input.files ? input.files.length : 0;
      var bytes = 0;
      for (var i = 0; i < count; i += 1) {
        bytes += input.files[i].size;
      }
      var note = input.parentNode.querySelector(".photo-count");
      note.textContent = count ? format(messages.msgPhotosChosen, {
        count: count, size: (bytes / 1048576).toFixed(1)
      }) : "";
    });
  });

  // Rows for problems found on site.

  var rows = document.getElementById("onsite-rows");
  document.getElementById("onsite-add").addEventListener("click", function () {
    var last = rows.lastElementChild;
    var next = Number(last.dataset.row) + 1;
    var row = last.cloneNode(true);
    row.dataset.row = String(next);
    row.id = "q-onsite_category_" + next;
    row.classList.remove("has-error");
    row.querySelector("legend").textContent = row.querySelector("legend").textContent.replace(/\d+/, String(next + 1));
    row.querySelectorAll("[name], [for], [id], [data-error-for]").forEach(function (node) {
      ["name", "for", "id", "data-error-for"].forEach(function (attribute) {
        var value = node.getAttribute(attribute);
        if (value) {
          node.setAttribute(attribute, value.replace(/_\d+$/, "_" + next));
        }
      });
    });
    row.querySelectorAll("select, textarea").forEach(function (input) { input.value = ""; });
    row.querySelectorAll(".error").forEach(function (error) { error.hidden = true; error.textContent = ""; });
    rows.appendChild(row);
    row.querySelector("select").focus();
  });

  // Checks before sending.

  function fieldError(node) {
    var key = node.dataset.field;
    var type = node.dataset.type;
    var value = answerOf(key);
    var blank = value === undefined || (type === "photo" && value === 0);
    if (blank) {
      if (!("required" in node.dataset)) {
        return "";
      }
      if (type === "photo") {
        return messages.msgPhotoRequired;
      }
      return type === "multiple_choice" ? messages.msgChooseOne : messages.msgRequired;
    }
    if (type === "number") {
      if (isNaN(value)) {
        return messages.msgNumber;
      }
      if ("integer" in node.dataset && Math.floor(value) !== value) {
        return messages.msgWhole;
      }
      var min = node.dataset.min !== undefined ? Number(node.dataset.min) : -Infinity;
      var max = node.dataset.max !== undefined ? Number(node.dataset.max) : Infinity;
      if (value < min || value > max) {
        return format(messages.msgRange, { min: node.dataset.min || "-", max: node.dataset.max || "-" });
      }
    }
    if (type === "text" && node.dataset.maxLength && value.length > Number(node.dataset.maxLength)) {
      return format(messages.msgTooLong, { max: node.dataset.maxLength });
    }
    if (type === "date" && node.dataset.max && value > node.dataset.max) {
      return format(messages.msgDate, { max: node.dataset.max });
    }
    if (type === "photo") {
      var input = node.querySelector("input[type=file]");
      if (value > Number(input.dataset.maxFiles)) {
        return messages.msgTooManyPhotos;
      }
    }
    return "";
  }

  function showError(key, text) {
    var target = form.querySelector('[data-error-for="' + key + '"]');
    if (!target) {
      return;
    }
    target.textContent = text;
    target.hidden = !text;
    var holder = target.closest(".field, .problem, .onsite-row");
    if (holder) {
      holder.classList.toggle("has-error", Boolean(text) || Boolean(holder.querySelector(".error:not([hidden])")));
    }
  }

  function checkProblems() {
    var errors = [];
    form.querySelectorAll(".problem[data-problem]").forEach(function (node) {
      var id = node.dataset.problem;
      var checked = node.querySelector('input[name="outcome_' + id + '"]:checked');
      var note = form.elements["note_" + id].value.trim();
      var outcomeError = checked ? "" : messages.msgOutcome;
      var noteError = checked && checked.value === "explained" && !note ? messages.msgExplanation : "";
      showError("outcome_" + id, outcomeError);
      showError("note_" + id, noteError);
      if (outcomeError || noteError) {
        errors.push(node);
      }
    });
    form.querySelectorAll(".onsite-row").forEach(function (row) {
      var index = row.dataset.row;
      var category = form.elements["onsite_category_" + index].value;
      var description = form.elements["onsite_description_" + index].value.trim();
      var categoryError = !category && description ? messages.msgCategory : "";
      var descriptionError = category && !description ? messages.msgDescription : "";
      showError("onsite_category_" + index, categoryError);
      showError("onsite_description_" + index, descriptionError);
      if (categoryError || descriptionError) {
        errors.push(row);
      }
    });
    return errors;
  }

  var summary = document.getElementById("form-summary");
  var submitButton = document.getElementById("visit-submit");
  var submitLabel = submitButton.textContent;

  form.addEventListener("submit", function (event) {
    applyConditions();
    var invalid = [];
    questions.forEach(function (node) {
      var text = node.hidden ? "" : fieldError(node);
      showError(node.dataset.field, text);
      if (text) {
        invalid.push(node);
      }
    });
    invalid = invalid.concat(checkProblems());
    if (invalid.length) {
      event.preventDefault();
      summary.textContent = messages.msgSummary;
      summary.hidden = false;
      invalid[0].scrollIntoView({ block: "center" });
      return;
    }
    summary.hidden = true;
    form.elements.submitted_at.value = new Date().toISOString();
    submitButton.disabled = true;
    submitButton.textContent = messages.msgSending;
  });

  // Coming back to the page (back button) must leave the form usable for a retry.
  window.addEventListener("pageshow", function () {
    submitButton.disabled = false;
    submitButton.textContent = submitLabel;
  });
})();
