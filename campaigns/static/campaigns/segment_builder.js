/* Segment rule builder: edits the rule JSON in the form's textarea without typing JSON.
 *
 * The field catalogue (labels, types, operators, choices) comes from the server in
 * <script id="segment-catalogue">, the same definition the validator uses. Every change
 * writes the JSON back into the textarea and asks the server (debounced) for the live
 * count and a sample, or the rule's problems. Plain JavaScript, no build step. */
(function () {
  "use strict";

  function start() {
    const root = document.getElementById("segment-builder");
    if (!root) return;
    const catalogue = JSON.parse(document.getElementById("segment-catalogue").textContent);
    const textarea = document.getElementById(root.dataset.textarea);
    const preview = document.getElementById("segment-preview");
    const jsonBox = document.querySelector(".sb-json-box");
    const toggle = document.querySelector(".sb-toggle-json");
    const fields = {};
    catalogue.fields.forEach(function (f) { fields[f.key] = f; });
    const targetKeys = (catalogue.product_targets || []).map(function (t) { return t[0]; });
    const words = catalogue.words || {};
    let model = null;
    let timer = null;
    let suggestLists = 0;
    let requestNumber = 0;

    // --- small DOM helpers ----------------------------------------------------------------
    function el(tag, props, children) {
      const node = document.createElement(tag);
      Object.keys(props || {}).forEach(function (k) {
        if (k === "class") node.className = props[k];
        else if (k === "text") node.textContent = props[k];
        else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), props[k]);
        else node.setAttribute(k, props[k]);
      });
      (children || []).forEach(function (c) { if (c) node.appendChild(c); });
      return node;
    }
    function option(value, label, selected) {
      const o = el("option", {value: value, text: label});
      if (selected) o.selected = true;
      return o;
    }
    function button(label, cls, handler) {
      return el("button", {type: "button", "class": "button " + cls, text: label, onclick: handler});
    }

    // --- JSON <-> model ---------------------------------------------------------------------
    function newCondition() { return {kind: "cond", negated: false, field: "", op: "", value: null}; }
    function newGroup(mode) { return {kind: "group", negated: false, mode: mode || "all", items: []}; }

    function fromJson(json) {
      if (json && typeof json === "object" && !Array.isArray(json)) {
        if ("not" in json) { const n = fromJson(json.not); n.negated = !n.negated; return n; }
        if ("all" in json || "any" in json) {
          const mode = "all" in json ? "all" : "any";
          const g = newGroup(mode);
          g.items = (json[mode] || []).map(fromJson);
          return g;
        }
        const c = newCondition();
        c.field = json.attribute !== undefined ? "attribute:" + json.attribute : (json.field || "");
        c.op = json.op || "";
        c.value = json.value === undefined ? null : json.value;
        if (json.window) c.window = json.window;
        if (json.event_type !== undefined) c.eventType = json.event_type;
        targetKeys.forEach(function (k) { if (json[k] !== undefined) c.target = {kind: k, value: json[k]}; });
        return c;
      }
      throw new Error("not a rule");
    }

    function toJson(node) {
      let out;
      if (node.kind === "group") {
        out = {};
        out[node.mode] = node.items.map(toJson);
      } else {
        out = {};
        if (node.field.indexOf("attribute:") === 0) out.attribute = node.field.slice(10);
        else out.field = node.field;
        if (node.eventType !== undefined) out.event_type = node.eventType;
        if (node.target) out[node.target.kind] = node.target.value;
        out.op = node.op;
        const kind = (catalogue.operators[node.op] || {}).value;
        if (kind && kind !== "none") out.value = node.value;
        if (node.window) out.window = node.window;
      }
      return node.negated ? {not: out} : out;
    }

    // --- values -----------------------------------------------------------------------------
    function readScalar(field, raw) {
      if (field.type === "number" || field.type === "event" || field.type === "count") {
        if (raw === "" || raw === null) return null;
        const n = Number(raw);
        return isNaN(n) ? raw : n;
      }
      if (field.type === "boolean") return raw === "true";
      return raw;
    }

    function scalarInput(field, value, onValue, cls) {
      let input;
      if (field.type === "boolean") {
        input = el("select", {"class": cls}, [option("true", "yes", value === true),
                                            option("false", "no", value === false)]);
      } else if (field.choices.length && field.strict) {
        input = el("select", {"class": cls}, [option("", "— choose —", value === null)].concat(
          field.choices.map(function (c) { return option(c[0], c[1], c[0] === value); })));
      } else {
        const type = field.type === "date" ? "date" : (field.type === "number" || field.type === "event" || field.type === "count") ? "number" : "text";
        input = el("input", {type: type, "class": cls});
        if (type === "number") {
          input.step = field.integer || field.type === "event" || field.type === "count" ? "1" : "any";
          if (field.min !== null && field.min !== undefined) input.min = field.min;
          if (field.max !== null && field.max !== undefined) input.max = field.max;
        }
        if (field.choices.length) {
          const listId = "sb-list-" + field.key.replace(/[^a-z0-9_]/gi, "-");
          if (!document.getElementById(listId)) {
            document.body.appendChild(el("datalist", {id: listId}, field.choices.map(function (c) {
              return option(c[0], c[1]);
            })));
          }
          input.setAttribute("list", listId);
        }
        input.value = value === null || value === undefined ? "" : value;
      }
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", function () {
        onValue(readScalar(field, input.value));
      });
      return input;
    }

    function valueEditor(cond, field) {
      const kind = (catalogue.operators[cond.op] || {}).value;
      const wrap = el("span", {"class": "sb-value-wrap"});
      if (!kind || kind === "none") return wrap;
      if (kind === "days") {
        const input = el("input", {type: "number", min: "1", step: "1", "class": "sb-value sb-days"});
        input.value = cond.value === null ? "" : cond.value;
        input.addEventListener("input", function () {
          cond.value = input.value === "" ? null : Number(input.value); changed();
        });
        wrap.appendChild(input);
        wrap.appendChild(el("span", {text: " days"}));
        return wrap;
      }
      if (kind === "pair") {
        const pair = Array.isArray(cond.value) ? cond.value.slice(0, 2) : [null, null];
        cond.value = pair;
        [0, 1].forEach(function (i) {
          if (i === 1) wrap.appendChild(el("span", {text: " and "}));
          wrap.appendChild(scalarInput(field, pair[i], function (v) { pair[i] = v; changed(); },
                                       "sb-value sb-value-" + i));
        });
        return wrap;
      }
      if (kind === "list") {
        const values = Array.isArray(cond.value) ? cond.value : [];
        if (field.choices.length) {
          const select = el("select", {multiple: "multiple", size: "4", "class": "sb-value"},
            field.choices.map(function (c) { return option(c[0], c[1], values.indexOf(c[0]) >= 0); }));
          values.forEach(function (v) {  // values outside the suggestions stay selectable
            if (!field.choices.some(function (c) { return c[0] === v; })) select.appendChild(option(v, v, true));
          });
          select.addEventListener("change", function () {
            cond.value = Array.prototype.filter.call(select.options, function (o) { return o.selected; })
              .map(function (o) { return o.value; });
            changed();
          });
          wrap.appendChild(select);
        } else {
          const input = el("input", {type: "text", "class": "sb-value", placeholder: "comma, separated"});
          input.value = values.join(", ");
          input.addEventListener("input", function () {
            cond.value = input.value.split(",").map(function (s) { return s.trim(); })
              .filter(function (s) { return s; }).map(function (s) { return readScalar(field, s); });
            changed();
          });
          wrap.appendChild(input);
        }
        return wrap;
      }
      wrap.appendChild(scalarInput(field, cond.value, function (v) { cond.value = v; changed(); }, "sb-value"));
      if (field.unit) wrap.appendChild(el("span", {"class": "sb-unit", text: " " + field.unit}));
      return wrap;
    }

    function windowEditor(cond) {
      const w = cond.window || null;
      const mode = !w ? "" : w.last_days !== undefined ? "last_days" : w.period ? "period:" + w.period : "dates";
      const select = el("select", {"class": "sb-window"}, [option("", "all time", mode === ""),
        option("last_days", "in the last … days", mode === "last_days")].concat(
        Object.keys(catalogue.periods).map(function (p) {
          return option("period:" + p, catalogue.periods[p], mode === "period:" + p);
        })).concat([option("dates", "between dates", mode === "dates")]));
      const wrap = el("span", {"class": "sb-window-wrap"}, [select]);
      select.addEventListener("change", function () {
        const m = select.value;
        if (m === "") delete cond.window;
        else if (m === "last_days") cond.window = {last_days: 90};
        else if (m === "dates") cond.window = {from: "", to: ""};
        else cond.window = {period: m.slice(7)};
        render(); changed();
      });
      if (mode === "last_days") {
        const days = el("input", {type: "number", min: "1", step: "1", "class": "sb-window-days"});
        days.value = w.last_days;
        days.addEventListener("input", function () {
          cond.window = {last_days: days.value === "" ? null : Number(days.value)}; changed();
        });
        wrap.appendChild(days);
        wrap.appendChild(el("span", {text: " days"}));
      } else if (mode === "dates") {
        ["from", "to"].forEach(function (k) {
          const input = el("input", {type: "date", "class": "sb-window-" + k});
          input.value = w[k] || "";
          input.addEventListener("input", function () { cond.window[k] = input.value; changed(); });
          wrap.appendChild(el("span", {text: k === "from" ? " from " : " to "}));
          wrap.appendChild(input);
        });
      }
      return wrap;
    }

    // --- rendering ----------------------------------------------------------------------------
    function fieldSelect(cond) {
      const select = el("select", {"class": "sb-field"}, [option("", "— field —", !cond.field)]);
      const groups = {};
      catalogue.fields.forEach(function (f) {
        if (!groups[f.group]) {
          groups[f.group] = el("optgroup", {label: f.group});
          select.appendChild(groups[f.group]);
        }
        groups[f.group].appendChild(option(f.key, f.label, f.key === cond.field));
      });
      if (cond.field && !fields[cond.field]) select.appendChild(option(cond.field, cond.field + " (unknown)", true));
      select.addEventListener("change", function () {
        const f = fields[select.value];
        cond.field = select.value;
        cond.op = f ? f.operators[0] : "";
        cond.value = f && f.type === "boolean" ? true : null;
        if (f && f.type === "consent") cond.value = f.choices[0][0];
        if (f && f.type === "event") cond.eventType = cond.eventType || f.event_types[0];
        else delete cond.eventType;
        if (f && f.product) cond.target = cond.target || {kind: targetKeys[0], value: ""};
        else delete cond.target;
        delete cond.window;
        render(); changed();
      });
      return select;
    }

    function opSelect(cond, field) {
      const select = el("select", {"class": "sb-op"}, field.operators.map(function (o) {
        const label = (field.op_labels && field.op_labels[o]) || catalogue.operators[o].label;
        return option(o, label, o === cond.op);
      }));
      select.addEventListener("change", function () {
        const before = (catalogue.operators[cond.op] || {}).value;
        cond.op = select.value;
        const after = catalogue.operators[cond.op].value;
        if (before !== after) cond.value = field.type === "boolean" ? true : null;
        render(); changed();
      });
      return select;
    }

    function negateBox(node) {
      const box = el("input", {type: "checkbox", "class": "sb-not"});
      box.checked = node.negated;
      box.addEventListener("change", function () { node.negated = box.checked; changed(); });
      return el("label", {"class": "sb-not-label", title: "Negate: match when this does NOT hold"},
                [box, document.createTextNode(" not")]);
    }

    // What a product condition is about: a category, a brand or a SKU, with suggestions
    // from the catalogue (the server's product list) while typing.
    function targetEditor(cond) {
      const target = cond.target;
      const kind = el("select", {"class": "sb-target-kind"}, catalogue.product_targets.map(function (t) {
        return option(t[0], t[1], t[0] === target.kind);
      }));
      const listId = "sb-suggest-" + (++suggestLists);
      const list = el("datalist", {id: listId});
      const input = el("input", {type: "text", "class": "sb-target", list: listId, autocomplete: "off",
                                 placeholder: words.suggest || ""});
      input.value = target.value || "";
      let suggestTimer = null;
      function suggest() {
        clearTimeout(suggestTimer);
        suggestTimer = setTimeout(function () {
          const url = root.dataset.suggestUrl + "?kind=" + encodeURIComponent(target.kind) +
            "&q=" + encodeURIComponent(input.value);
          fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
            list.textContent = "";
            (data.suggestions || []).forEach(function (s) { list.appendChild(option(s.value, s.label)); });
          }).catch(function () { /* suggestions are a help: typing still works */ });
        }, 250);
      }
      kind.addEventListener("change", function () {
        target.kind = kind.value; target.value = ""; input.value = ""; suggest(); changed();
      });
      input.addEventListener("input", function () { target.value = input.value; suggest(); changed(); });
      input.addEventListener("focus", suggest);
      return el("span", {"class": "sb-target-wrap"}, [kind, input, list]);
    }

    function renderCondition(cond, parent) {
      const field = fields[cond.field];
      const row = el("div", {"class": "sb-condition"}, [negateBox(cond), fieldSelect(cond)]);
      if (field) {
        if (field.type === "event") {
          const listId = "sb-event-types";
          if (!document.getElementById(listId)) {
            document.body.appendChild(el("datalist", {id: listId}, field.event_types.map(function (t) { return option(t, t); })));
          }
          const type = el("input", {type: "text", "class": "sb-event-type", list: listId, placeholder: "event type"});
          type.value = cond.eventType || "";
          type.addEventListener("input", function () { cond.eventType = type.value; changed(); });
          row.appendChild(type);
        }
        if (field.product) {
          if (!cond.target) cond.target = {kind: targetKeys[0], value: ""};
          row.appendChild(targetEditor(cond));
        }
        if (field.window) row.appendChild(windowEditor(cond));
        row.appendChild(opSelect(cond, field));
        row.appendChild(valueEditor(cond, field));
        if (field.help) row.title = field.help;
      }
      row.appendChild(button("Remove", "sb-remove", function () {
        parent.items.splice(parent.items.indexOf(cond), 1); render(); changed();
      }));
      return row;
    }

    function renderGroup(group, parent) {
      const mode = el("select", {"class": "sb-mode"}, [option("all", "All of these", group.mode === "all"),
                                                      option("any", "Any of these", group.mode === "any")]);
      mode.addEventListener("change", function () { group.mode = mode.value; changed(); });
      const header = el("div", {"class": "sb-group-header"}, [negateBox(group), mode,
        button("+ condition", "sb-add-condition", function () { group.items.push(newCondition()); render(); changed(); }),
        button("+ group", "sb-add-group", function () {
          const g = newGroup(group.mode === "all" ? "any" : "all");
          g.items.push(newCondition());
          group.items.push(g); render(); changed();
        })]);
      if (parent) {
        header.appendChild(button("Remove group", "sb-remove", function () {
          parent.items.splice(parent.items.indexOf(group), 1); render(); changed();
        }));
      }
      const body = el("div", {"class": "sb-items"}, group.items.map(function (item) {
        return item.kind === "group" ? renderGroup(item, group) : renderCondition(item, group);
      }));
      if (!group.items.length) body.appendChild(el("p", {"class": "sb-empty", text: "No conditions yet: add one."}));
      return el("div", {"class": "sb-group" + (parent ? "" : " sb-top")}, [header, body]);
    }

    function render() {
      root.textContent = "";
      root.appendChild(renderGroup(model, null));
    }

    // --- sync and live preview -----------------------------------------------------------------
    function changed() {
      textarea.value = JSON.stringify(toJson(model), null, 2);
      schedulePreview();
    }

    function schedulePreview() {
      clearTimeout(timer);
      timer = setTimeout(runPreview, 400);
    }

    function csrfToken() {
      const input = document.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    function showPreview(data) {
      preview.textContent = "";
      if (data.errors) {
        preview.appendChild(el("p", {"class": "sb-status", text: "Not a complete rule yet:"}));
        preview.appendChild(el("ul", {"class": "errorlist", id: "segment-errors"}, data.errors.map(function (e) {
          return el("li", {text: e});
        })));
        return;
      }
      if (data.warnings && data.warnings.length) {
        preview.appendChild(el("ul", {"class": "messagelist", id: "segment-warnings"}, data.warnings.map(function (w) {
          return el("li", {"class": "warning", text: (words.warnings ? words.warnings + " " : "") + w});
        })));
      }
      preview.appendChild(el("p", {"class": "sb-status"}, [
        el("strong", {id: "segment-count", text: String(data.count)}),
        document.createTextNode(data.count === 1 ? " customer matches now." : " customers match now.")]));
      if (data.sample.length) {
        preview.appendChild(el("table", {id: "segment-sample"}, [
          el("thead", {}, [el("tr", {}, ["Name", "Email", "Country"].map(function (h) { return el("th", {text: h}); }))]),
          el("tbody", {}, data.sample.map(function (c) {
            return el("tr", {}, [el("td", {}, [el("a", {href: c.url, text: c.name})]),
                                 el("td", {text: c.email}), el("td", {text: c.country})]);
          }))]));
      }
    }

    function runPreview() {
      let rule;
      try { rule = JSON.parse(textarea.value); } catch (e) {
        showPreview({errors: ["The JSON is not valid: " + e.message]}); return;
      }
      const mine = ++requestNumber;
      preview.classList.add("sb-loading");
      fetch(root.dataset.previewUrl, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        body: JSON.stringify({rule: rule}),
      }).then(function (r) { return r.json(); }).then(function (data) {
        if (mine === requestNumber) { preview.classList.remove("sb-loading"); showPreview(data); }
      }).catch(function () {
        if (mine === requestNumber) showPreview({errors: ["The count could not be fetched; try again."]});
      });
    }

    function loadFromTextarea() {
      const text = textarea.value.trim();
      let json = {all: []};
      if (text && text !== "{}") {
        try { json = JSON.parse(text); } catch (e) { return false; }
      }
      try {
        model = fromJson(json);
      } catch (e) { return false; }
      if (model.kind !== "group") { const g = newGroup("all"); g.items.push(model); model = g; }
      render();
      return true;
    }

    toggle.addEventListener("click", function () {
      const open = jsonBox.classList.toggle("sb-open");
      toggle.textContent = open ? "Hide JSON" : "Advanced: edit JSON";
    });
    textarea.addEventListener("input", function () {
      // Hand-edited JSON: rebuild the builder when it parses; the server reports problems.
      if (!loadFromTextarea()) root.classList.add("sb-stale"); else root.classList.remove("sb-stale");
      schedulePreview();
    });

    if (!loadFromTextarea()) {
      model = newGroup("all");
      jsonBox.classList.add("sb-open");
      root.appendChild(el("p", {"class": "errornote", text: "This rule cannot be shown in the builder; edit the JSON."}));
    } else if (model.items.length) {
      schedulePreview();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
