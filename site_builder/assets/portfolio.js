// Tag filter on the home page, sortable leaderboard columns, the search dialog's name, wide
// notebook outputs reachable by keyboard.
// Works with Material's instant navigation (document$) and without it.
(function () {
  // Material's search overlay is a role="dialog" without a name: give it one (accessibility).
  var search = document.querySelector('.md-search[role="dialog"]');
  if (search && !search.hasAttribute("aria-label")) { search.setAttribute("aria-label", "Search"); }
  // "Try the model": nothing of it loads until the visitor asks (try-model.mjs, the runtime
  // and the model come on the click).
  var here = document.currentScript && document.currentScript.src;
  function tryModel(box) {
    var button = box.querySelector(".pf-try-open");
    if (!button || button.hasAttribute("data-wired")) return;
    button.setAttribute("data-wired", "");
    button.addEventListener("click", function () {
      var status = box.querySelector(".pf-try-status");
      button.disabled = true;
      status.textContent = "Loading the runtime and the model…";
      import(new URL("try-model.mjs", here).href)
        .then(function (module) { return module.open(box, new URL("onnxruntime-web/", here).href); })
        .then(function () { (button.closest(".pf-try-load") || button).remove(); })
        .catch(function (error) {
          status.textContent = "The model could not be loaded in this browser (" + error.message + ").";
          button.disabled = false;
        });
    });
  }
  function setup() {
    if (here) { document.querySelectorAll(".pf-try").forEach(tryModel); }
    // An output wider than the page scrolls sideways: a keyboard user scrolls it once focused.
    document.querySelectorAll(".nb-output").forEach(function (output) {
      if (output.scrollWidth > output.clientWidth && !output.hasAttribute("tabindex")) {
        output.setAttribute("tabindex", "0");
        output.setAttribute("role", "region");
        output.setAttribute("aria-label", "Notebook output, scrolls sideways");
      }
    });
    var buttons = document.querySelectorAll(".pf-filter .pf-tag");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var tag = button.getAttribute("data-tag");
        buttons.forEach(function (b) { b.classList.toggle("pf-tag--on", b === button); });
        document.querySelectorAll(".pf-card").forEach(function (card) {
          var tags = (card.getAttribute("data-tags") || "").split(" ");
          card.hidden = Boolean(tag) && tags.indexOf(tag) < 0;
        });
      });
    });
    document.querySelectorAll(".pf-sortable table").forEach(function (table) {
      table.querySelectorAll("th").forEach(function (th, column) {
        th.setAttribute("tabindex", "0");
        th.setAttribute("aria-sort", "none");
        function sort() {
          var body = table.tBodies[0];
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
            var nx = parseFloat(x), ny = parseFloat(y);
            var cmp = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
            return ascending ? cmp : -cmp;
          });
          rows.forEach(function (row) { body.appendChild(row); });
          table.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        }
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
      });
    });
  }
  if (window.document$ && window.document$.subscribe) { window.document$.subscribe(setup); }
  else if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); }
  else { setup(); }
})();
