// The outbox and its sync with the server.
//
// A submitted visit moves from its draft into the outbox in one IndexedDB transaction, with its
// photos. Sync sends the visit (JSON, with the UUID and SHA-256 of each photo), then each photo
// on its own request, so a dropped connection loses at most one photo's progress. The server
// stores each visit and photo once per UUID, so a retry after a lost response stores nothing
// twice. A visit leaves the outbox only when the server reports it complete.
//
// Sync authenticates with a sync token kept in IndexedDB, not the login session, so it works
// after the session has ended. When the token is rejected and no session can issue a new one,
// sync pauses until the inspector logs in again; nothing in the outbox is touched.
(function (global) {
  "use strict";

  var store = global.FieldApp.store;
  var MAX_DELAY_MS = 5 * 60 * 1000;
  var FIRST_DELAY_MS = 2000;
  var CHECK_INTERVAL_MS = 60 * 1000;

  var settings = null;
  var listeners = [];
  var channel = typeof global.BroadcastChannel === "function" ? new global.BroadcastChannel("fieldapp-sync") : null;
  var state = {
    running: false,
    needsLogin: false,
    error: null,
    retryAt: null,
    lastSyncAt: null,
    progress: null
  };
  var attempts = 0;
  var timer = null;
  var current = null;
  var again = false;
  // Receipt page of each visit completed during this page's life, by client UUID.
  var completed = {};

  function SyncError(kind, detail) {
    this.kind = kind; // "login", "network" or "server"
    this.detail = detail || {};
  }

  function notify(event) {
    listeners.forEach(function (listener) {
      try {
        listener(state, event || null);
      } catch (error) {
        global.console.error(error);
      }
    });
  }

  function changed() {
    notify({ type: "changed" });
    if (channel) {
      channel.postMessage("changed");
    }
  }

  // Tokens.

  function fetchJson(url, options) {
    return global.fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, data: data };
      });
    }, function (error) {
      throw new SyncError("network", { message: String(error && error.message || error) });
    });
  }

  // Ask for a new token with the login session; throws a "login" error when there is none.
  function issueToken() {
    var options = { credentials: "same-origin", cache: "no-store" };
    return fetchJson(settings.urls.session, options).then(function (session) {
      if (session.status === 401 || session.status === 404) {
        throw new SyncError("login");
      }
      if (session.status !== 200) {
        throw new SyncError("server", { status: session.status });
      }
      return fetchJson(settings.urls.tokens, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": session.data.csrf_token }
      });
    }).then(function (issued) {
      if (issued.status === 400 || issued.status === 401 || issued.status === 404) {
        throw new SyncError("login");
      }
      if (issued.status !== 201) {
        throw new SyncError("server", { status: issued.status });
      }
      var record = {
        key: "token",
        token: issued.data.token,
        expires_at: issued.data.expires_at,
        renew_after: issued.data.renew_after,
        user_id: issued.data.user.id
      };
      return store.put("meta", record).then(function () { return record; });
    });
  }

  function revoke(record) {
    return global.fetch(settings.urls.currentToken, {
      method: "DELETE",
      headers: { Authorization: "Bearer " + record.token },
      keepalive: true
    }).catch(function () { return null; });
  }

  // Return a usable token, renewing it while a session can; throws a "login" error when none is left.
  function ensureToken() {
    return store.get("meta", "token").then(function (record) {
      var now = Date.now();
      var wrongUser = record && settings.userId && record.user_id !== settings.userId;
      if (!record || wrongUser || Date.parse(record.expires_at) <= now) {
        return issueToken();
      }
      if (Date.parse(record.renew_after) <= now) {
        return issueToken().then(function (renewed) {
          revoke(record);
          return renewed;
        }, function () {
          return record; // still valid; renew on a later sync
        });
      }
      return record;
    });
  }

  function forgetToken() {
    return store.remove("meta", "token");
  }

  // Requests authenticated by the token; a 401 means the token is gone for good.
  function api(method, url, token, body, headers) {
    var allHeaders = Object.assign({ Authorization: "Bearer " + token.token }, headers || {});
    return fetchJson(url, { method: method, headers: allHeaders, body: body, cache: "no-store" })
      .then(function (result) {
        if (result.status === 401) {
          return forgetToken().then(function () { throw new SyncError("retry-token"); });
        }
        return result;
      });
  }

  // The outbox.

  function byCreation(a, b) {
    if (a.created_at === b.created_at) {
      return 0;
    }
    return a.created_at < b.created_at ? -1 : 1;
  }

  function outboxOf(userId) {
    return store.getByIndex("outbox", "user_id", userId).then(function (visits) {
      return visits.sort(byCreation);
    });
  }

  function saveVisit(visit) {
    visit.updated_at = new Date().toISOString();
    return store.put("outbox", visit);
  }

  // Turn [[name, value], ...] into {name: value or [values]}, as a posted form reads.
  function fieldsObject(pairs) {
    var fields = {};
    pairs.forEach(function (pair) {
      var name = pair[0];
      if (!Object.prototype.hasOwnProperty.call(fields, name)) {
        fields[name] = pair[1];
      } else if (Array.isArray(fields[name])) {
        fields[name].push(pair[1]);
      } else {
        fields[name] = [fields[name], pair[1]];
      }
    });
    return fields;
  }

  function fieldPairs(fields) {
    var pairs = [];
    Object.keys(fields).forEach(function (name) {
      var values = Array.isArray(fields[name]) ? fields[name] : [fields[name]];
      values.forEach(function (value) { pairs.push([name, value]); });
    });
    return pairs;
  }

  // Move a draft and its photos into the outbox in one transaction; delete the photos in dropIds.
  function enqueue(draft, photoIds, dropIds) {
    var visit = {
      client_uuid: draft.client_uuid,
      user_id: draft.user_id,
      sampled_id: draft.sampled_id,
      label: draft.label,
      form_url: draft.form_url,
      questionnaire_id: draft.questionnaire_id,
      fields: fieldsObject(draft.fields),
      photos: photoIds.slice(),
      state: "waiting",
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString()
    };
    return store.transaction(["outbox", "drafts", "photos"], "readwrite", function (stores) {
      var moves = photoIds.map(function (id) {
        return store.request(stores.photos.get(id)).then(function (photo) {
          if (!photo) {
            throw new Error("photo " + id + " is missing from the phone's storage");
          }
          photo.owner = visit.client_uuid;
          return store.request(stores.photos.put(photo));
        });
      });
      return Promise.all(moves).then(function () {
        (dropIds || []).forEach(function (id) { stores.photos.delete(id); });
        stores.outbox.put(visit);
        stores.drafts.delete(draft.key);
        return visit;
      });
    }).then(function (saved) {
      changed();
      return saved;
    });
  }

  // Move a visit the server rejected back into a draft, with the server's errors, so that the
  // inspector can correct it. Keeps its UUID: the server stored nothing under it.
  function reopen(visit, draftKey) {
    var draft = {
      key: draftKey,
      user_id: visit.user_id,
      sampled_id: visit.sampled_id,
      client_uuid: visit.client_uuid,
      label: visit.label,
      form_url: visit.form_url,
      questionnaire_id: visit.questionnaire_id,
      fields: fieldPairs(visit.fields),
      photos: visit.photos.slice(),
      errors: visit.errors || {},
      message: visit.message || "",
      updated_at: new Date().toISOString()
    };
    return store.transaction(["outbox", "drafts", "photos"], "readwrite", function (stores) {
      var moves = visit.photos.map(function (id) {
        return store.request(stores.photos.get(id)).then(function (photo) {
          if (photo) {
            photo.owner = draftKey;
            return store.request(stores.photos.put(photo));
          }
          return null;
        });
      });
      return Promise.all(moves).then(function () {
        stores.drafts.put(draft);
        stores.outbox.delete(visit.client_uuid);
        return draft;
      });
    }).then(function (saved) {
      changed();
      return saved;
    });
  }

  function removeVisit(visit) {
    return store.transaction(["outbox", "photos"], "readwrite", function (stores) {
      visit.photos.forEach(function (id) { stores.photos.delete(id); });
      stores.outbox.delete(visit.client_uuid);
    });
  }

  // Remove a visit whose photo the server rejected permanently, with its unsent photos. The
  // server keeps the visit and shows it to supervisors as missing photos.
  function discardRejectedPhotos(clientUuid) {
    return store.get("outbox", clientUuid).then(function (visit) {
      if (!visit || visit.state !== "photo_rejected") {
        return false;
      }
      return removeVisit(visit).then(function () {
        changed();
        return true;
      });
    });
  }

  // Counts of what waits to be sent by the phone's current user.
  function counts() {
    var userId = settings && settings.userId;
    if (!userId) {
      return Promise.resolve({ visits: 0, photos: 0, items: [] });
    }
    return outboxOf(userId).then(function (visits) {
      return store.getAll("photos").then(function (photos) {
        var waiting = {};
        photos.forEach(function (photo) { waiting[photo.client_uuid] = true; });
        var photoCount = 0;
        visits.forEach(function (visit) {
          visit.unsentPhotos = visit.photos.filter(function (id) { return waiting[id]; }).length;
          photoCount += visit.unsentPhotos;
        });
        return { visits: visits.length, photos: photoCount, items: visits };
      });
    });
  }

  // Sending.

  function manifestEntry(photo) {
    return {
      client_uuid: photo.client_uuid,
      sha256: photo.sha256,
      field: photo.field,
      taken_at: photo.taken_at || null,
      latitude: typeof photo.latitude === "number" ? photo.latitude : null,
      longitude: typeof photo.longitude === "number" ? photo.longitude : null
    };
  }

  function photosOf(visit) {
    return Promise.all(visit.photos.map(function (id) { return store.get("photos", id); }));
  }

  function sendVisit(visit, token) {
    return photosOf(visit).then(function (photos) {
      var missingLocally = photos.some(function (photo) { return !photo; });
      if (missingLocally) {
        // Photos are deleted only after the server confirmed them, so the visit was sent before.
        return api("GET", settings.urls.visits + "/" + visit.client_uuid, token);
      }
      var body = {
        client_uuid: visit.client_uuid,
        sampled_household_id: visit.sampled_id,
        questionnaire_id: visit.questionnaire_id,
        fields: visit.fields,
        photos: photos.map(manifestEntry)
      };
      return api("POST", settings.urls.visits, token, JSON.stringify(body), { "Content-Type": "application/json" });
    }).then(function (result) {
      if (result.status === 200 || result.status === 201) {
        visit.state = "accepted";
        visit.visit_id = result.data.visit_id;
        visit.url = result.data.url || visit.url;
        visit.missing = result.data.photos_missing;
        visit.complete = result.data.complete;
        return saveVisit(visit).then(function () { return true; });
      }
      if (result.status >= 400 && result.status < 500 && result.status !== 408 && result.status !== 429) {
        visit.state = result.status === 409 ? "conflict" : "rejected";
        visit.message = result.data && result.data.message || "";
        visit.errors = result.data && result.data.errors || {};
        return saveVisit(visit).then(function () {
          changed();
          return false;
        });
      }
      throw new SyncError("server", { status: result.status });
    });
  }

  function photoUrl(visit, photoId) {
    return settings.urls.visits + "/" + visit.client_uuid + "/photos/" + photoId;
  }

  function sendPhotos(visit, token, progress) {
    var ids = visit.photos.slice();
    var chain = Promise.resolve();
    ids.forEach(function (id) {
      chain = chain.then(function () {
        if (visit.state !== "accepted") {
          return null; // an earlier photo changed the visit's state; its photos stay on the phone
        }
        if (visit.missing && visit.missing.indexOf(id) === -1) {
          return store.remove("photos", id); // the server has it already
        }
        if (visit.rejectedPhotos && visit.rejectedPhotos.indexOf(id) !== -1) {
          return null;
        }
        return store.get("photos", id).then(function (photo) {
          if (!photo) {
            return null;
          }
          var headers = { "Content-Type": photo.blob.type || "image/jpeg", "X-Content-SHA256": photo.sha256 };
          return api("PUT", photoUrl(visit, id), token, photo.blob, headers).then(function (result) {
            return photoAnswered(visit, photo, result);
          }).then(function () {
            progress.done += 1;
            notify({ type: "progress" });
          });
        });
      });
    });
    return chain.then(function () {
      if (visit.state === "accepted" && visit.rejectedPhotos && visit.rejectedPhotos.length) {
        // Every other photo has arrived, so only the inspector can decide about the rejected ones.
        visit.state = "photo_rejected";
        return saveVisit(visit).then(changed);
      }
      return null;
    });
  }

  function photoAnswered(visit, photo, result) {
    if (result.status === 200 || result.status === 201) {
      visit.missing = result.data.visit.photos_missing;
      visit.complete = result.data.visit.complete;
      return store.transaction(["outbox", "photos"], "readwrite", function (stores) {
        stores.photos.delete(photo.client_uuid);
        visit.updated_at = new Date().toISOString();
        stores.outbox.put(visit);
      });
    }
    if (result.status === 404) {
      // The server does not know this visit or photo yet: send the visit again first.
      visit.state = "waiting";
      return saveVisit(visit).then(function () { throw new SyncError("server", { status: 404 }); });
    }
    if (result.status === 409 || (result.status === 422 && result.data && result.data.error !== "damaged")) {
      // Rejected permanently: kept on the phone and not sent again, while the other photos go on.
      visit.rejectedPhotos = (visit.rejectedPhotos || []).concat([photo.client_uuid]);
      visit.message = result.data && result.data.message || "";
      return saveVisit(visit).then(changed);
    }
    // 422 "damaged" (the bytes changed in transit), 5xx, 429: send again later.
    throw new SyncError("server", { status: result.status });
  }

  function finishVisit(visit, token) {
    if (visit.complete) {
      completed[visit.client_uuid] = visit.url;
      return removeVisit(visit).then(function () {
        notify({ type: "visit-complete", client_uuid: visit.client_uuid, url: visit.url });
        return true;
      });
    }
    if (visit.state !== "accepted") {
      return Promise.resolve(false);
    }
    // Every local photo is gone, yet the server misses some: ask it again before giving up.
    return api("GET", settings.urls.visits + "/" + visit.client_uuid, token).then(function (result) {
      if (result.status === 200 && result.data.complete) {
        visit.complete = true;
        return finishVisit(visit, token);
      }
      if (result.status === 200) {
        visit.missing = result.data.photos_missing;
        return store.getAll("photos").then(function (photos) {
          var onPhone = photos.some(function (photo) { return visit.missing.indexOf(photo.client_uuid) !== -1; });
          if (!onPhone) {
            visit.state = "photo_rejected";
            visit.message = "";
            return saveVisit(visit).then(function () { return false; });
          }
          return false;
        });
      }
      throw new SyncError("server", { status: result.status });
    });
  }

  function syncVisit(visit, token, progress) {
    var step = visit.state === "waiting" ? sendVisit(visit, token) : Promise.resolve(true);
    return step.then(function (accepted) {
      progress.done += visit.state === "accepted" ? 1 : 0;
      notify({ type: "progress" });
      if (!accepted || visit.state !== "accepted") {
        return false;
      }
      return sendPhotos(visit, token, progress).then(function () { return finishVisit(visit, token); });
    });
  }

  function syncAll(token) {
    return counts().then(function (found) {
      var visits = found.items.filter(function (visit) {
        return visit.user_id === token.user_id && (visit.state === "waiting" || visit.state === "accepted");
      });
      var progress = { done: 0, total: 0 };
      visits.forEach(function (visit) { progress.total += 1 + visit.unsentPhotos; });
      state.progress = progress;
      notify({ type: "progress" });
      var chain = Promise.resolve();
      var sentAny = false;
      visits.forEach(function (visit) {
        chain = chain.then(function () {
          return syncVisit(visit, token, progress).then(function (done) { sentAny = sentAny || done; });
        });
      });
      return chain.then(function () { return sentAny || visits.length === 0; });
    });
  }

  function syncOnce() {
    return ensureToken().then(function (token) {
      return syncAll(token).catch(function (error) {
        if (error instanceof SyncError && error.kind === "retry-token") {
          // The token was rejected: a live session can issue another one.
          return ensureToken().then(syncAll);
        }
        throw error;
      });
    }).catch(function (error) {
      if (error instanceof SyncError && error.kind === "retry-token") {
        throw new SyncError("login");
      }
      throw error;
    });
  }

  function withLock(work) {
    if (global.navigator.locks && global.navigator.locks.request) {
      return global.navigator.locks.request("fieldapp-sync", work);
    }
    return work();
  }

  function schedule(delay) {
    global.clearTimeout(timer);
    state.retryAt = Date.now() + delay;
    timer = global.setTimeout(function () { run("retry"); }, delay);
  }

  function describe(error) {
    if (error instanceof SyncError && error.kind === "server") {
      return { kind: "server", status: error.detail.status };
    }
    if (error instanceof SyncError && error.kind === "network") {
      return { kind: "network" };
    }
    global.console.error(error);
    return { kind: "other", message: String(error && error.message || error) };
  }

  function succeeded(sentAny) {
    attempts = 0;
    state.error = null;
    state.needsLogin = false;
    state.retryAt = null;
    global.clearTimeout(timer);
    if (!sentAny) {
      return Promise.resolve();
    }
    state.lastSyncAt = new Date().toISOString();
    return store.put("meta", { key: "sync", last_sync_at: state.lastSyncAt }).catch(function () { return null; });
  }

  function failed(error) {
    if (error instanceof SyncError && error.kind === "login") {
      state.needsLogin = true;
      state.error = null;
      state.retryAt = null;
      global.clearTimeout(timer);
      return;
    }
    attempts += 1;
    state.error = describe(error);
    var delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * Math.pow(2, attempts - 1));
    schedule(Math.round(delay * (0.75 + Math.random() * 0.5)));
  }

  // Start a sync unless one is running; resolves when the sync this call caused has ended.
  function run(reason) {
    if (!settings || !settings.userId) {
      return Promise.resolve(state);
    }
    if (current) {
      again = true;
      return current;
    }
    state.running = true;
    notify({ type: "start", reason: reason || "" });
    current = withLock(syncOnce).then(succeeded, failed).then(function () {
      state.running = false;
      state.progress = null;
      current = null;
      changed();
      if (again) {
        again = false;
        return run("again");
      }
      return state;
    });
    return current;
  }

  function init(pageSettings) {
    settings = pageSettings;
    store.get("meta", "sync").then(function (record) {
      if (record && !state.lastSyncAt) {
        state.lastSyncAt = record.last_sync_at;
        notify({ type: "changed" });
      }
    }).catch(function () { return null; });
    global.addEventListener("online", function () {
      attempts = 0;
      run("online");
    });
    global.addEventListener("offline", function () { notify({ type: "offline" }); });
    global.document.addEventListener("visibilitychange", function () {
      if (global.document.visibilityState === "visible") {
        run("visible");
      }
    });
    if (channel) {
      channel.onmessage = function () { notify({ type: "changed" }); };
    }
    global.setInterval(function () {
      if (!state.running && !state.needsLogin && global.navigator.onLine !== false) {
        counts().then(function (found) {
          if (found.visits) {
            run("interval");
          }
        });
      }
    }, CHECK_INTERVAL_MS);
    return run("load");
  }

  // The user's assignments from the API, for saving their pages; null when that is not possible now.
  function fetchAssignments() {
    return ensureToken().then(function (token) {
      return api("GET", settings.urls.assignments, token);
    }).then(function (result) {
      return result.status === 200 ? result.data : null;
    }, function () {
      return null;
    });
  }

  global.FieldApp = global.FieldApp || {};
  global.FieldApp.sync = {
    init: init,
    fetchAssignments: fetchAssignments,
    run: run,
    state: state,
    counts: counts,
    // Whether ``init`` has run. Before it, ``counts`` has no user and reports nothing unsent.
    isReady: function () { return settings !== null; },
    discardRejectedPhotos: discardRejectedPhotos,
    completedUrl: function (clientUuid) { return completed[clientUuid] || null; },
    onChange: function (listener) { listeners.push(listener); },
    forgetToken: forgetToken,
    revokeToken: function () {
      return store.get("meta", "token").then(function (record) {
        return record ? revoke(record).then(forgetToken) : null;
      });
    }
  };
  global.FieldApp.outbox = {
    enqueue: enqueue,
    reopen: reopen,
    list: outboxOf,
    fieldsObject: fieldsObject,
    fieldPairs: fieldPairs
  };
})(self);
