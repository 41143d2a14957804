// Polls an export job while it runs, shows the rows written and reveals the download link.
(function () {
  "use strict";

  var POLL_MS = 1000;
  var MAX_POLL_MS = 10000;

  var panel = document.getElementById("export-status");
  if (!panel || !panel.dataset.statusUrl) {
    return;
  }
  var labels = {};
  var template = document.getElementById("export-status-labels");
  if (template) {
    template.content.querySelectorAll("[data-status]").forEach(function (node) {
      labels[node.dataset.status] = node.textContent;
    });
  }

  function field(name) {
    return panel.querySelector('[data-field="' + name + '"]');
  }

  function show(state) {
    panel.dataset.status = state.status;
    field("status").textContent = labels[state.status] || state.status;
    field("rows_done").textContent = String(state.rows_done);
    // " / total" when the total is known, else the note that the total is shown later.
    field("rows_total").textContent = String(state.rows_total || 0);
    panel.querySelectorAll("[data-total]").forEach(function (node) {
      node.hidden = (node.dataset.total === "known") !== Boolean(state.rows_total);
    });
    var bar = field("bar");
    bar.max = Math.max(state.rows_total, 1);
    bar.value = Math.min(state.rows_done, bar.max);
    field("download").hidden = state.status !== "done";
    field("message").hidden = state.status !== "failed";
  }

  function poll(delay) {
    if (panel.dataset.status === "done" || panel.dataset.status === "failed") {
      return;
    }
    window.setTimeout(function () {
      fetch(panel.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (state) {
          show(state);
          poll(POLL_MS);
        })
        .catch(function () {
          poll(Math.min(delay * 2, MAX_POLL_MS));
        });
    }, delay);
  }

  poll(POLL_MS);
})();
