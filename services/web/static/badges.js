// The badge builder of a package page (templates/_badges.html): reads the form, points the preview
// at the API's badge.svg with those options and writes the Markdown, HTML and reStructuredText that
// embed it, with absolute URLs of this site; the Copy buttons put one of them on the clipboard.
// Only options that differ from the badge's defaults go into the URL, so the common badge stays
// the shortest (and the one CDNs cache most).
(function () {
  "use strict";

  var DEFAULTS = { metric: "downloads", period: "month", who: "", style: "flat", units: "compact" };

  function badgeQuery(form) {
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) return;
      var value = field.value.trim();
      if (value === "" || value === DEFAULTS[field.name]) return;
      if (field.name === "period" && form.elements.metric.value === "rank") return; // a rank is of the month
      parts.push(encodeURIComponent(field.name) + "=" + encodeURIComponent(value));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function init() {
    var form = document.getElementById("badge-form");
    if (!form) return;
    var pkg = form.dataset.package;
    var origin = window.location.origin;
    var preview = document.getElementById("badge-preview");
    var page = origin + "/packages/" + encodeURIComponent(pkg);
    var pending = null;
    function update() {
      var url = origin + "/api/packages/" + encodeURIComponent(pkg) + "/badge.svg" + badgeQuery(form);
      var alt = pkg + " downloads";
      // The preview follows once the options settle (a new src while one loads aborts that load).
      window.clearTimeout(pending);
      pending = window.setTimeout(function () { if (preview.src !== url) preview.src = url; }, 300);
      document.getElementById("badge-markdown").value = "[![" + alt + "](" + url + ")](" + page + ")";
      document.getElementById("badge-html").value =
        '<a href="' + page + '"><img src="' + url.replace(/&/g, "&amp;") + '" alt="' + alt + '"></a>';
      document.getElementById("badge-rst").value =
        ".. image:: " + url + "\n   :target: " + page + "\n   :alt: " + alt;
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), function (button) {
      button.addEventListener("click", function () {
        var area = document.getElementById(button.dataset.copy);
        area.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(area.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
