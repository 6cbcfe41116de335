// Live refresh for the campaign page: polls the JSON feed and updates the numbers, bars and chart in place.
// The page is complete without this script; it only keeps it current.
(function () {
  'use strict';
  var root = document.getElementById('campaign');
  if (!root || !window.fetch) return;
  var url = root.getAttribute('data-live-url');
  var INTERVAL_MS = 4000;
  var timer = null;

  function setText(el, value) {
    if (el && el.textContent !== value) el.textContent = value;
  }

  function apply(data) {
    root.querySelectorAll('[data-live]').forEach(function (el) {
      var key = el.getAttribute('data-live');
      if (typeof data[key] === 'string') setText(el, data[key]);
    });
    var status = root.querySelector('[data-live="statusLabel"]');
    if (status) status.className = 'status status-' + data.status;
    data.funnel.forEach(function (step) {
      var row = root.querySelector('[data-step="' + step.key + '"]');
      if (!row) return;
      setText(row.querySelector('[data-field="count"]'), step.count);
      setText(row.querySelector('[data-field="percent"]'), step.percent);
      var fill = row.querySelector('rect.fill');
      if (fill) fill.setAttribute('width', String(step.width));
    });
    var chart = root.querySelector('[data-live-chart]');
    // The SVG is built on the server from numbers only.
    if (chart && chart.innerHTML !== data.chartSvg) chart.innerHTML = data.chartSvg;
    root.setAttribute('data-live-active', data.live ? 'true' : 'false');
  }

  function schedule() {
    clearTimeout(timer);
    if (root.getAttribute('data-live-active') === 'true') timer = setTimeout(poll, INTERVAL_MS);
  }

  function poll() {
    if (document.hidden) return schedule();
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401) {
          window.location.reload();
          return null;
        }
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (data) apply(data);
      })
      .catch(function () {})
      .then(schedule);
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });
  schedule();
})();
