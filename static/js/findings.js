// Findings list: "select all" for the bulk form, and only the inputs the chosen bulk action uses.
(function () {
  "use strict";

  var form = document.getElementById("bulk-form");
  if (!form) {
    return;
  }
  var selectAll = document.getElementById("select-all");
  var boxes = form.querySelectorAll('input[type=checkbox][name="ids"]');
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      boxes.forEach(function (box) {
        box.checked = selectAll.checked;
      });
    });
  }

  // Inputs of each action; the others are hidden while it is chosen.
  var ACTION_FIELDS = {
    edit: ["responsible_unit", "responsible_person", "deadline"],
    reinspect: ["inspector"],
  };
  var action = form.querySelector('select[name="action"]');

  function showFields() {
    var wanted = ACTION_FIELDS[action.value] || [];
    Object.keys(ACTION_FIELDS).forEach(function (name) {
      ACTION_FIELDS[name].forEach(function (field) {
        var input = form.querySelector('[name="' + field + '"]');
        var wrapper = input && input.closest(".field");
        if (wrapper) {
          wrapper.hidden = wanted.indexOf(field) === -1;
        }
      });
    });
  }

  if (action) {
    action.addEventListener("change", showFields);
    showFields();
  }
})();
