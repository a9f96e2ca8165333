// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Organization search on the registration form: suggestions while typing; the GET form still works.
  var input = document.querySelector("[data-org-search]");
  var results = document.getElementById("org-results");
  var codeField = document.getElementById("organization_code");
  if (!input || !results || !window.fetch) { return; }
  var timer = null;
  var last = "";

  function render(items) {
    results.textContent = "";
    if (!items.length) { return; }
    var list = document.createElement("ul");
    list.className = "org-results";
    items.forEach(function (org) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button--link";
      button.textContent = org.display_name;
      button.addEventListener("click", function () {
        if (codeField) { codeField.value = org.code; codeField.focus(); }
        results.textContent = org.display_name + "（" + org.code + "）";
      });
      var meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = " " + org.kana + " · " + org.code;
      item.appendChild(button);
      item.appendChild(meta);
      list.appendChild(item);
    });
    results.appendChild(list);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (!q || q === last) { return; }
      last = q;
      fetch(input.getAttribute("data-org-search") + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(render)
        .catch(function () {});
    }, 200);
  });
})();

// Grouped checkboxes (target wards, followed prefectures): "select all" and "clear", and a live summary of the
// chosen ones under the groups ("選択中: 品川区、江東区（2区）"). The checkboxes alone work without this.
(function checkboxGroups() {
  "use strict";

  function summarise(group, boxes, summary) {
    var chosen = boxes.filter(function (box) { return box.checked; });
    var text;
    if (!chosen.length) {
      text = group.getAttribute("data-summary-none");
    } else if (chosen.length === boxes.length) {
      text = group.getAttribute("data-summary-all");
    } else {
      var names = chosen.map(function (box) {
        var label = group.querySelector("label[for='" + box.id + "']");
        return label ? label.textContent.trim() : box.value;
      });
      var count = group.getAttribute("data-summary-count").replace("{n}", String(chosen.length));
      text = group.getAttribute("data-summary")
        .replace("{names}", names.join(group.getAttribute("data-separator")))
        .replace("{count}", count);
    }
    summary.textContent = text;
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-check-group]"), function (group) {
    var boxes = Array.prototype.slice.call(group.querySelectorAll("input[type=checkbox]"));
    var tools = group.querySelector("[data-check-tools]");
    var summary = group.querySelector("[data-check-summary]");
    var update = summary ? function () { summarise(group, boxes, summary); } : function () {};

    function setAll(checked) {
      boxes.forEach(function (box) { box.checked = checked; });
      update();
    }

    if (tools) {
      tools.querySelector("[data-check-all]").addEventListener("click", function () { setAll(true); });
      tools.querySelector("[data-check-none]").addEventListener("click", function () { setAll(false); });
      tools.hidden = false;
    }
    group.addEventListener("change", update);
    if (summary) {
      update();
      summary.hidden = false;
    }
  });
})();

// Decisions that ask first (accept, decline, publish a case, hide a post): a <dialog> asks the question the confirm
// page would ask, and 確定 posts the form with confirm=1. Without JavaScript, or without <dialog>, the button leads
// to the confirm page instead.
(function confirmDecisions() {
  "use strict";

  var forms = document.querySelectorAll("form[data-confirm]");
  if (!forms.length || typeof HTMLDialogElement !== "function") { return; }
  var counter = 0;

  function ask(form) {
    counter += 1;
    var dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    var title = document.createElement("h2");
    title.id = "confirm-dialog-title-" + counter;
    title.textContent = form.getAttribute("data-confirm-title");
    var text = document.createElement("p");
    text.id = "confirm-dialog-text-" + counter;
    text.textContent = form.getAttribute("data-confirm");
    dialog.setAttribute("aria-labelledby", title.id);
    dialog.setAttribute("aria-describedby", text.id);
    var actions = document.createElement("div");
    actions.className = "confirm-box__actions";
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "button " + (form.hasAttribute("data-confirm-danger") ? "button--danger" : "button--primary");
    ok.textContent = form.getAttribute("data-confirm-ok");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button";
    cancel.textContent = form.getAttribute("data-confirm-cancel");
    actions.appendChild(ok);
    actions.appendChild(cancel);
    dialog.appendChild(title);
    dialog.appendChild(text);
    dialog.appendChild(actions);
    document.body.appendChild(dialog);
    var opener = document.activeElement;

    ok.addEventListener("click", function () {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm";
      field.value = "1";
      form.appendChild(field);
      ok.disabled = true;
      form.submit();
    });
    cancel.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (opener && opener.focus) { opener.focus(); }
    });
    dialog.showModal();
    cancel.focus();
  }

  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      // A required reason left empty goes to the server, which says so on the form; nothing to confirm yet.
      var reason = form.querySelector("textarea[name=reason]");
      if (reason && !reason.value.trim()) { return; }
      event.preventDefault();
      ask(form);
    });
  });
})();
