// Live status of one submission: polls the JSON API and updates the page; reloads once it is final.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box || box.dataset.final === "true") { return; }
  var url = box.dataset.pollUrl;
  var fields = {
    status: document.getElementById("status-text"),
    position: document.getElementById("status-position"),
    eta: document.getElementById("status-eta")
  };
  function seconds(value) {
    if (value === null || value === undefined) { return ""; }
    if (value < 60) { return Math.round(value) + " s"; }
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(poll, 3000); return; }
        box.dataset.status = data.status;
        if (fields.status) { fields.status.textContent = data.status_text; }
        if (fields.position) { fields.position.textContent = data.position ? String(data.position) : "–"; }
        if (fields.eta) { fields.eta.textContent = seconds(data.eta_s); }
        if (data.final) { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
