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
