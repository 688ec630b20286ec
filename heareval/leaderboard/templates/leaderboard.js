// Sorting of the #leaderboard table: by a clicked (or Enter-pressed) header, or on load from
// #sort=<column key>&dir=asc|desc. Ties and blank cells keep the server's order (data-index),
// blanks always last. render.py inlines this file into index.html.
(function () {
  var table = document.getElementById("leaderboard");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var body = table.tBodies[0];
  var current = {key: null, dir: 0};
  function compare(idx, numeric, dir) {
    return function (a, b) {
      var va = a.cells[idx].dataset.value, vb = b.cells[idx].dataset.value;
      var order = Number(a.dataset.index) - Number(b.dataset.index);
      if (va === "" || vb === "") { return va === vb ? order : (va === "" ? 1 : -1); }
      var d = numeric ? Number(va) - Number(vb) : va.localeCompare(vb);
      return d === 0 ? order : d * dir;
    };
  }
  function sortBy(key, dir) {
    var idx = heads.findIndex(function (th) { return th.dataset.key === key; });
    if (idx < 0) { throw new Error("unknown sort column: " + key); }
    var th = heads[idx], numeric = th.dataset.type === "num";
    if (!dir) { dir = !numeric ? 1 : (th.dataset.better === "min" ? 1 : -1); }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(compare(idx, numeric, dir));
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    current = {key: key, dir: dir};
    document.body.dataset.sort = key + ":" + (dir > 0 ? "asc" : "desc");
  }
  heads.forEach(function (th) {
    var go = function () {
      var key = th.dataset.key;
      sortBy(key, current.key === key ? -current.dir : 0);
    };
    th.addEventListener("click", go);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
  });
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.get("sort")) {
    sortBy(params.get("sort"), params.get("dir") === "asc" ? 1 : params.get("dir") ? -1 : 0);
  }
  document.body.dataset.ready = "1";
})();
