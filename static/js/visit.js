// The visit form on the phone: visit ID, location fix, show_if conditions, photos, extra on-site
// problem rows, and the same answer checks the server makes before it saves.
//
// With IndexedDB the form works without a signal: every change is saved as a draft on the
// phone, photos are downscaled and kept as Blobs, and "Save" moves the draft into the outbox
// (static/js/sync.js), which sends it when it can. Without IndexedDB the form is posted as a
// plain multipart form, which needs a signal.
(function (global) {
  "use strict";

  var form = document.getElementById("visit-form");
  if (!form) {
    return;
  }
  var messages = form.dataset;
  var FieldApp = global.FieldApp || {};
  var page = FieldApp.page || null;
  var store = FieldApp.store || null;
  // Seconds to wait for the server after "Save" before going back to the assignments.
  var SEND_WAIT_MS = 15000;
  var DRAFT_SAVE_DELAY_MS = 400;
  // ready: drafts and photos are kept in IndexedDB; submitted: the draft moved to the outbox.
  var offline = { ready: false, submitted: false, saveTimer: null };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  // Visit ID and times.

  function randomUuid() {
    if (global.crypto && typeof global.crypto.randomUUID === "function") {
      return global.crypto.randomUUID();
    }
    // crypto.randomUUID needs a secure context (HTTPS); getRandomValues does not.
    var bytes = new Uint8Array(16);
    if (global.crypto && typeof global.crypto.getRandomValues === "function") {
      global.crypto.getRandomValues(bytes);
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
  // True while a fix restored from a draft must not be replaced by a fix that arrives later.
  var keepRestoredFix = false;

  function showStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.className = "location-status" + (kind ? " is-" + kind : "");
  }

  function setFix(position) {
    if (keepRestoredFix) {
      return;
    }
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
    scheduleDraftSave();
  }

  function locationFailed(error) {
    var text = messages.msgUnavailable;
    if (error && error.code === 1) {
      text = messages.msgDenied;
    } else if (error && error.code === 3) {
      text = messages.msgTimeout;
    }
    if (!keepRestoredFix) {
      showStatus(text, "bad");
    }
    retryButton.disabled = false;
  }

  function locate() {
    // Browsers give a location only to secure pages (HTTPS, or the server's own 127.0.0.1) and
    // report any other page as refused, which would send the inspector to the phone's settings.
    var insecure = window.isSecureContext === false;
    if (!navigator.geolocation || insecure) {
      showStatus(insecure ? messages.msgInsecure : messages.msgUnsupported, "bad");
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

  function showKeptFix() {
    showStatus(format(messages.msgKept, { accuracy: Math.round(parseFloat(form.elements.accuracy_m.value)) }), "ok");
  }

  retryButton.addEventListener("click", function () {
    keepRestoredFix = false;
    locate();
  });
  if (form.elements.latitude.value && form.elements.accuracy_m.value) {
    // The page came back with errors: keep the fix it was sent with.
    showKeptFix();
  } else {
    locate();
  }

  // Photos kept on the phone: {client_uuid, field, url, bytes}, in the order they were taken.

  var photos = [];
  var pendingPhotos = [];

  function photosOf(field) {
    return photos.filter(function (photo) { return photo.field === field; });
  }

  // Answers and show_if conditions, mirroring fieldapp/visits/questionnaires.

  var questions = Array.prototype.slice.call(form.querySelectorAll(".q[data-field]"));
  var byKey = {};
  questions.forEach(function (node) {
    byKey[node.dataset.field] = node;
  });

  function inputsOf(node) {
    return Array.prototype.slice.call(node.querySelectorAll("input, select, textarea"));
  }

  function photoCount(node, input) {
    if (store && offline.ready) {
      return photosOf(node.dataset.field).length;
    }
    return input.files ? input.files.length : 0;
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
      return photoCount(node, inputs[0]);
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

  // Rows for problems found on site.

  var rows = document.getElementById("onsite-rows");

  function addOnsiteRow() {
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
    return row;
  }

  document.getElementById("onsite-add").addEventListener("click", function () {
    addOnsiteRow().querySelector("select").focus();
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
      return false;
    }
    target.textContent = text;
    target.hidden = !text;
    var holder = target.closest(".field, .problem, .onsite-row");
    if (holder) {
      holder.classList.toggle("has-error", Boolean(text) || Boolean(holder.querySelector(".error:not([hidden])")));
    }
    return true;
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

  // Check every visible answer; return the nodes with an error, first one first.
  function validate() {
    applyConditions();
    var invalid = [];
    questions.forEach(function (node) {
      var text = node.hidden ? "" : fieldError(node);
      showError(node.dataset.field, text);
      if (text) {
        invalid.push(node);
      }
    });
    return invalid.concat(checkProblems());
  }

  function showSummary(text, firstInvalid) {
    summary.textContent = text;
    summary.hidden = !text;
    if (firstInvalid) {
      firstInvalid.scrollIntoView({ block: "center" });
    }
  }

  function setBusy(busy) {
    submitButton.disabled = busy;
    submitButton.textContent = busy ? messages.msgSending : submitLabel;
  }

  // Coming back to the page (back button) must leave the form usable for a retry.
  global.addEventListener("pageshow", function () {
    setBusy(false);
  });

  // Offline: drafts, photos and the outbox. ----------------------------------------------------

  var settings = page ? page.settings : null;
  // One draft per user and form address: a re-inspection form has a query of its own.
  var formUrl = global.location.pathname + global.location.search;
  var draftKey = settings && settings.userId ? "u" + settings.userId + ":" + formUrl : null;
  var notice = document.getElementById("draft-notice");

  // The form's fields as a posted form has them: enabled, named, checked; files and CSRF left out.
  function fieldPairs() {
    var pairs = [];
    Array.prototype.forEach.call(form.elements, function (element) {
      var skip = !element.name || element.disabled || element.name === "csrf_token" ||
        ["file", "submit", "button", "reset"].indexOf(element.type) !== -1 ||
        ((element.type === "radio" || element.type === "checkbox") && !element.checked);
      if (!skip) {
        pairs.push([element.name, element.value]);
      }
    });
    return pairs;
  }

  function draftRecord() {
    return {
      key: draftKey,
      user_id: settings.userId,
      sampled_id: Number(form.dataset.sampledId),
      client_uuid: uuidInput.value,
      label: form.dataset.label || "",
      form_url: formUrl,
      questionnaire_id: Number(form.elements.questionnaire_id.value) || null,
      fields: fieldPairs(),
      photos: photos.map(function (photo) { return photo.client_uuid; }),
      updated_at: new Date().toISOString()
    };
  }

  function saveDraft() {
    global.clearTimeout(offline.saveTimer);
    if (!offline.ready || offline.submitted) {
      return Promise.resolve(null);
    }
    var record = draftRecord();
    return store.put("drafts", record).then(function () { return record; }, function (error) {
      showSummary(store.isQuotaError(error) ? page.messages.storageFull : String(error), null);
      throw error;
    });
  }

  function scheduleDraftSave() {
    if (!offline.ready || offline.submitted) {
      return;
    }
    global.clearTimeout(offline.saveTimer);
    offline.saveTimer = global.setTimeout(saveDraft, DRAFT_SAVE_DELAY_MS);
  }

  form.addEventListener("input", scheduleDraftSave);
  form.addEventListener("change", scheduleDraftSave);
  global.addEventListener("pagehide", function () {
    if (offline.saveTimer) {
      saveDraft();
    }
  });

  function photoListOf(field) {
    var node = byKey[field] || document.getElementById("q-" + field);
    var list = node.querySelector(".photo-list");
    if (!list) {
      list = document.createElement("div");
      list.className = "photo-list photos";
      list.dataset.photosFor = field;
      node.querySelector(".photo-count").after(list);
    }
    return list;
  }

  function renderPhotos(field) {
    var list = photoListOf(field);
    var own = photosOf(field);
    list.textContent = "";
    own.forEach(function (photo, index) {
      var figure = document.createElement("figure");
      figure.className = "photo-thumb";
      figure.dataset.photo = photo.client_uuid;
      var image = document.createElement("img");
      image.src = photo.url;
      image.alt = format(page.messages.photoAlt, { number: index + 1 });
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = page.messages.removePhoto;
      remove.addEventListener("click", function () { removePhoto(photo); });
      figure.appendChild(image);
      figure.appendChild(remove);
      list.appendChild(figure);
    });
    var bytes = own.reduce(function (sum, photo) { return sum + photo.bytes; }, 0);
    var note = (byKey[field] || document.getElementById("q-" + field)).querySelector(".photo-count");
    note.textContent = own.length ? format(page.messages.photoSaved, {
      count: own.length, size: Math.round(bytes / 1024)
    }) : "";
  }

  function addPhoto(record) {
    photos.push({
      client_uuid: record.client_uuid,
      field: record.field,
      url: URL.createObjectURL(record.blob),
      bytes: record.bytes
    });
    renderPhotos(record.field);
  }

  function removePhoto(photo) {
    store.remove("photos", photo.client_uuid).then(function () {
      photos = photos.filter(function (other) { return other !== photo; });
      URL.revokeObjectURL(photo.url);
      renderPhotos(photo.field);
      applyConditions();
      return saveDraft();
    });
  }

  function storePhoto(file, field) {
    var prepared = FieldApp.preparePhoto(file, settings.photo).then(function (result) {
      var record = {
        client_uuid: randomUuid(),
        owner: draftKey,
        field: field,
        blob: result.blob,
        sha256: result.sha256,
        bytes: result.bytes,
        original_bytes: result.originalBytes,
        width: result.width,
        height: result.height,
        taken_at: result.takenAt,
        latitude: result.latitude,
        longitude: result.longitude,
        created_at: new Date().toISOString()
      };
      return store.put("photos", record).then(function () {
        addPhoto(record);
        showError(field, "");
        return saveDraft();
      });
    }).catch(function (error) {
      var text = store.isQuotaError(error) ? page.messages.storageFull
        : format(page.messages.photoUnreadable, { name: file.name || "" });
      showError(field, text);
    });
    pendingPhotos.push(prepared);
    prepared.then(function () {
      pendingPhotos = pendingPhotos.filter(function (other) { return other !== prepared; });
    });
    return prepared;
  }

  // Photo inputs: keep each chosen photo on the phone, or without IndexedDB show what was chosen.
  form.querySelectorAll(".photo-input").forEach(function (input) {
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      var note = input.parentNode.querySelector(".photo-count");
      if (offline.ready) {
        note.textContent = page.messages.photoSaving;
        files.forEach(function (file) { storePhoto(file, input.name); });
        return;
      }
      var bytes = files.reduce(function (sum, file) { return sum + file.size; }, 0);
      note.textContent = files.length ? format(messages.msgPhotosChosen, {
        count: files.length, size: (bytes / 1048576).toFixed(1)
      }) : "";
    });
  });

  // Put the draft's values back into the form.
  function restoreFields(pairs) {
    var values = {};
    pairs.forEach(function (pair) {
      (values[pair[0]] = values[pair[0]] || []).push(pair[1]);
    });
    Object.keys(values).forEach(function (name) {
      var match = /^onsite_(?:category|description)_(\d+)$/.exec(name);
      while (match && !form.elements[name] && rows.children.length <= Number(match[1])) {
        addOnsiteRow();
      }
    });
    var restorableHidden = ["latitude", "longitude", "accuracy_m", "fixed_at", "started_at", "client_uuid"];
    Array.prototype.forEach.call(form.elements, function (element) {
      var name = element.name;
      if (!name || element.type === "file" || name === "csrf_token" || name === "questionnaire_id" ||
          (element.type === "hidden" && restorableHidden.indexOf(name) === -1)) {
        return;
      }
      var own = values[name] || [];
      if (element.type === "radio" || element.type === "checkbox") {
        element.checked = own.indexOf(element.value) !== -1;
      } else {
        element.value = own.length ? own[0] : "";
      }
    });
  }

  function showDraftNotice(draft, photoCount) {
    if (!notice) {
      return;
    }
    notice.hidden = false;
    // A form page saved on the phone before an update has no draftRestoredPhotos; its draftRestored
    // then still counts the photos.
    var template = (photoCount && page.messages.draftRestoredPhotos) || page.messages.draftRestored;
    notice.querySelector("[data-text]").textContent = format(template, {
      time: page.timeText(draft.updated_at),
      photos: photoCount
    });
  }

  function restore(draft) {
    return store.getByIndex("photos", "owner", draftKey).then(function (records) {
      restoreFields(draft.fields);
      if (form.elements.latitude.value && form.elements.accuracy_m.value) {
        keepRestoredFix = true;
        showKeptFix();
      }
      records.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
      records.forEach(addPhoto);
      applyConditions();
      Object.keys(draft.errors || {}).forEach(function (key) {
        showError(key, draft.errors[key]);
      });
      if (draft.message) {
        showSummary(draft.message, form.querySelector(".has-error"));
      }
      showDraftNotice(draft, records.length);
    });
  }

  // A visit this household's inspector saved, that the server then rejected: back into the form.
  function rejectedVisit() {
    return FieldApp.outbox.list(settings.userId).then(function (visits) {
      return visits.filter(function (visit) {
        return visit.state === "rejected" && visit.form_url === formUrl;
      })[0] || null;
    });
  }

  function loadDraft() {
    if ("rerendered" in form.dataset) {
      return Promise.resolve(); // the server's copy of what was posted wins
    }
    return store.get("drafts", draftKey).then(function (draft) {
      if (draft) {
        return restore(draft);
      }
      return rejectedVisit().then(function (visit) {
        return visit ? FieldApp.outbox.reopen(visit, draftKey).then(restore) : null;
      });
    });
  }

  function discardDraft() {
    if (!global.confirm(page.messages.discardConfirm)) {
      return;
    }
    offline.submitted = true;
    global.clearTimeout(offline.saveTimer);
    store.transaction(["drafts", "photos"], "readwrite", function (stores) {
      photos.forEach(function (photo) { stores.photos.delete(photo.client_uuid); });
      stores.drafts.delete(draftKey);
    }).then(function () {
      global.location.reload();
    });
  }

  function wait(milliseconds) {
    return new Promise(function (resolve) { global.setTimeout(resolve, milliseconds); });
  }

  // After the visit entered the outbox: wait briefly for the server, then show the receipt, the
  // server's objections, or the assignments with a note that the visit waits on the phone.
  function afterQueued(visit) {
    var home = settings.urls.home;
    if (global.navigator.onLine === false) {
      page.setFlash("success", page.messages.savedOffline);
      global.location.assign(home);
      return Promise.resolve();
    }
    return Promise.race([FieldApp.sync.run("submit"), wait(SEND_WAIT_MS)]).then(function () {
      var url = FieldApp.sync.completedUrl(visit.client_uuid);
      if (url) {
        page.setFlash("success", page.messages.visitSent);
        global.location.assign(url);
        return null;
      }
      return store.get("outbox", visit.client_uuid).then(function (stored) {
        if (stored && stored.state === "rejected") {
          offline.submitted = false;
          return FieldApp.outbox.reopen(stored, draftKey).then(function (draft) {
            Object.keys(draft.errors || {}).forEach(function (key) { showError(key, draft.errors[key]); });
            showSummary(draft.message || messages.msgSummary, form.querySelector(".has-error"));
            setBusy(false);
          });
        }
        page.setFlash("success", page.messages.savedOffline);
        global.location.assign(home);
        return null;
      });
    });
  }

  function submitOffline() {
    setBusy(true);
    return Promise.all(pendingPhotos).then(function () {
      var invalid = validate();
      if (invalid.length) {
        showSummary(messages.msgSummary, invalid[0]);
        setBusy(false);
        return null;
      }
      showSummary("", null);
      form.elements.submitted_at.value = new Date().toISOString();
      var draft = draftRecord();
      // Photos of questions that the answers hide are dropped, like the answers.
      var sent = [];
      var dropped = [];
      photos.forEach(function (photo) {
        var input = form.querySelector('input[type=file][name="' + photo.field + '"]');
        (input && !input.disabled ? sent : dropped).push(photo.client_uuid);
      });
      offline.submitted = true;
      global.clearTimeout(offline.saveTimer);
      return FieldApp.outbox.enqueue(draft, sent, dropped).then(afterQueued, function (error) {
        offline.submitted = false;
        showSummary(store.isQuotaError(error) ? page.messages.storageFull : String(error), null);
        setBusy(false);
      });
    });
  }

  form.addEventListener("submit", function (event) {
    if (offline.ready) {
      event.preventDefault();
      submitOffline();
      return;
    }
    var invalid = validate();
    if (invalid.length) {
      event.preventDefault();
      showSummary(messages.msgSummary, invalid[0]);
      return;
    }
    showSummary("", null);
    form.elements.submitted_at.value = new Date().toISOString();
    setBusy(true);
  });

  if (notice) {
    notice.querySelector("[data-discard]").addEventListener("click", discardDraft);
  }

  if (store && page && draftKey && FieldApp.outbox) {
    store.open().then(function () {
      offline.ready = true;
      return loadDraft();
    }).catch(function (error) {
      global.console.error("offline drafts unavailable", error);
    });
  }
})(self);
