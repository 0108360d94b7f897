/* The template page's editor: click-to-insert variables, a live preview of the unsaved
   draft (posted to the admin's preview view as the marketer types), problems shown next to
   the part they concern, desktop/phone widths, and "Send a test". No framework, no CDN. */
(function () {
  "use strict";
  var editor = document.getElementById("template-editor");
  if (!editor) { return; }
  var form = editor.closest("form");
  var PARTS = {subject: "subject", html: "html_body", text: "text_body"};
  var current = null;      // the translation prefix previewed, e.g. "translations-0"
  var lastField = null;    // where a click on a variable inserts it
  var timer = null;
  var sequence = 0;        // answers to older requests are dropped
  var $ = function (id) { return document.getElementById(id); };

  function prefixes() {
    var found = [];
    form.querySelectorAll("textarea[name$='-html_body']").forEach(function (area) {
      var prefix = area.name.slice(0, -"-html_body".length);
      if (prefix.indexOf("__prefix__") === -1) { found.push(prefix); }
    });
    return found;
  }
  function field(prefix, name) { return form.querySelector("[name='" + prefix + "-" + name + "']"); }
  function deleted(prefix) {
    var box = field(prefix, "DELETE");
    return box && box.checked;
  }

  function refreshLanguages() {
    var select = $("te-translation");
    var list = prefixes().filter(function (p) { return !deleted(p); });
    if (current === null || list.indexOf(current) === -1) { current = list.length ? list[0] : null; }
    select.innerHTML = "";
    list.forEach(function (prefix, index) {
      var option = document.createElement("option");
      var locale = (field(prefix, "locale") || {}).value || "";
      option.value = prefix;
      option.textContent = locale || ("#" + (index + 1));
      option.selected = prefix === current;
      select.appendChild(option);
    });
  }

  function value(id) { var el = $(id); return el ? el.value : ""; }

  function draftData() {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    Object.keys(PARTS).forEach(function (part) {
      var el = field(current, PARTS[part]);
      data.append(PARTS[part], el ? el.value : "");
    });
    data.append("locale", (field(current, "locale") || {}).value || "");
    data.append("purpose", value("id_purpose"));
    data.append("layout", value("id_layout"));
    if ($("id_raw_html") && $("id_raw_html").checked) { data.append("raw_html", "on"); }
    data.append("customer", value("te-customer"));
    return data;
  }

  function status(text, isError) {
    var el = $("te-status");
    el.textContent = text;
    el.classList.toggle("te-error", !!isError);
  }

  function clearProblems() {
    form.querySelectorAll(".te-problems").forEach(function (el) { el.remove(); });
  }
  function showProblems(problems) {
    clearProblems();
    var any = false;
    Object.keys(PARTS).forEach(function (part) {
      var messages = problems[part] || [];
      var el = field(current, PARTS[part]);
      if (!messages.length || !el) { return; }
      any = true;
      var list = document.createElement("ul");
      list.className = "errorlist te-problems";
      list.setAttribute("data-part", part);
      messages.forEach(function (message) {
        var item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
      el.insertAdjacentElement("afterend", list);
    });
    return any;
  }
  function fieldErrors(errors) {
    return Object.keys(errors).map(function (name) {
      var e = errors[name];
      return (e.label ? e.label + ": " : "") + e.messages.join(" ");
    }).join(" ");
  }

  function preview() {
    timer = null;
    if (current === null) { status(editor.dataset.noTranslation); return; }
    var mine = ++sequence;
    status(editor.dataset.updating);
    fetch(editor.dataset.previewUrl, {method: "POST", body: draftData(), credentials: "same-origin"})
      .then(function (response) { return response.json().then(function (body) { return [response.status, body]; }); })
      .then(function (answer) {
        if (mine !== sequence) { return; }
        var code = answer[0], body = answer[1];
        if (code === 400 && body.field_errors) { status(fieldErrors(body.field_errors), true); return; }
        if (code !== 200) { status(editor.dataset.failed, true); return; }
        var troubled = showProblems(body.problems || {});
        $("te-for").textContent = body["for"] + " · " + body.layout;
        showNotes(troubled ? [] : (body.notes || []));
        if (troubled) { showVersions([]); status(editor.dataset.problems, true); return; }
        show(body);
        showVersions(body.versions || []);
        status(editor.dataset.updated);
        editor.classList.add("te-ready");
      })
      .catch(function () { if (mine === sequence) { status(editor.dataset.failed, true); } });
  }
  // One rendered version of the email: subject, HTML and text.
  function show(version) {
    $("te-subject").textContent = version.subject;
    if ($("te-frame").srcdoc !== version.html) {
      $("te-frame").dataset.loaded = "no";
      $("te-frame").srcdoc = version.html;
    }
    $("te-text").textContent = version.text;
  }
  // Warnings that do not stop the email (a segment that does not exist, product
  // attributes some products lack).
  function showNotes(notes) {
    var list = $("te-notes");
    list.innerHTML = "";
    notes.forEach(function (note) {
      var item = document.createElement("li");
      item.textContent = note;
      list.appendChild(item);
    });
    list.hidden = !notes.length;
  }
  // Content by segment: a labelled toggle between the versions (member / not a member).
  var chosenVersion = null;
  function showVersions(versions) {
    var box = $("te-versions");
    box.innerHTML = "";
    box.hidden = !versions.length;
    if (!versions.length) { chosenVersion = null; return; }
    var labels = versions.map(function (v) { return v.label; });
    var active = labels.indexOf(chosenVersion);
    if (active === -1) {
      active = Math.max(0, versions.findIndex(function (v) { return v.shown; }));
      chosenVersion = null;
    }
    versions.forEach(function (version, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "te-version-button";
      button.textContent = version.label + (version.detail ? " (" + version.detail + ")" : "");
      var on = index === active;
      button.classList.toggle("te-active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.addEventListener("click", function () {
        chosenVersion = version.label;
        box.querySelectorAll(".te-version-button").forEach(function (other) {
          var mine = other === button;
          other.classList.toggle("te-active", mine);
          other.setAttribute("aria-pressed", mine ? "true" : "false");
        });
        show(version);
      });
      box.appendChild(button);
    });
    show(versions[active]);
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(preview, 500);
  }

  function translationOf(el) {
    var match = /^(.*)-(subject|html_body|text_body|locale)$/.exec(el.name || "");
    return match && match[1].indexOf("__prefix__") === -1 ? match : null;
  }
  form.addEventListener("focusin", function (event) {
    var match = translationOf(event.target);
    if (!match) { return; }
    if (match[2] !== "locale") { lastField = event.target; }
    if (current !== match[1]) { current = match[1]; refreshLanguages(); schedule(); }
  });
  form.addEventListener("input", function (event) {
    var match = translationOf(event.target);
    if (match) {
      current = match[1];
      if (match[2] === "locale") { refreshLanguages(); }
      schedule();
    }
  });
  form.addEventListener("change", function (event) {
    var id = event.target.id;
    if (id === "id_purpose" || id === "id_layout" || id === "id_raw_html" || /-DELETE$/.test(event.target.name || "")) {
      refreshLanguages();
      schedule();
    }
  });
  document.addEventListener("formset:added", function () { refreshLanguages(); });
  $("te-translation").addEventListener("change", function (event) {
    current = event.target.value;
    schedule();
  });

  // Click to insert a variable where the cursor is (the HTML box when none was chosen).
  editor.querySelectorAll(".te-insert").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = lastField || (current && field(current, "html_body"));
      if (!target) { return; }
      var text = button.getAttribute("data-insert");
      var start = target.selectionStart, end = target.selectionEnd;
      if (typeof start !== "number") { start = end = target.value.length; }
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + text.length;
      schedule();
    });
  });

  // Desktop or phone width.
  editor.querySelectorAll(".te-width-button").forEach(function (button) {
    button.addEventListener("click", function () {
      var phone = button.getAttribute("data-width") === "phone";
      $("te-frame").classList.toggle("te-frame-phone", phone);
      $("te-frame").classList.toggle("te-frame-desktop", !phone);
      editor.querySelectorAll(".te-width-button").forEach(function (other) {
        var on = other === button;
        other.classList.toggle("te-active", on);
        other.setAttribute("aria-pressed", on ? "true" : "false");
      });
    });
  });

  // The customer picker: search as they type, preview on choice.
  var search = $("te-customer-search"), picker = $("te-customer"), searchTimer = null;
  if (search && picker && editor.dataset.searchUrl) {
    search.addEventListener("input", function () {
      if (searchTimer) { clearTimeout(searchTimer); }
      searchTimer = setTimeout(function () {
        var q = search.value.trim();
        if (q.length < 2) { return; }
        fetch(editor.dataset.searchUrl + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
          .then(function (response) { return response.json(); })
          .then(function (body) {
            var chosen = picker.value;
            picker.innerHTML = "";
            var sample = document.createElement("option");
            sample.value = "";
            sample.textContent = editor.dataset.sampleLabel;
            picker.appendChild(sample);
            (body.customers || []).forEach(function (customer) {
              var option = document.createElement("option");
              option.value = customer.id;
              option.textContent = customer.label;
              picker.appendChild(option);
            });
            picker.value = chosen;
            if (body.customers && body.customers.length && picker.value === "") {
              picker.value = String(body.customers[0].id);
              schedule();
            }
          });
      }, 300);
    });
    picker.addEventListener("change", schedule);
  }

  // Send a test of what the preview shows.
  var send = $("te-send");
  if (send) {
    send.addEventListener("click", function () {
      var result = $("te-send-result");
      if (current === null) { result.textContent = editor.dataset.noTranslation; return; }
      var data = draftData();
      data.append("to", value("te-to"));
      send.disabled = true;
      result.classList.remove("te-error");
      result.textContent = editor.dataset.sending;
      fetch(editor.dataset.testUrl, {method: "POST", body: data, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (body.sent) { result.textContent = body.sent; }
          else {
            result.classList.add("te-error");
            result.textContent = body.error || fieldErrors(body.field_errors || {});
          }
        })
        .catch(function () { result.classList.add("te-error"); result.textContent = editor.dataset.failed; })
        .then(function () { send.disabled = false; });
    });
  }

  // Marked when the email has loaded (what a test waits for before looking).
  $("te-frame").addEventListener("load", function () { $("te-frame").dataset.loaded = "yes"; });
  refreshLanguages();
  preview();
})();
