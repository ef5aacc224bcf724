// gantry dashboard: live regions and the submit form. Plain JavaScript, no build step.
//
// Every element with `data-live` and an id is refreshed every 2 s from a fresh copy of the
// same page (rendered and escaped by the server), so the pages work unchanged without this
// script. The submit form is posted to /api/execute with fetch and the answer shown inline.
(function () {
  'use strict';
  var INTERVAL_MS = 2000;
  var live = document.getElementById('live');
  var timer = null;

  function setLive(ok) {
    if (live) live.className = 'live ' + (ok ? 'on' : 'off');
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, INTERVAL_MS);
  }

  function refresh() {
    var regions = document.querySelectorAll('[data-live][id]');
    if (!regions.length) return;
    if (document.hidden) return schedule();
    fetch(location.href, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'text/html' }
    }).then(function (r) {
      if (!r.ok || r.redirected) throw new Error('HTTP ' + r.status);
      return r.text();
    }).then(function (text) {
      var fresh = new DOMParser().parseFromString(text, 'text/html');
      regions.forEach(function (el) {
        var next = fresh.getElementById(el.id);
        if (next && next.innerHTML !== el.innerHTML) el.innerHTML = next.innerHTML;
      });
      setLive(true);
    }).catch(function () {
      setLive(false);
    }).then(schedule);
  }

  function show(target, parts) {
    target.textContent = '';
    parts.forEach(function (p) { target.appendChild(p); });
  }

  function text(t, cls) {
    var s = document.createElement('span');
    s.textContent = t;
    if (cls) s.className = cls;
    return s;
  }

  function setupForm() {
    var form = document.getElementById('submit-form');
    if (!form || !window.fetch || !window.FormData) return;
    var result = document.getElementById('submit-result');
    var button = document.getElementById('submit');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      form.querySelectorAll('.field-error').forEach(function (el) {
        el.classList.remove('field-error');
      });
      button.disabled = true;
      show(result, [text('Submitting…', 'muted')]);
      fetch(form.action, {
        method: 'POST',
        body: new FormData(form),
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          return { ok: r.ok, status: r.status, body: body };
        });
      }).then(function (res) {
        if (res.ok && res.body.id) {
          var a = document.createElement('a');
          a.href = '/jobs/' + encodeURIComponent(res.body.id);
          a.id = 'submitted-job';
          a.textContent = res.body.id.slice(-8);
          show(result, [text('Created job ', 'ok'), a, text(' · ' + res.body.status, 'muted')]);
          refresh();
        } else {
          var err = res.body.error || {};
          var field = err.field && form.elements[err.field];
          if (field && field.classList) field.classList.add('field-error');
          show(result, [text(err.message || ('HTTP ' + res.status), 'bad')]);
        }
      }).catch(function (e) {
        show(result, [text('Could not reach the server: ' + e.message, 'bad')]);
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) refresh();
  });
  setupForm();
  if (document.querySelector('[data-live][id]')) {
    setLive(true);
    schedule();
  }
})();
