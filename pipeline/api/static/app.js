// Progressive enhancement only: the page works without this file.
"use strict";
(function () {
  // "/" jumps to the search box, as on most search pages.
  document.addEventListener("keydown", function (e) {
    const t = e.target;
    if (e.key === "/" && !(t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement)) {
      const q = document.getElementById("q");
      if (q) { e.preventDefault(); q.focus(); q.select(); }
    }
  });
  // Entity and speaker fields suggest names from /api/entities as you type.
  const list = document.getElementById("entity-names");
  if (!list) return;
  let timer = null;
  document.querySelectorAll("input[data-autocomplete]").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const prefix = input.value.trim();
      if (prefix.length < 2) return;
      timer = setTimeout(function () {
        fetch("/api/entities?limit=8&prefix=" + encodeURIComponent(prefix))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (names) {
            list.replaceChildren.apply(list, names.map(function (n) {
              const o = document.createElement("option");
              o.value = n.name;
              o.label = n.type + " · " + n.count;
              return o;
            }));
          })
          .catch(function () {});
      }, 150);
    });
  });
})();
