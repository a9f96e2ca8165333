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
