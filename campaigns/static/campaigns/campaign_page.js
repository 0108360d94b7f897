/* The campaign page: show each trigger's and each step's own fields, and put steps in
   order by dragging or with up/down buttons (positions are renumbered on save). */
(function () {
  "use strict";

  var TRIGGER_FIELDS = {
    // Only event triggers read the entry key; the others make their own (lapse, run, day).
    event: ["trigger_event_type", "nth_order", "exit_on_purchase_of_items", "min_score",
      "max_score", "entry_key"],
    inactivity: ["inactivity_days"],
    date_attribute: ["date_attribute"],
    segment_entry: ["trigger_segment"],
    schedule: ["first_run", "every_days", "trigger_segment", "share"]
  };
  var ALL_TRIGGER_FIELDS = ["trigger_event_type", "nth_order", "exit_on_purchase_of_items",
    "min_score", "max_score", "entry_key", "inactivity_days",
    "date_attribute", "trigger_segment", "first_run", "every_days", "share"];
  var KIND_FIELDS = {
    wait: ["wait_duration", "wait_until_local_time"],
    send: ["template", "on_blocked", "send_at_best_hour"],
    reward: ["reward_points"],
    coupon: ["coupon_valid_days"]
  };
  var ALL_KIND_FIELDS = ["template", "on_blocked", "send_at_best_hour", "wait_duration",
    "wait_until_local_time", "reward_points", "coupon_valid_days"];

  function rows(scope, field) {
    return scope.querySelectorAll(".form-row.field-" + field);
  }

  function show(scope, fields, wanted) {
    fields.forEach(function (field) {
      rows(scope, field).forEach(function (row) {
        row.hidden = wanted.indexOf(field) === -1;
      });
    });
  }

  function setUpTrigger() {
    var select = document.getElementById("id_trigger");
    if (!select) { return; }
    var form = select.form;
    var update = function () { show(form, ALL_TRIGGER_FIELDS, TRIGGER_FIELDS[select.value] || []); };
    select.addEventListener("change", update);
    update();
    var attribute = document.getElementById("id_date_attribute");
    if (attribute && attribute.dataset.suggestions) {
      var list = document.createElement("datalist");
      list.id = "cp-date-attributes";
      attribute.dataset.suggestions.split(",").forEach(function (key) {
        var option = document.createElement("option");
        option.value = key;
        list.appendChild(option);
      });
      attribute.after(list);
    }
  }

  function group() { return document.getElementById("steps-group"); }

  function steps() {
    var g = group();
    if (!g) { return []; }
    return Array.prototype.filter.call(g.querySelectorAll(".inline-related"), function (el) {
      return !el.classList.contains("empty-form") && el.id !== "steps-empty";
    });
  }

  function kindOf(step) {
    var select = step.querySelector("select.cp-kind");
    return select ? select.value : "";
  }

  function renumber() {
    steps().forEach(function (step, index) {
      var position = step.querySelector("input.cp-position");
      // A new, untouched row stays empty so the server can ignore it.
      if (position && (position.value !== "" || kindOf(step))) { position.value = index; }
      var label = step.querySelector(".cp-step-number");
      if (label) { label.textContent = String(index + 1) + "."; }
      var up = step.querySelector(".cp-up");
      var down = step.querySelector(".cp-down");
      if (up) { up.disabled = index === 0; }
      if (down) { down.disabled = index === steps().length - 1; }
    });
  }

  function move(step, offset) {
    var list = steps();
    var index = list.indexOf(step);
    var target = list[index + offset];
    if (!target) { return; }
    if (offset < 0) { target.before(step); } else { target.after(step); }
    renumber();
    var button = step.querySelector(offset < 0 ? ".cp-up" : ".cp-down");
    if (button && !button.disabled) { button.focus(); } else { step.querySelector("button").focus(); }
  }

  function button(label, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "cp-move " + cls;
    b.setAttribute("aria-label", label);
    b.title = label;
    b.textContent = cls === "cp-up" ? "\u25B2" : "\u25BC";
    b.addEventListener("click", onClick);
    return b;
  }

  var dragged = null;

  function setUpStep(step) {
    if (step.dataset.cpReady) { return; }
    step.dataset.cpReady = "1";
    var kind = step.querySelector("select.cp-kind");
    var variants = step.querySelector(".cp-variants");
    var update = function () {
      var value = kind ? kind.value : "";
      show(step, ALL_KIND_FIELDS, KIND_FIELDS[value] || []);
      if (variants) { variants.hidden = value !== "send"; }
      // The header names the step by its kind; its stored position is renumbered anyway.
      var label = step.querySelector(".inline_label");
      if (label && kind && kind.selectedIndex > 0) {
        label.textContent = kind.options[kind.selectedIndex].text;
      }
      renumber();
    };
    if (kind) { kind.addEventListener("change", update); }
    var header = step.querySelector("h3");
    if (header) {
      var tools = document.createElement("span");
      tools.className = "cp-step-tools";
      var number = document.createElement("span");
      number.className = "cp-step-number";
      tools.appendChild(number);
      // The words come translated from the page (#cp-texts).
      var texts = document.getElementById("cp-texts");
      var text = (texts && texts.dataset.moveUp) || "Move up";
      var textDown = (texts && texts.dataset.moveDown) || "Move down";
      tools.appendChild(button(text, "cp-up", function () { move(step, -1); }));
      tools.appendChild(button(textDown, "cp-down", function () { move(step, 1); }));
      header.prepend(tools);
      header.draggable = true;
      header.classList.add("cp-handle");
      header.addEventListener("dragstart", function (event) {
        dragged = step;
        step.classList.add("cp-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", step.id);
      });
      header.addEventListener("dragend", function () {
        step.classList.remove("cp-dragging");
        dragged = null;
        renumber();
      });
    }
    step.addEventListener("dragover", function (event) {
      if (!dragged || dragged === step) { return; }
      event.preventDefault();
      var box = step.getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) { step.before(dragged); } else { step.after(dragged); }
    });
    step.addEventListener("drop", function (event) { event.preventDefault(); renumber(); });
    update();
  }

  function setUpSteps() {
    steps().forEach(setUpStep);
    renumber();
    var g = group();
    if (g && g.closest("form")) {
      g.closest("form").addEventListener("submit", renumber);
    }
  }

  document.addEventListener("formset:added", function (event) {
    var name = event.detail && event.detail.formsetName;
    if (name === "steps") { setUpStep(event.target); renumber(); }
  });
  document.addEventListener("formset:removed", function (event) {
    if (event.detail && event.detail.formsetName === "steps") { renumber(); }
  });

  function start() { setUpTrigger(); setUpSteps(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
