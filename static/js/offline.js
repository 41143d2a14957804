// Every phone page: starts sync, registers the service worker, requests persistent storage, and
// shows what waits to be sent, when the phone last sent, and any error. Warns before logging
// out while anything is unsent. On the assignments page it saves every assigned household's
// pages for offline use and marks the households whose visits wait in the outbox.
// All texts come from the page's settings (#fieldapp-settings), translated by the server.
(function (global) {
  "use strict";

  // Below this much free storage the phone warns, before the browser starts refusing data.
  var STORAGE_WARN_BYTES = 100 * 1024 * 1024;
  var FLASH_KEY = "fieldapp.flash";

  var settingsNode = document.getElementById("fieldapp-settings");
  if (!settingsNode) {
    return;
  }
  var settings = JSON.parse(settingsNode.textContent);
  var messages = settings.messages;
  var sync = global.FieldApp.sync;
  var panel = document.getElementById("sync-status");
  var lastCounts = { visits: 0, photos: 0, items: [] };
  // The panel stays hidden until the outbox was read once, so it never shows a wrong count.
  var countsLoaded = false;
  var storageNote = "";
  // A page opened over plain HTTP, other than on the server itself, gets no service worker, so
  // nothing is saved for offline use.
  var pagesNote = global.isSecureContext === false ? messages.insecure : "";
  var draftIds = {};

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  // A time in the page's language, 24-hour like the server's pages: "14:30" today, else
  // "12月5日 14:30" (English "Dec 5, 14:30"), with the year when it is not this year's.
  // A numeric month would read "12/5" in Chinese, so the month is "short".
  function timeText(iso) {
    var date = new Date(iso);
    var now = new Date();
    var lang = document.documentElement.lang || undefined;
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (date.toDateString() !== now.toDateString()) {
      options.month = "short";
      options.day = "numeric";
    }
    if (date.getFullYear() !== now.getFullYear()) {
      options.year = "numeric";
    }
    return date.toLocaleString(lang, options);
  }

  // Flash messages carried over a page change by sessionStorage.

  function setFlash(kind, text) {
    try {
      global.sessionStorage.setItem(FLASH_KEY, JSON.stringify({ kind: kind, text: text }));
    } catch (ignored) {
      // Without sessionStorage the message is skipped, and the status panel still shows the state.
    }
  }

  function showFlash() {
    var raw = null;
    try {
      raw = global.sessionStorage.getItem(FLASH_KEY);
      global.sessionStorage.removeItem(FLASH_KEY);
    } catch (ignored) {
      return;
    }
    var flash = raw ? JSON.parse(raw) : null;
    var main = document.querySelector("main.page");
    if (!flash || !main) {
      return;
    }
    var box = document.createElement("div");
    box.className = "flash flash-" + flash.kind;
    box.setAttribute("role", flash.kind === "error" ? "alert" : "status");
    box.textContent = flash.text;
    main.insertBefore(box, main.firstChild);
  }

  // The status panel.

  function stateLine(state) {
    if (state.needsLogin) {
      return messages.loginNeeded;
    }
    if (state.running && state.progress && state.progress.total) {
      return format(messages.sending, { done: state.progress.done, total: state.progress.total });
    }
    if (global.navigator.onLine === false) {
      return messages.offline;
    }
    if (state.error && lastCounts.visits) {
      var reason = state.error.kind === "server" ? format(messages.serverError, { status: state.error.status })
        : messages.networkError;
      var seconds = Math.max(0, Math.round((state.retryAt - Date.now()) / 1000));
      return format(messages.retrying, { error: reason, seconds: seconds });
    }
    return state.lastSyncAt ? format(messages.lastSync, { time: timeText(state.lastSyncAt) }) : messages.neverSynced;
  }

  function itemText(visit) {
    var household = visit.label || "";
    if (visit.state === "rejected") {
      return format(messages.visitRejected, { household: household, message: visit.message || "" });
    }
    if (visit.state === "conflict") {
      return format(messages.visitConflict, { household: household, message: visit.message || "" });
    }
    if (visit.state === "photo_rejected") {
      return format(messages.photoRejected, { household: household, message: visit.message || "" });
    }
    if (visit.state === "accepted") {
      var total = visit.photos.length;
      return format(messages.stateSending, { household: household, done: total - visit.unsentPhotos, total: total });
    }
    return format(messages.stateWaiting, { household: household });
  }

  function renderItems(list) {
    list.textContent = "";
    lastCounts.items.forEach(function (visit) {
      var item = document.createElement("li");
      item.dataset.visit = visit.client_uuid;
      item.dataset.state = visit.state;
      item.appendChild(document.createTextNode(itemText(visit)));
      if (visit.state === "rejected" && visit.form_url) {
        var link = document.createElement("a");
        link.href = visit.form_url;
        link.className = "button";
        link.textContent = messages.open;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(link);
      }
      if (visit.state === "photo_rejected") {
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "button";
        discard.dataset.discard = visit.client_uuid;
        discard.textContent = messages.discardPhotos;
        discard.addEventListener("click", function () {
          if (global.confirm(format(messages.discardPhotosConfirm, { household: visit.label || "" }))) {
            sync.discardRejectedPhotos(visit.client_uuid).then(refresh);
          }
        });
        item.appendChild(document.createTextNode(" "));
        item.appendChild(discard);
      }
      list.appendChild(item);
    });
  }

  function render(state) {
    if (!panel || !countsLoaded) {
      return;
    }
    var unsent = lastCounts.visits > 0;
    panel.hidden = false;
    panel.classList.toggle("has-unsent", unsent);
    panel.classList.toggle("needs-login", Boolean(state.needsLogin));
    panel.querySelector("[data-counts]").textContent = unsent
      ? format(messages.unsent, { visits: lastCounts.visits, photos: lastCounts.photos }) : messages.allSent;
    panel.querySelector("[data-state]").textContent = stateLine(state);
    var notes = [storageNote, pagesNote].filter(Boolean).join(" ");
    var notesNode = panel.querySelector("[data-notes]");
    notesNode.textContent = notes;
    notesNode.hidden = !notes;
    panel.querySelector("[data-login]").hidden = !state.needsLogin;
    var sendNow = panel.querySelector("[data-send-now]");
    sendNow.hidden = !unsent || state.needsLogin || global.navigator.onLine === false;
    sendNow.disabled = state.running;
    renderItems(panel.querySelector("[data-items]"));
    markAssignments();
  }

  function refresh() {
    return sync.counts().then(function (found) {
      lastCounts = found;
      countsLoaded = true;
      render(sync.state);
    });
  }

  // Households on the assignments page whose visits wait in the outbox, or whose visit was
  // started on this phone and not yet submitted.
  function markAssignments() {
    var waiting = {};
    lastCounts.items.forEach(function (visit) { waiting[String(visit.sampled_id)] = true; });
    document.querySelectorAll("[data-sampled-id]").forEach(function (row) {
      var id = row.dataset.sampledId;
      setBadge(row, "badge-outbox", waiting[id] ? messages.waiting : null);
      setBadge(row, "badge-draft", draftIds[id] && !waiting[id] ? messages.draftSaved : null);
    });
  }

  function setBadge(row, className, text) {
    var badge = row.querySelector("." + className);
    if (text && !badge) {
      badge = document.createElement("span");
      badge.className = "badge badge-warn " + className;
      badge.textContent = text;
      var title = row.querySelector(".title");
      (title ? title.parentNode : row).insertBefore(badge, title ? title.nextSibling : null);
    } else if (!text && badge) {
      badge.remove();
    }
  }

  // Sampled household ids of the current user's drafts, read when the assignments page opens.
  function loadDrafts() {
    if (!document.querySelector("[data-assignments]") || !global.FieldApp.store) {
      return Promise.resolve();
    }
    return global.FieldApp.store.getAll("drafts").then(function (drafts) {
      draftIds = {};
      drafts.forEach(function (draft) {
        if (draft.user_id === settings.userId) {
          draftIds[String(draft.sampled_id)] = true;
        }
      });
      markAssignments();
    }).catch(function () { return null; });
  }

  // Storage.

  function checkStorage() {
    var storage = global.navigator.storage;
    if (!storage) {
      return Promise.resolve();
    }
    var persisted = storage.persisted ? storage.persisted() : Promise.resolve(true);
    return persisted.then(function (already) {
      return already || !storage.persist ? already : storage.persist();
    }).then(function (granted) {
      storageNote = granted === false ? messages.storageNotPersistent : "";
      return storage.estimate ? storage.estimate() : null;
    }).then(function (estimate) {
      if (estimate && estimate.quota) {
        var free = estimate.quota - (estimate.usage || 0);
        if (free < STORAGE_WARN_BYTES) {
          storageNote = format(messages.storageLow, { free: Math.floor(free / 1048576) });
        }
      }
      render(sync.state);
    }).catch(function () { return null; });
  }

  // The service worker and the pages it keeps.

  function registerWorker() {
    if (!global.navigator.serviceWorker) {
      return Promise.resolve(null);
    }
    global.navigator.serviceWorker.addEventListener("message", function (event) {
      var data = event.data || {};
      if (data.type === "pages-cached") {
        pagesNote = format(messages.pagesSaved, { count: data.saved });
        render(sync.state);
        document.documentElement.dataset.pagesCached = String(data.saved);
      }
    });
    return global.navigator.serviceWorker.register(settings.urls.serviceWorker, { scope: "/" })
      .catch(function (error) {
        global.console.error("service worker registration failed", error);
        return null;
      });
  }

  function savePages() {
    if (!document.querySelector("[data-assignments]") || global.navigator.onLine === false ||
        !global.navigator.serviceWorker) {
      return;
    }
    Promise.all([global.navigator.serviceWorker.ready, sync.fetchAssignments()]).then(function (results) {
      var registration = results[0];
      var data = results[1];
      if (!data || !registration.active) {
        return;
      }
      var urls = data.pages.slice();
      data.assignments.forEach(function (row) {
        urls.push(row.pages.household, row.pages.visit_form);
      });
      registration.active.postMessage({
        type: "cache-pages", urls: urls, maxAgeSeconds: settings.pageRefreshSeconds
      });
    });
  }

  // Logging out.

  function guardLogout() {
    var form = document.querySelector("form.logout");
    if (!form) {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (lastCounts.visits && !global.confirm(format(messages.logoutUnsent, {
        visits: lastCounts.visits, photos: lastCounts.photos
      }))) {
        event.preventDefault();
        return;
      }
      if (global.navigator.onLine === false) {
        return; // the logout request itself needs the network; keep everything for offline work
      }
      sync.revokeToken();
      var controller = global.navigator.serviceWorker && global.navigator.serviceWorker.controller;
      if (controller) {
        controller.postMessage({ type: "forget-pages" });
      }
    });
  }

  function start() {
    showFlash();
    guardLogout();
    if (panel) {
      panel.querySelector("[data-send-now]").addEventListener("click", function () {
        sync.run("button");
      });
    }
    sync.onChange(function (state, event) {
      if (event && event.type === "progress") {
        render(state);
      } else {
        refresh();
      }
    });
    global.addEventListener("online", function () { render(sync.state); });
    global.addEventListener("offline", function () { render(sync.state); });
    var started = sync.init(settings);
    refresh();
    loadDrafts();
    checkStorage();
    registerWorker().then(function () {
      return started;
    }).then(savePages);
  }

  global.FieldApp.page = {
    settings: settings, messages: messages, format: format, timeText: timeText, setFlash: setFlash
  };

  global.FieldApp.store.open().then(start, function () {
    if (panel) {
      panel.hidden = false;
      panel.querySelector("[data-state]").textContent = messages.noStorage;
    }
    registerWorker();
  });
})(self);
