// The service worker: keeps the app shell and the inspector's pages for use without a signal.
//
// /sw.js prepends self.FIELDAPP_SW = {version, shell, offlinePage, pagePrefix, loginPath}.
// - Shell files (scripts, styles, the offline page) come from a cache named after the version,
//   so a repeat visit downloads none of them. A new version replaces the cache.
// - Pages under pagePrefix are fetched from the network first. A page that does not arrive
//   within NETWORK_TIMEOUT_MS comes from the saved copy, when there is one.
// - The assignments page asks, by message, for the pages of every assigned household to be
//   saved ("cache-pages"), and logging out deletes them ("forget-pages").
// API requests always go to the network: the outbox in IndexedDB handles their failures.
"use strict";

var SETTINGS = self.FIELDAPP_SW;
var SHELL_CACHE = "fieldapp-shell-" + SETTINGS.version;
var PAGE_CACHE = "fieldapp-pages";
var NETWORK_TIMEOUT_MS = 4000;
var SAVED_AT_HEADER = "X-FieldApp-Saved-At";

var shellPaths = {};
SETTINGS.shell.forEach(function (url) {
  shellPaths[new URL(url, self.location.href).pathname] = true;
});

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL_CACHE).then(function (cache) {
    var requests = SETTINGS.shell.map(function (url) { return new Request(url, { cache: "no-cache" }); });
    return cache.addAll(requests);
  }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("fieldapp-shell-") === 0 && name !== SHELL_CACHE;
    }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () {
    return self.clients.claim();
  }));
});

function isPage(pathname) {
  return pathname === "/" || pathname.indexOf(SETTINGS.pagePrefix) === 0;
}

function fromShell(request) {
  return caches.open(SHELL_CACHE).then(function (cache) {
    return cache.match(request, { ignoreSearch: true, ignoreVary: true }).then(function (hit) {
      if (hit) {
        return hit;
      }
      return fetch(request).then(function (response) {
        if (response.ok) {
          cache.put(request, response.clone());
        }
        return response;
      });
    });
  });
}

// Store a page with the time it was saved, so that old copies can be refreshed.
function savePage(cache, key, response) {
  return response.blob().then(function (body) {
    var headers = new Headers(response.headers);
    headers.set(SAVED_AT_HEADER, String(Date.now()));
    return cache.put(key, new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: headers
    }));
  });
}

// Pages are saved under their path and query: a re-inspection visit form differs from the
// ordinary form of the same household only in its query.
function pageKey(url) {
  return url.pathname === "/" ? SETTINGS.pagePrefix : url.pathname + url.search;
}

function savedPage(key) {
  return caches.open(PAGE_CACHE).then(function (cache) {
    return cache.match(key, { ignoreVary: true });
  });
}

function offlinePage() {
  return caches.open(SHELL_CACHE).then(function (cache) {
    return cache.match(SETTINGS.offlinePage, { ignoreVary: true });
  }).then(function (page) {
    return page || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  });
}

function networkFirst(request) {
  var url = new URL(request.url);
  var key = pageKey(url);
  var network = fetch(request).then(function (response) {
    var keep = response.ok && response.type === "basic" && !response.redirected &&
      url.pathname.indexOf(SETTINGS.pagePrefix) === 0;
    if (keep) {
      var copy = response.clone();
      caches.open(PAGE_CACHE).then(function (cache) { return savePage(cache, key, copy); });
    }
    return response;
  });
  var timeout = new Promise(function (resolve) { setTimeout(resolve, NETWORK_TIMEOUT_MS, null); });
  var usable = network.then(function (response) {
    return response.status >= 500 ? null : response; // a server error: prefer the saved copy
  }, function () {
    return null;
  });
  return Promise.race([usable, timeout]).then(function (response) {
    if (response) {
      return response;
    }
    return savedPage(key).then(function (saved) {
      if (saved) {
        return saved;
      }
      // No saved copy: wait for the network after all, or explain that the page is not saved.
      return network.catch(offlinePage);
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (shellPaths[url.pathname]) {
    event.respondWith(fromShell(request));
  } else if (request.mode === "navigate" && isPage(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});

// Save the pages in urls that are missing or older than maxAgeSeconds, and forget other pages.
function cachePages(urls, maxAgeSeconds) {
  var keepKeys = {};
  urls.forEach(function (url) { keepKeys[pageKey(new URL(url, self.location.href))] = true; });
  var saved = 0;
  var failed = 0;
  return caches.open(PAGE_CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (request) {
        return !keepKeys[pageKey(new URL(request.url))];
      }).map(function (request) {
        return cache.delete(request);
      }));
    }).then(function () {
      var chain = Promise.resolve();
      Object.keys(keepKeys).forEach(function (key) {
        chain = chain.then(function () {
          return cache.match(key, { ignoreVary: true }).then(function (hit) {
            var savedAt = hit ? Number(hit.headers.get(SAVED_AT_HEADER)) : 0;
            if (hit && Date.now() - savedAt < maxAgeSeconds * 1000) {
              saved += 1;
              return null;
            }
            return fetch(key, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
              if (response.ok && response.type === "basic") {
                saved += 1;
                return savePage(cache, key, response);
              }
              failed += 1;
              return null;
            }, function () {
              failed += 1; // no connection: keep the older copy, if any
              return null;
            });
          });
        });
      });
      return chain;
    });
  }).then(function () {
    return { saved: saved, failed: failed, total: Object.keys(keepKeys).length };
  }, function () {
    return { saved: saved, failed: failed + 1, total: Object.keys(keepKeys).length };
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "cache-pages") {
    event.waitUntil(cachePages(data.urls || [], data.maxAgeSeconds || 3600).then(function (result) {
      if (event.source) {
        event.source.postMessage({ type: "pages-cached", saved: result.saved, failed: result.failed,
          total: result.total });
      }
    }));
  } else if (data.type === "forget-pages") {
    event.waitUntil(caches.delete(PAGE_CACHE).then(function () {
      if (event.source) {
        event.source.postMessage({ type: "pages-forgotten" });
      }
    }));
  }
});
