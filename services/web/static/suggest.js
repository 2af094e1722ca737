// The dashboard's "add a package" box: as the visitor types, asks /suggest?q=<text> for package
// names (prefix matches first) and offers them in the input's <datalist>, which the browser shows
// as a keyboard-accessible list. Submitting is a plain form POST (with its CSRF token) to the auth
// service, so the box also works without this script.
(function () {
  "use strict";

  var input = document.querySelector("input[data-suggest]");
  if (!input) return;
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null;
  var asked = 0;
  var lastQuery = null;

  function ask() {
    var query = input.value.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    var ticket = ++asked;
    if (!query) {
      list.replaceChildren();
      return;
    }
    window.fetch(input.dataset.suggest + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { packages: [] }; })
      .then(function (found) {
        if (ticket !== asked) return; // an older answer arriving late
        list.replaceChildren.apply(list, found.packages.map(function (name) {
          var option = document.createElement("option");
          option.value = name;
          return option;
        }));
        input.dataset.suggested = query;
      })
      .catch(function () { list.replaceChildren(); });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 150);
  });
})();
