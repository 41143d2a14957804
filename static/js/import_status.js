// Polls the register import's status while it runs, shows the rows read, and reloads the
// page when the import has finished so that the server renders the counts or the rejections.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_POLL_MS = 15000;

  var panel = document.getElementById("import-status");
  if (!panel || !panel.dataset.statusUrl) {
    return;
  }
  var url = panel.dataset.statusUrl;
  var labels = {};
  var template = document.getElementById("import-status-labels");
  if (template) {
    template.content.querySelectorAll("[data-status]").forEach(function (node) {
      labels[node.dataset.status] = node.textContent;
    });
  }

  function setField(name, value) {
    var node = panel.querySelector('[data-field="' + name + '"]');
    if (node) {
      node.textContent = value;
    }
  }

  // Shows " / total" when the total is known, else the note that the total is shown later.
  function showTotal(total) {
    setField("rows_total", String(total || 0));
    panel.querySelectorAll("[data-total]").forEach(function (node) {
      node.hidden = (node.dataset.total === "known") !== Boolean(total);
    });
  }

  function show(state) {
    setField("status", labels[state.status] || state.status);
    setField("rows_read", String(state.rows_read));
    showTotal(state.rows_total);
    var bar = panel.querySelector('[data-field="bar"]');
    if (bar) {
      bar.max = Math.max(state.rows_total, 1);
      bar.value = Math.min(state.rows_read, bar.max);
    }
  }

  function poll(delay) {
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (state) {
          show(state);
          if (state.finished) {
            window.location.reload();
          } else {
            poll(POLL_MS);
          }
        })
        .catch(function () {
          // The server may be busy writing the import: wait longer before the next try.
          poll(Math.min(delay * 2, MAX_POLL_MS));
        });
    }, delay);
  }

  poll(POLL_MS);
})();
