// IndexedDB storage for drafts, the outbox, photo blobs and sync state. Unlike page memory it
// survives reloads, crashes and restarts of the phone.
//
// Stores:
//   drafts  key "u<user>:<form path and query>": a visit form being filled, {fields, photos, ...}
//   outbox  key client_uuid: a submitted visit waiting for the server, removed once the server
//           has confirmed the visit and every one of its photos
//   photos  key client_uuid: one downscaled photo as a Blob, owned by a draft key or a visit UUID
//   meta    key name: the sync token and the last sync result
(function (global) {
  "use strict";

  var DB_NAME = "fieldapp";
  var DB_VERSION = 1;
  var opening = null;

  function requestPromise(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function upgrade(db) {
    db.createObjectStore("drafts", { keyPath: "key" });
    var outbox = db.createObjectStore("outbox", { keyPath: "client_uuid" });
    outbox.createIndex("user_id", "user_id");
    var photos = db.createObjectStore("photos", { keyPath: "client_uuid" });
    photos.createIndex("owner", "owner");
    db.createObjectStore("meta", { keyPath: "key" });
  }

  function open() {
    if (opening) {
      return opening;
    }
    opening = new Promise(function (resolve, reject) {
      if (!global.indexedDB) {
        reject(new Error("IndexedDB is not available"));
        return;
      }
      var request = global.indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () { upgrade(request.result); };
      request.onsuccess = function () {
        var db = request.result;
        // Another tab opened a newer version: let it upgrade, and reopen on the next call.
        db.onversionchange = function () {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = function () {
        opening = null;
        reject(request.error);
      };
    });
    return opening;
  }

  // Run work(stores) in one transaction over the named stores. Resolves with work's result once
  // the transaction has committed, so a caller never sees a write that could still be lost.
  // work may only wait on requests of this transaction, or the transaction commits early.
  function transaction(names, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(names, mode);
        var stores = {};
        names.forEach(function (name) { stores[name] = tx.objectStore(name); });
        var result;
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error("IndexedDB transaction aborted")); };
        Promise.resolve().then(function () { return work(stores); }).then(function (value) {
          result = value;
        }, function (error) {
          try {
            tx.abort();
          } catch (ignored) {
            // The transaction had already finished.
          }
          reject(error);
        });
      });
    });
  }

  function get(storeName, key) {
    return transaction([storeName], "readonly", function (stores) {
      return requestPromise(stores[storeName].get(key));
    });
  }

  function getAll(storeName) {
    return transaction([storeName], "readonly", function (stores) {
      return requestPromise(stores[storeName].getAll());
    });
  }

  function getByIndex(storeName, indexName, value) {
    return transaction([storeName], "readonly", function (stores) {
      return requestPromise(stores[storeName].index(indexName).getAll(value));
    });
  }

  function put(storeName, value) {
    return transaction([storeName], "readwrite", function (stores) {
      return requestPromise(stores[storeName].put(value));
    });
  }

  function remove(storeName, key) {
    return transaction([storeName], "readwrite", function (stores) {
      return requestPromise(stores[storeName].delete(key));
    });
  }

  // True when the error means the browser refused to store more data.
  function isQuotaError(error) {
    return Boolean(error) && (error.name === "QuotaExceededError" ||
      (error.inner && error.inner.name === "QuotaExceededError"));
  }

  global.FieldApp = global.FieldApp || {};
  global.FieldApp.store = {
    open: open,
    transaction: transaction,
    request: requestPromise,
    get: get,
    getAll: getAll,
    getByIndex: getByIndex,
    put: put,
    remove: remove,
    isQuotaError: isQuotaError
  };
})(self);
