// Herald console: live updates over server-sent events. Pages work without
// this file; with it, the sections marked data-live-section are refreshed
// in place when a run they show changes.
(function () {
  "use strict";
  var body = document.body;

  // A page that answers a POST (an action refused) shows the address of
  // the page itself, so reloading it reads instead of posting again.
  var self = body.getAttribute("data-url");
  if (self && window.history && window.history.replaceState &&
      self !== window.location.pathname + window.location.search) {
    window.history.replaceState(null, "", self);
  }

  // A JSON input is checked before it is sent; the server checks it too.
  var input = document.getElementById("input");
  if (input && input.form) {
    input.addEventListener("input", function () {
      var v = input.value.trim();
      if (v === "") { input.setCustomValidity(""); return; }
      try { JSON.parse(v); input.setCustomValidity(""); }
      catch (e) { input.setCustomValidity("Not valid JSON: " + e.message); }
    });
  }

  var live = body.getAttribute("data-live");
  var events = body.getAttribute("data-events");
  if (!live || !events || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var run = body.getAttribute("data-run");
  var url = events + (run ? "?run=" + encodeURIComponent(run) : "");
  var state = document.getElementById("live-state");

  var timer = null, busy = false, again = false;
  function schedule() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; refresh(); }, 250);
  }

  // openDetails remembers which <details> are open, by step and summary,
  // so a refresh does not fold what the reader unfolded.
  function detailsKey(d) {
    var step = d.closest("[id]");
    var s = d.querySelector("summary");
    return (step ? step.id : "") + "|" + (s ? s.textContent.trim() : "");
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(self || window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (!resp.ok || resp.redirected) { throw new Error("HTTP " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var sections = document.querySelectorAll("[data-live-section][id]");
        for (var i = 0; i < sections.length; i++) {
          var old = sections[i];
          var fresh = doc.getElementById(old.id);
          if (!fresh) { continue; }
          var open = {};
          var ds = old.querySelectorAll("details[open]");
          for (var j = 0; j < ds.length; j++) { open[detailsKey(ds[j])] = true; }
          var node = document.importNode(fresh, true);
          old.replaceWith(node);
          var nd = node.querySelectorAll("details");
          for (var k = 0; k < nd.length; k++) {
            if (open[detailsKey(nd[k])]) { nd[k].open = true; }
          }
        }
        body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }

  var es = new EventSource(url, { withCredentials: true });
  es.addEventListener("open", function () {
    if (state) { state.hidden = false; state.textContent = "live"; state.className = "live-state on"; }
    // Catch up with what changed between rendering the page and now.
    schedule();
  });
  es.addEventListener("error", function () {
    if (state) { state.textContent = "reconnecting"; state.className = "live-state off"; }
  });
  es.addEventListener("run", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    if (live === "run" && ev.run_id !== run) { return; }
    if (live === "workflow") {
      var h = document.querySelector("h1");
      if (h && ev.workflow !== h.textContent.trim()) { return; }
    }
    schedule();
  });
  es.addEventListener("resync", schedule);
})();
