// suandian report: draws the charts of the run embedded in #run-data with ECharts, then writes
// #render-status (charts drawn, empty charts, errors, time to render) for the browser test.
(function () {
  'use strict';
  var tScript = performance.now();
  var doc = JSON.parse(document.getElementById('run-data').textContent);
  // Tooltips are HTML: every string from the run goes into them escaped.
  var esc = function (s) { return echarts.format.encodeHTML(String(s)); };
  var R = doc.report;
  var charts = [];
  var byId = {};
  var SITE_COLORS = ['#5470c6', '#91cc75', '#fac858', '#ee6666', '#73c0de', '#3ba272', '#fc8452',
    '#9a60b4', '#ea7ccc', '#2f4554', '#61a0a8', '#d48265'];
  var POLICY_COLORS = { 'asap': '#8c8c8c', 'carbon-wait': '#73c0de', 'greenest-site': '#3ba272',
    'coordinated': '#5470c6', 'oracle': '#9a60b4' };
  var FLOW = { green: '#52b043', battery: '#f2b134', grid: '#7d8ca3', thermal: '#c0504d' };
  var policyNames = doc.policies.map(function (p) { return p.name; });
  var siteNames = R.sites.map(function (s) { return s.name; });

  function policyColor(name, i) { return POLICY_COLORS[name] || SITE_COLORS[i % SITE_COLORS.length]; }
  function siteColor(i) { return SITE_COLORS[i % SITE_COLORS.length]; }
  function hoursLabel(h) {
    return new Date(R.start_ms + h * 3600000).toISOString().slice(5, 16).replace('T', ' ');
  }
  function run(name) {
    for (var i = 0; i < R.runs.length; i++) { if (R.runs[i].name === name) return R.runs[i]; }
    return R.runs[0];
  }
  function policy(name) {
    for (var i = 0; i < doc.policies.length; i++) { if (doc.policies[i].name === name) return doc.policies[i]; }
    return doc.policies[0];
  }
  function selected() { return document.getElementById('policy').value; }
  function draw(el, option) {
    option.animation = false;
    var c = byId[el.id];
    if (!c) {
      c = echarts.init(el, null, { renderer: 'canvas' });
      charts.push(c);
      byId[el.id] = c;
    }
    c.setOption(option, true);
    return c;
  }
  function div(parent, id, height, cls) {
    var d = document.createElement('div');
    d.id = id;
    d.className = 'chart' + (cls ? ' ' + cls : '');
    d.style.height = height + 'px';
    parent.appendChild(d);
    return d;
  }
  // Demand-response windows (hours since start) as shaded areas on a category time axis.
  function drAreas() {
    var ph = R.point_hours;
    return (R.demand_response || []).map(function (w) {
      var a = Math.max(0, Math.floor(w.from_h / ph)), b = Math.min(R.labels.length - 1, Math.floor(w.to_h / ph));
      return [{ xAxis: R.labels[a], name: w.name || 'demand response' }, { xAxis: R.labels[b] }];
    });
  }
  var timeAxis = { type: 'category', data: R.labels, boundaryGap: false,
    axisLabel: { interval: Math.max(0, Math.round(24 / R.point_hours) - 1), hideOverlap: true } };
  // The same axis for half-width charts: labels spaced automatically.
  var timeAxisAuto = { type: 'category', data: R.labels, boundaryGap: false };

  // --- headline: savings against asap -------------------------------------------------------
  function drawSavings() {
    var asap = policy('asap');
    var others = doc.policies.filter(function (p) { return p.name !== 'asap'; });
    // Curtailment avoided against asap, % of asap's curtailment (negative: curtails more).
    var avoidedPct = function (p) {
      var a = asap.metrics.curtailed_kwh;
      return a > 0 ? (a - p.metrics.curtailed_kwh) / a * 100 : 0;
    };
    var cats = ['carbon on equal work %', 'cost on equal work %', 'green share (points)', 'curtailment avoided %'];
    draw(document.getElementById('c-savings'), {
      title: { text: 'Saving against asap (positive = better)', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return v.toFixed(1); } },
      legend: { top: 0, right: 10 },
      grid: { left: 60, right: 20, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: cats },
      yAxis: { type: 'value' },
      series: others.map(function (p, i) {
        var s = p.savings_vs_asap_pct || {};
        return { name: p.name, type: 'bar', itemStyle: { color: policyColor(p.name, i) },
          label: { show: true, position: 'top', formatter: function (d) { return d.value.toFixed(1); } },
          data: [s.equal_work_carbon || 0, s.equal_work_cost || 0, s.green_share_points || 0, avoidedPct(p)] };
      })
    });
  }

  // --- fleet map and load per site ------------------------------------------------------------
  function drawFleet() {
    var p = policy(selected());
    var hours = R.horizon_h;
    var pts = R.sites.map(function (s, i) {
      var m = p.sites[i];
      return { name: s.name, value: [s.lon, s.lat, m.facility_kwh / hours / 1000, m.green_share * 100] };
    });
    var maxMw = Math.max.apply(null, pts.map(function (d) { return d.value[2]; }).concat([1e-9]));
    draw(document.getElementById('c-map'), {
      title: { text: 'Sites under ' + p.name + ' (longitude, latitude)', textStyle: { fontSize: 13 } },
      tooltip: { formatter: function (d) {
        return esc(d.name) + '<br>mean load ' + d.value[2].toFixed(2) + ' MW<br>green share ' + d.value[3].toFixed(1) + ' %';
      } },
      grid: { left: 50, right: 90, top: 40, bottom: 40 },
      xAxis: { type: 'value', name: '° E', scale: true, splitLine: { lineStyle: { type: 'dashed' } } },
      yAxis: { type: 'value', name: '° N', scale: true, splitLine: { lineStyle: { type: 'dashed' } } },
      visualMap: { dimension: 3, min: 0, max: 60, calculable: true, right: 0, top: 'middle',
        text: ['green %', ''], inRange: { color: ['#7d8ca3', '#c6e48b', '#2e8b3a'] } },
      series: [{ type: 'scatter', data: pts,
        symbolSize: function (v) { return 12 + 58 * Math.sqrt(v[2] / maxMw); },
        label: { show: true, position: 'right', formatter: function (d) {
          return d.name + '\n' + d.value[2].toFixed(1) + ' MW, ' + d.value[3].toFixed(0) + ' %';
        } },
        labelLayout: { hideOverlap: false, moveOverlap: 'shiftY' },
        itemStyle: { borderColor: '#333', borderWidth: 1, opacity: 0.85 } }]
    });
    draw(document.getElementById('c-fleet-bars'), {
      title: { text: 'Mean facility load per site, MW', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return v.toFixed(2) + ' MW'; } },
      legend: { top: 22 },
      grid: { left: 50, right: 20, top: 70, bottom: 60 },
      xAxis: { type: 'category', data: siteNames, axisLabel: { rotate: 30 } },
      yAxis: { type: 'value', name: 'MW' },
      series: doc.policies.map(function (q, i) {
        return { name: q.name, type: 'bar', itemStyle: { color: policyColor(q.name, i) },
          data: q.sites.map(function (m) { return m.facility_kwh / hours / 1000; }) };
      })
    });
  }

  // --- per-site supply stacks ----------------------------------------------------------------
  function drawSites() {
    var box = document.getElementById('site-charts');
    var r = run(selected());
    R.sites.forEach(function (s, i) {
      var el = document.getElementById('c-site-' + i) || div(box, 'c-site-' + i, 280, 'half');
      var d = r.sites[i];
      var area = function (name, data, color) {
        return { name: name, type: 'line', stack: 'supply', areaStyle: { opacity: 0.85 }, symbol: 'none',
          emphasis: { disabled: true },
          lineStyle: { width: 0 }, itemStyle: { color: color }, data: data };
      };
      var series = [
        area('direct green', d.green, FLOW.green),
        area('battery', d.battery, FLOW.battery),
        area('grid', d.grid, FLOW.grid),
        area('thermal', d.thermal, FLOW.thermal),
        { name: 'facility load', type: 'line', symbol: 'none', itemStyle: { color: '#111' },
          lineStyle: { width: 1.5, type: 'dashed' }, data: d.load },
        { name: 'carbon (g/kWh, right)', type: 'line', yAxisIndex: 1, symbol: 'none', itemStyle: { color: '#8b4513' },
          lineStyle: { width: 1 }, data: s.carbon },
        { name: 'price (' + doc.currency + '/MWh, far right)', type: 'line', yAxisIndex: 2, symbol: 'none', itemStyle: { color: '#d48265' },
          lineStyle: { width: 1, type: 'dotted' }, data: s.price }
      ];
      var dr = drAreas();
      if (dr.length) { series[0].markArea = { itemStyle: { color: 'rgba(255,0,0,0.08)' }, data: dr }; }
      draw(el, {
        title: { text: s.name + ' (' + s.region + ') under ' + r.name, textStyle: { fontSize: 13 } },
        tooltip: { trigger: 'axis', valueFormatter: function (v) { return v == null ? '-' : (+v).toFixed(2); } },
        legend: { top: 20, itemWidth: 14, textStyle: { fontSize: 10 } },
        grid: { left: 50, right: 100, top: 60, bottom: 30 },
        xAxis: timeAxis,
        yAxis: [
          { type: 'value', name: 'MW' },
          { type: 'value', position: 'right', splitLine: { show: false }, axisLine: { show: true, lineStyle: { color: '#8b4513' } } },
          { type: 'value', position: 'right', offset: 48, splitLine: { show: false }, axisLine: { show: true, lineStyle: { color: '#d48265' } } }
        ],
        series: series
      });
    });
  }

  // --- heat map of busy accelerators: one grid per policy, in one chart ----------------------
  function drawHeatmaps() {
    var rowH = 16, gap = 46, top0 = 36;
    var bandH = rowH * R.sites.length;
    var titles = [], grids = [], xs = [], ys = [], series = [];
    R.runs.forEach(function (r, k) {
      var top = top0 + k * (bandH + gap);
      var data = [];
      r.sites.forEach(function (s, i) {
        s.busy.forEach(function (v, t) { data.push([t, i, Math.round(v * 1000) / 10]); });
      });
      titles.push({ text: r.name, top: top - 20, left: 0, textStyle: { fontSize: 12 } });
      grids.push({ left: 100, right: 90, top: top, height: bandH });
      xs.push({ type: 'category', gridIndex: k, data: R.labels, axisTick: { show: false },
        axisLabel: { interval: Math.max(0, Math.round(24 / R.point_hours) - 1), fontSize: 10 } });
      ys.push({ type: 'category', gridIndex: k, data: siteNames, inverse: true, axisTick: { show: false },
        axisLabel: { fontSize: 10 } });
      series.push({ name: r.name, type: 'heatmap', xAxisIndex: k, yAxisIndex: k, data: data, progressive: 0,
        emphasis: { disabled: true } });
    });
    var el = document.getElementById('c-heat');
    el.style.height = (top0 + R.runs.length * (bandH + gap)) + 'px';
    draw(el, {
      title: titles,
      tooltip: { formatter: function (d) {
        return esc(d.seriesName) + ': ' + esc(siteNames[d.value[1]]) + ' ' + esc(R.labels[d.value[0]]) + ' UTC, ' + d.value[2] + ' % busy';
      } },
      grid: grids, xAxis: xs, yAxis: ys,
      visualMap: { min: 0, max: 100, calculable: false, orient: 'vertical', right: 0, top: top0,
        itemHeight: 120, text: ['100 % busy', '0'], seriesIndex: series.map(function (_, k) { return k; }),
        inRange: { color: ['#f7fbff', '#6baed6', '#08306b'] } },
      series: series
    });
  }

  // --- Gantt of the largest jobs -------------------------------------------------------------
  function drawGantt() {
    var r = run(selected());
    var jobs = R.gantt_jobs;
    var cats = jobs.map(function (j) { return j.id + ' (' + j.accelerators + ')'; });
    var bySite = R.sites.map(function () { return []; });
    r.gantt.forEach(function (b) { bySite[b[1]].push([b[0], b[2], b[3], b[1]]); });
    var renderBar = function (params, api) {
      var y = api.value(0), from = api.coord([api.value(1), y]), to = api.coord([api.value(2), y]);
      var h = api.size([0, 1])[1] * 0.6;
      var shape = echarts.graphic.clipRectByRect(
        { x: from[0], y: from[1] - h / 2, width: Math.max(1, to[0] - from[0]), height: h },
        { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height });
      return shape && { type: 'rect', transition: [], shape: shape, style: api.style() };
    };
    var series = R.sites.map(function (s, i) {
      return { name: s.name, type: 'custom', renderItem: renderBar, itemStyle: { color: siteColor(i) },
        encode: { x: [1, 2], y: 0 }, data: bySite[i] };
    });
    series.push({ name: 'arrival', type: 'scatter', symbol: 'rect', symbolSize: [2, 14], itemStyle: { color: '#333' },
      data: jobs.map(function (j, k) { return [j.arrival_h, k]; }) });
    series.push({ name: 'deadline', type: 'scatter', symbol: 'rect', symbolSize: [2, 14], itemStyle: { color: '#d62728' },
      data: jobs.filter(function (j) { return j.deadline_h != null; })
        .map(function (j) { return [j.deadline_h, jobs.indexOf(j)]; }) });
    draw(document.getElementById('c-gantt'), {
      title: { text: 'The ' + jobs.length + ' largest jobs under ' + r.name + ' (accelerators)', textStyle: { fontSize: 13 } },
      tooltip: { formatter: function (d) {
        if (d.seriesType === 'custom') {
          return esc(cats[d.value[0]]) + ' at ' + esc(siteNames[d.value[3]]) + '<br>' + hoursLabel(d.value[1]) + ' to ' + hoursLabel(d.value[2]) + ' UTC';
        }
        return esc(cats[d.value[1]]) + ' ' + esc(d.seriesName) + ' ' + hoursLabel(d.value[0]) + ' UTC';
      } },
      legend: { top: 22, type: 'scroll' },
      grid: { left: 150, right: 30, top: 60, bottom: 30 },
      xAxis: { type: 'value', min: 0, max: R.horizon_h, interval: 24,
        axisLabel: { formatter: function (h) { return hoursLabel(h); } } },
      yAxis: { type: 'category', data: cats, inverse: true, axisLabel: { fontSize: 10 } },
      series: series
    });
  }

  function drawDelays() {
    draw(document.getElementById('c-delays'), {
      title: { text: 'Jobs per delay bin (log scale)', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis' },
      legend: { top: 0, right: 10 },
      grid: { left: 60, right: 20, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: R.delay_bins },
      yAxis: { type: 'log', min: 1, name: 'jobs' },
      series: R.runs.map(function (r, i) {
        return { name: r.name, type: 'bar', itemStyle: { color: policyColor(r.name, i) },
          data: r.delays.map(function (v) { return v > 0 ? v : '-'; }) };
      })
    });
  }

  // --- battery and curtailment ---------------------------------------------------------------
  function drawStorage() {
    var r = run(selected());
    var series = [];
    R.sites.forEach(function (s, i) {
      if (!s.battery_mwh) return;
      series.push({ name: s.name, type: 'line', symbol: 'none', itemStyle: { color: siteColor(i) },
        data: r.sites[i].soc.map(function (v) { return Math.round(v / s.battery_mwh * 1000) / 10; }) });
    });
    var dr = drAreas();
    document.getElementById('dr-count').textContent = dr.length ? dr.length + ' windows' : 'none';
    if (series.length && dr.length) { series[0].markArea = { itemStyle: { color: 'rgba(255,0,0,0.08)' }, data: dr }; }
    var empty = !series.length;
    draw(document.getElementById('c-soc'), {
      title: { text: empty ? 'No batteries in this scenario' : 'Battery state of charge under ' + r.name + ', % of capacity',
        textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis' },
      legend: { top: 22 },
      grid: { left: 50, right: 20, top: 60, bottom: 30 },
      xAxis: timeAxis,
      yAxis: { type: 'value', min: 0, max: 100, name: '%' },
      series: series
    });
    draw(document.getElementById('c-curtail'), {
      title: { text: 'Fleet curtailment, MW (lower = more green absorbed)', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return (+v).toFixed(2) + ' MW'; } },
      legend: { top: 22 },
      grid: { left: 50, right: 20, top: 60, bottom: 30 },
      xAxis: timeAxisAuto,
      yAxis: { type: 'value', name: 'MW' },
      series: R.runs.map(function (q, i) {
        var sum = R.labels.map(function (_, t) {
          var x = 0; q.sites.forEach(function (s) { x += s.curtail[t]; }); return Math.round(x * 1000) / 1000;
        });
        return { name: q.name, type: 'line', symbol: 'none', lineStyle: { width: 1.2 },
          itemStyle: { color: policyColor(q.name, i) }, data: sum };
      })
    });
    var green = R.sites.map(function (s, i) { return i; }).filter(function (i) {
      return doc.policies[0].sites[i].green_available_kwh > 0;
    });
    draw(document.getElementById('c-absorbed'), {
      title: { text: 'Green energy curtailed per site, MWh (lower = more absorbed)', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return (+v).toFixed(1) + ' MWh'; } },
      legend: { top: 22 },
      grid: { left: 50, right: 20, top: 60, bottom: 30 },
      xAxis: { type: 'category', data: green.map(function (i) { return siteNames[i]; }) },
      yAxis: { type: 'value', name: 'MWh' },
      series: doc.policies.map(function (q, k) {
        return { name: q.name, type: 'bar', itemStyle: { color: policyColor(q.name, k) },
          data: green.map(function (i) { return q.sites[i].curtailed_kwh / 1000; }) };
      })
    });
  }

  function drawSelected() {
    drawFleet();
    drawSites();
    drawGantt();
    drawStorage();
  }

  // Every chart drawn with a visible, non-blank canvas? Reported for the browser test.
  function status(ms, scriptMs) {
    var drawn = 0, empty = 0, names = [];
    document.querySelectorAll('div.chart').forEach(function (el) {
      var cv = el.querySelector('canvas');
      var ok = false;
      if (cv && cv.width > 0 && cv.height > 0) {
        var px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        for (var i = 3; i < px.length; i += 4 * 13) { if (px[i] > 0) { ok = true; break; } }
      }
      if (ok) { drawn++; } else { empty++; names.push(el.id); }
    });
    var st = document.getElementById('render-status');
    st.setAttribute('data-charts', drawn);
    st.setAttribute('data-empty', empty);
    st.setAttribute('data-empty-ids', names.join(' '));
    st.setAttribute('data-errors', window.__errors.length);
    st.setAttribute('data-error-messages', window.__errors.join(' | '));
    st.setAttribute('data-ms', ms.toFixed(0));
    st.setAttribute('data-script-ms', scriptMs.toFixed(0));
    st.setAttribute('data-timings', timings.join(' '));
    st.textContent = drawn + ' charts drawn in ' + ms.toFixed(0) + ' ms' +
      (empty ? ', ' + empty + ' empty' : '') + (window.__errors.length ? ', ' + window.__errors.length + ' errors' : '');
  }

  var timings = [];
  function timed(name, f) {
    var t = performance.now();
    f();
    timings.push(name + ':' + (performance.now() - t).toFixed(0));
  }
  try {
    timed('savings', drawSavings);
    timed('heatmaps', drawHeatmaps);
    timed('delays', drawDelays);
    timed('fleet', drawFleet);
    timed('sites', drawSites);
    timed('gantt', drawGantt);
    timed('storage', drawStorage);
  } catch (e) {
    window.__errors.push(String(e && e.stack || e));
  }
  var tDrawn = performance.now();
  status(tDrawn, tScript);
  document.getElementById('policy').addEventListener('change', function () { drawSelected(); });
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
})();
