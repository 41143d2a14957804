// Supervisor map: registered household positions and visit fixes, coloured by finding state.
// Without a configured tile source the points are drawn on a plain background with a scale,
// and the page requests nothing from another host.
(function () {
  "use strict";

  var container = document.getElementById("map");
  var source = document.getElementById("map-settings");
  if (!container || !source || typeof window.L === "undefined") {
    return;
  }
  var L = window.L;
  var settings = JSON.parse(source.textContent);
  var labels = settings.labels;
  var status = document.getElementById("map-status");
  var COLOURS = { overdue: "#7a0f0a", open: "#b3261e", corrected: "#d88a1c", closed: "#1b7a3d", none: "#6b7580" };
  // Binzhou's centre, shown until the points arrive.
  var START = [37.38, 117.97];

  var map = L.map(container, { attributionControl: Boolean(settings.tile_url), maxZoom: settings.max_zoom });
  map.setView(START, 9);
  L.control.scale({ imperial: false }).addTo(map);
  if (settings.tile_url) {
    map.attributionControl.setPrefix(false);
    var options = { maxZoom: settings.max_zoom, attribution: settings.tile_attribution };
    if (settings.tile_subdomains) {
      options.subdomains = settings.tile_subdomains;
    }
    L.tileLayer(settings.tile_url, options).addTo(map);
  }

  function text(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return values[name] === undefined || values[name] === null ? "" : String(values[name]);
    });
  }

  function popup(lines, link, linkText) {
    var box = document.createElement("div");
    lines.forEach(function (line) {
      box.appendChild(text(line));
      box.appendChild(document.createElement("br"));
    });
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link;
      anchor.textContent = linkText;
      box.appendChild(anchor);
    }
    return box;
  }

  function addHousehold(point, bounds) {
    var marker = L.circleMarker(point.position, {
      radius: 8, weight: 2, color: "#111", fillColor: COLOURS[point.state], fillOpacity: 0.9,
    });
    marker.bindPopup(popup([
      point.label, point.village, labels.states[point.state], format(labels.findings, { count: point.findings }),
    ], point.url, labels.open_household));
    marker.addTo(map);
    bounds.push(point.position);
  }

  function addVisit(point, bounds) {
    var lines = [labels.visit, labels.states[point.state]];
    if (point.distance_m !== null) {
      lines.push(format(labels.distance, { metres: point.distance_m }));
    }
    if (point.accuracy_m !== null) {
      lines.push(format(labels.accuracy, { metres: point.accuracy_m }));
    }
    if (point.is_far) {
      lines.push(labels.far);
      if (point.household) {
        L.polyline([point.position, point.household], { color: "#b3261e", weight: 2, dashArray: "6 4" }).addTo(map);
      }
      var flag = L.divIcon({ className: "far-flag", html: "⚑", iconSize: [22, 22], iconAnchor: [4, 22] });
      L.marker(point.position, { icon: flag, title: labels.far, keyboard: false }).addTo(map);
    }
    var marker = L.circleMarker(point.position, {
      radius: 5, weight: 1, color: "#fff", fillColor: COLOURS[point.state], fillOpacity: 1,
    });
    marker.bindPopup(popup(lines, point.url, labels.open_visit));
    marker.addTo(map);
    bounds.push(point.position);
  }

  function show(data) {
    var bounds = [];
    data.households.forEach(function (point) { addHousehold(point, bounds); });
    data.visits.forEach(function (point) { addVisit(point, bounds); });
    container.dataset.households = String(data.households.length);
    container.dataset.visits = String(data.visits.length);
    if (bounds.length) {
      map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    }
    status.textContent = data.truncated ? labels.truncated : (bounds.length ? "" : labels.empty);
    container.dataset.loaded = "true";
  }

  fetch(settings.points_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    })
    .then(show)
    .catch(function () {
      status.textContent = labels.failed;
    });
})();
