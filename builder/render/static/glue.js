/* The article's glue. Each section has one state (its step, hovered neuron, run and the other
   params its charts share); charts are views of it. A chart is embedded when it comes near the
   viewport (its spec and tables are files loaded then), one step of one chart per main-thread
   task, its static image holding its place; it starts from the section's state, and a chart far
   from the viewport is finalized again. The glue also shows live values in the prose, plays
   animate buttons, scrubs with the keyboard, makes taps pick marks, and opens popups.
   No framework; the charts' own behaviour lives in their Vega specs. */
(function () {
  "use strict";
  var dataEl = document.getElementById("article-data");
  var page = dataEl ? JSON.parse(dataEl.textContent) : { charts: {}, sections: {}, animations: {}, live: {} };
  var state = {};        // section -> {step, neuron, run, ...}: what every chart of it shows
  var live = {};         // chart id -> {id, section, view, el (frame), box, has, run, spec}
  var saved = {};        // chart id -> its own inputs' values while it is not embedded
  var placeholders = {}; // chart id -> its static image and inputs, put back when it is unloaded
  var current = {}, hovered = {};  // section -> step, section -> neuron (read by tests and bench)
  var near = {}, pinned = false, timing = { ready: {} };
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : { matches: false };
  Object.keys(page.sections).forEach(function (s) { current[s] = page.sections[s].initial; sectionState(s).step = current[s]; });

  function sectionState(s) { return state[s] || (state[s] = {}); }
  function chartsOf(section) { return Object.keys(page.charts).filter(function (id) { return page.charts[id].section === section; }); }
  function named(items, name) { return (items || []).filter(function (x) { return x.name === name; })[0]; }
  function tick() { return new Promise(function (resolve) { setTimeout(resolve, 0); }); }  // the next task
  function theme() {
    var fg = dark.matches ? "#d8d6d0" : "#3a3d41", grid = dark.matches ? "#34383e" : "#e4e4de";
    return {
      background: null,
      axis: { labelColor: fg, titleColor: fg, domainColor: fg, tickColor: fg, gridColor: grid },
      legend: { labelColor: fg, titleColor: fg }, title: { color: fg, subtitleColor: fg },
      text: { fill: fg }, view: { stroke: null },
      // Vega cancels the default of every event it listens to; a cancelled touchstart stops a
      // finger from scrolling the page (or a wide chart's frame) and a tap from becoming a click
      events: { defaults: { allow: ["wheel", "touchstart", "touchmove", "touchend"] } }
    };
  }

  /* ---- chart text readable in both themes: a text mark's colour is moved toward the page's
     ink until it has 4.5:1 contrast with the page (WCAG AA); text drawn on another mark
     (mark style "on-mark": labels on cells and dots) keeps its colour --------------------- */
  var probe = document.createElement("canvas").getContext("2d"), inks = {};
  function rgb(color) {  // any CSS colour -> [r, g, b] (0-255), through the canvas's parser
    probe.fillStyle = "#000"; probe.fillStyle = color;
    var c = probe.fillStyle;
    if (c[0] === "#") return [1, 3, 5].map(function (i) { return parseInt(c.substr(i, 2), 16); });
    return c.replace(/[^\d.,]/g, "").split(",").slice(0, 3).map(Number);
  }
  function luminance(c) {
    var l = c.map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
  }
  function contrast(a, b) { var x = luminance(a), y = luminance(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  function ink(color) {
    var key = (dark.matches ? "d" : "l") + color;
    if (key in inks || typeof color !== "string") return key in inks ? inks[key] : color;
    var styles = getComputedStyle(document.body), bg = rgb(styles.backgroundColor), fg = rgb(styles.color);
    var c = rgb(color), out = c;
    for (var t = 0; t <= 1.001 && contrast(out, bg) < 4.5; t += 0.05) {
      out = c.map(function (v, i) { return Math.round(v + (fg[i] - v) * t); });
    }
    return (inks[key] = "#" + out.map(function (v) { return (v < 16 ? "0" : "") + v.toString(16); }).join(""));
  }
  if (window.vega && vega.expressionFunction) vega.expressionFunction("ink", ink);
  function inked(fill) {  // a text mark's fill encoding, through ink()
    if (Array.isArray(fill)) return fill.map(inked);
    if (!fill || typeof fill !== "object") return fill;
    var out = Object.assign({}, fill), ref;
    delete out.value; delete out.signal; delete out.scale; delete out.field;
    if ("value" in fill && !fill.scale) { out.value = ink(fill.value); return out; }
    if (fill.signal && !fill.scale) ref = fill.signal;
    else if (fill.scale && fill.field !== undefined) ref = "scale(" + JSON.stringify(fill.scale) + ", datum[" + JSON.stringify(fill.field) + "])";
    else if (fill.scale && "value" in fill) ref = "scale(" + JSON.stringify(fill.scale) + ", " + JSON.stringify(fill.value) + ")";
    else return fill;
    out.signal = "ink(" + ref + ")";
    return out;
  }
  function themed(marks) {  // the marks, their text's fills inked (nested groups too)
    return (marks || []).map(function (m) {
      var style = [].concat(m.style || []);
      if (m.type === "group") return Object.assign({}, m, { marks: themed(m.marks) });
      if (m.type !== "text" || style.indexOf("on-mark") >= 0 || !m.encode) return m;
      var encode = {};
      Object.keys(m.encode).forEach(function (set) {
        var e = m.encode[set];
        encode[set] = e && e.fill ? Object.assign({}, e, { fill: inked(e.fill) }) : e;
      });
      return Object.assign({}, m, { encode: encode });
    });
  }

  /* ---- section state: `step` (scrubbing), `neuron` (hover) and shared params --------- */
  function broadcast(section, name, value, from) {
    Object.keys(live).forEach(function (id) {
      var v = live[id];
      if (v.section !== section || v.view === from || !v.has[name]) return;
      if (name === "step" && page.charts[id].follow === false) return;  // a scrub source only
      if (v.view.signal(name) !== value) v.view.signal(name, value).run();  // the redraw lands in this frame
    });
  }
  function setStep(section, value, from) {
    if (current[section] === value) return;
    current[section] = sectionState(section).step = value;
    broadcast(section, "step", value, from);
    remember(section, from);
    Array.prototype.forEach.call(document.querySelectorAll('.chart.scrub[data-section="' + section + '"] .chart-frame'), function (el) {
      el.setAttribute("aria-valuenow", value);
      el.setAttribute("aria-valuetext", "step " + value.toLocaleString("en"));
    });
    wake(section);
  }
  function setNeuron(section, value, from) {
    if (hovered[section] === value) return;
    hovered[section] = sectionState(section).neuron = value;
    broadcast(section, "neuron", value, from);
  }
  function setShared(section, name, value, from) {
    var st = sectionState(section);
    if (st[name] === value) return;
    st[name] = value;
    broadcast(section, name, value, from);
    remember(section, from);
    if (name === "run") chartsOf(section).forEach(function (id) {  // redraw with that run's data
      if (stale(id)) { live[id].el.setAttribute("aria-busy", "true"); request(id, true); }
    });
    wake(section);
  }
  function stale(id) {  // embedded, but with another run than the section's, or another layout than the width's
    var run = sectionState(page.charts[id].section).run;
    return !!(live[id] && ((page.charts[id].variants && run !== undefined && live[id].run !== run) || live[id].narrow !== narrow(id)));
  }
  /* ---- layouts: a chart too wide for a phone has a narrow one (charts/<id>.narrow.js), drawn
     while its media query matches, as its placeholder's <picture> shows; when that changes
     (a phone turned, a window resized) the chart is embedded again, keeping its inputs ------ */
  var media = {};
  function narrow(id) {
    var info = page.charts[id];
    if (!info.narrow || !window.matchMedia) return false;
    if (!media[id]) {
      media[id] = window.matchMedia(info.narrow.media);
      var changed = function () { if (stale(id)) { keep(live[id]); request(id); } };
      if (media[id].addEventListener) media[id].addEventListener("change", changed); else media[id].addListener(changed);
    }
    return media[id].matches;
  }
  function keep(entry) {  // the chart's own inputs' values, for its next embedding
    saved[entry.id] = {};
    entry.spec.signals.forEach(function (s) { if (s.bind) saved[entry.id][s.name] = entry.view.signal(s.name); });
  }

  /* ---- loading: charts/<id>.js, charts/shared/<key>.js, data/<chart>/<key>.js; a script
     tag, which (unlike fetch) works from file:// ------------------------------------------ */
  var loading = {};
  function load(name) {
    if (!loading[name]) loading[name] = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = name + ".js";
      script.onload = function () { resolve(window.ARTICLE_DATA[name.replace(/^data\//, "")]); };
      script.onerror = function () { delete loading[name]; reject(new Error("cannot load " + script.src)); };
      document.head.appendChild(script);
    });
    return loading[name];
  }
  function forget(name) {  // an unloaded chart's spec: loaded again when it comes back
    delete loading[name];
    if (window.ARTICLE_DATA) delete window.ARTICLE_DATA[name];
    var script = document.querySelector('script[src="' + name + '.js"]');
    if (script) script.parentNode.removeChild(script);
  }

  /* ---- the embedding queue: one chart at a time, each step in its own task ------------- */
  var queue = [], urgent = {}, busy = false, waiters = {}, ready = false;
  function request(id, first, again) {  // resolves once the chart shows the section's state
    return new Promise(function (resolve) {
      if (live[id] && !stale(id) && !again) return resolve();
      (waiters[id] = waiters[id] || []).push(resolve);
      if (queue.indexOf(id) < 0) queue.push(id);
      if (first) urgent[id] = true;
      pump();
    });
  }
  function next() {  // urgent charts first (in the order asked), then the nearest to the eye
    var pick = queue.filter(function (id) { return urgent[id]; })[0];
    if (!pick) {
      var mid = window.innerHeight / 2, best = Infinity;
      queue.forEach(function (id) {
        var r = document.getElementById(id).getBoundingClientRect();
        var d = Math.max(0, r.top - mid, mid - r.bottom);
        if (d < best) { best = d; pick = id; }
      });
    }
    queue.splice(queue.indexOf(pick), 1);
    delete urgent[pick];
    return pick;
  }
  function pump() {
    if (busy) return;
    if (!queue.length) {
      if (!ready) { ready = true; document.documentElement.setAttribute("data-charts-ready", "true"); }
      return;
    }
    busy = true;
    var id = next();
    embed(id).catch(function (err) {
      var fig = document.getElementById(id);
      fig.querySelector(".chart-frame").removeAttribute("aria-busy");
      fig.querySelector(".vega").insertAdjacentHTML("beforeend", '<p class="chart-error">This chart could not be drawn: ' +
        String(err).replace(/</g, "&lt;") + "</p>");
      if (window.console) console.error(err);
    }).then(function () {
      busy = false;
      if (stale(id)) {  // the run (or layout) changed while it was being embedded: again, with the new one
        keep(live[id]);
        urgent[id] = true;
        if (queue.indexOf(id) < 0) queue.push(id);
      } else (waiters[id] || []).splice(0).forEach(function (resolve) { resolve(); });
      setTimeout(pump, 0);
    });
  }
  function embed(id) {
    var info = page.charts[id], section = info.section, fig = document.getElementById(id);
    var holder = fig.querySelector(".vega"), st = sectionState(section);
    var small = narrow(id), name = "charts/" + id + (small ? ".narrow" : ""), keys = small ? info.narrow.tables : info.tables;
    var spec, tables = {}, run, view, box, entry;
    return Promise.all([load(name)].concat(keys.map(function (k) { return load("charts/shared/" + k); })))
      .then(function (parts) {
        spec = parts[0];
        keys.forEach(function (k, i) { tables[k] = parts[i + 1]; });
        var runSignal = named(spec.signals, "run");
        run = runSignal ? runSignal.value : undefined;
        if (!info.variants || st.run === undefined) return null;  // the run the spec carries
        run = st.run;
        return load("data/" + id + "/run-" + run);
      }).then(function (variant) {  // task 1: parse, with the run's tables and signals swapped in
        var data = (spec.data || []).map(function (d) {
          var values = d.values && d.values.shared ? tables[d.values.shared] : d.values;
          if (variant && variant.data && variant.data[d.name]) values = variant.data[d.name];
          return values === d.values ? d : Object.assign({}, d, { values: values });
        });
        var signals = (spec.signals || []).map(function (s) {
          var v = variant && variant.signals;
          return v && s.name in v ? Object.assign({}, s, { value: v[s.name] }) : s;
        });
        var runtime = vega.parse(Object.assign({}, spec, { data: data, signals: signals, marks: themed(spec.marks) }), theme());
        return tick().then(function () { return runtime; });
      }).then(function (runtime) {  // task 2: the view, drawn hidden over what is shown now
        box = document.createElement("div");
        box.className = "chart-live embedding";
        holder.appendChild(box);
        view = new vega.View(runtime, { renderer: "canvas" }).tooltip(tooltip);
        view.initialize(box);
        entry = { id: id, section: section, view: view, el: fig.querySelector(".chart-frame"), box: box, run: run, spec: spec, has: {},
                  name: name, narrow: small };
        (spec.signals || []).forEach(function (s) { entry.has[s.name] = true; });
        var mine = saved[id] || {};  // its own inputs first, then the section's state
        Object.keys(mine).forEach(function (name) {
          var v = allowed(spec, name, mine[name], info);
          if (v === undefined) delete mine[name]; else view.signal(name, v);
        });
        Object.keys(st).forEach(function (name) {
          if (!entry.has[name] || (name === "step" && info.follow === false)) return;
          var v = allowed(spec, name, st[name], info);  // a value from a link may be out of range: dropped
          if (v === undefined) delete st[name]; else view.signal(name, v);
        });
        return tick();
      }).then(function () { return view.runAsync(); })  // task 3: dataflow and first paint
      .then(tick).then(function () {  // task 4: swap it in
        Array.prototype.slice.call(holder.children).forEach(function (child) {
          if (child === box) return;
          if (child.classList.contains("chart-placeholder")) placeholders[id] = child;
          holder.removeChild(child);
        });
        if (live[id]) { unbind(live[id]); live[id].view.finalize(); if (live[id].name !== name) forget(live[id].name); }
        box.classList.remove("embedding");
        ["tabindex", "role", "aria-label", "aria-roledescription"].forEach(function (a) { box.removeAttribute(a); });
        live[id] = entry;
        attach(entry);
        bindLive(entry);
        if (!stale(id)) {
          entry.el.removeAttribute("aria-busy");
          timing.ready[id] = performance.now();  // interactive, with the state it was asked for
        }
        if (!timing.firstChart) { timing.firstChart = performance.now(); if (performance.mark) performance.mark("first-chart-interactive"); }
      }, function (err) {
        if (box && box.parentNode) box.parentNode.removeChild(box);
        if (view) view.finalize();
        throw err;
      });
  }
  function unload(id) {  // far from the viewport: free the view, keep its inputs' values
    var entry = live[id];
    if (!entry || pinned) return;
    keep(entry);
    unbind(entry);
    entry.view.finalize();
    delete live[id];
    entry.box.parentNode.replaceChild(placeholders[id], entry.box);
    forget(entry.name);
  }
  /* ---- what each kind of interaction (builder/render/interactions.py) does once a chart is
     live: one function per kind, given the chart and its entry in the page data ----------- */
  var kinds = {
    step: function (entry) {  // scrubbing: the chart's step is the section's
      if (entry.has.step) entry.view.addSignalListener("step", function (_, value) { setStep(entry.section, value, entry.view); });
    },
    neuron: function (entry) {  // hover: the hovered neuron is the section's
      if (entry.has.neuron) entry.view.addSignalListener("neuron", function (_, value) { setNeuron(entry.section, value, entry.view); });
    },
    shares: function (entry, info) {  // params kept equal across the section
      info.shares.forEach(function (name) {
        entry.view.addSignalListener(name, function (_, value) { setShared(entry.section, name, value, entry.view); });
      });
    },
    limits: function (entry, info) {  // [input name, min, max]: numbers or signals
      info.limits.forEach(function (lim) {
        var input = entry.el.querySelector('input[name="' + lim[0] + '"]'), view = entry.view;
        if (!input) return;
        [[lim[1], "min"], [lim[2], "max"]].forEach(function (pair) {
          if (pair[0] === null) return;
          if (typeof pair[0] === "number") { input.setAttribute(pair[1], pair[0]); return; }
          var apply = function () { input.setAttribute(pair[1], view.signal(pair[0])); };
          apply();
          view.addSignalListener(pair[0], apply);
        });
      });
    },
    mirrors: function (entry, info) {  // [source signal, target param] pairs
      var view = entry.view, mirroring = false;
      function mirror() {  // after the whole pulse: a listener can run before the other sources update
        mirroring = false;
        var changed = false;
        info.mirrors.forEach(function (m) {
          var value = view.signal(m[0]);
          if (view.signal(m[1]) !== value) { view.signal(m[1], value); changed = true; }
        });
        if (changed) view.runAsync();
      }
      info.mirrors.forEach(function (pair) {
        view.addSignalListener(pair[0], function () { if (!mirroring) { mirroring = true; view.runAfter(mirror); } });
      });
    },
    demand: function (entry) {  // on-demand data: the pointed-at key's file into the `demand` table
      var id = entry.id, view = entry.view;
      if (entry.has.demand) view.addSignalListener("demand", function (_, key) {
        if (key) load("data/" + id + "/" + key).then(function (rows) {
          if (live[id] === entry && view.signal("demand") === key) view.data("demand", rows).run();
        });
      });
    }
  };  // (other runs, `variants`, are swapped in when the chart is embedded: see embed and stale)
  function attach(entry) {
    Object.keys(kinds).forEach(function (kind) { kinds[kind](entry, page.charts[entry.id]); });
  }

  /* ---- tooltips: a value or a {field: value} object beside the pointer -------------------- */
  var tip = null;
  function tooltip(handler, event, item, value) {
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "vega-tooltip";
      tip.setAttribute("role", "tooltip");
      document.body.appendChild(tip);
    }
    if (value === undefined || value === null || value === "" || !event) { tip.hidden = true; return; }
    tip.textContent = "";
    if (typeof value === "object") Object.keys(value).forEach(function (k) {
      var row = document.createElement("div"), key = document.createElement("b");
      key.textContent = k === "title" ? "" : k + ": ";
      row.appendChild(key);
      row.appendChild(document.createTextNode(String(value[k])));
      tip.appendChild(row);
    }); else tip.textContent = String(value);
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight, vw = document.documentElement.clientWidth;
    var x = event.clientX + 12, y = event.clientY + 12;
    if (x + w > vw - 4) x = Math.max(4, event.clientX - w - 12);
    if (y + h > window.innerHeight - 4) y = Math.max(4, event.clientY - h - 12);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }

  /* ---- live values in the prose: <output data-section data-signal>, and blocks shown
     only while a signal has one value: <div class="when" ... data-value>; each follows the
     chart that computes it (page.live), which is embedded when its section changes --------- */
  var outputs = Array.prototype.slice.call(document.querySelectorAll("output.live, div.when"));
  function bindLive(entry) {
    outputs.forEach(function (out) {
      var signal = out.getAttribute("data-signal");
      if (page.live[out.getAttribute("data-section") + "." + signal] !== entry.id) return;
      var value = out.getAttribute("data-value"), view = entry.view;
      var write = value === null
        ? function () { out.textContent = String(view.signal(signal)); }
        : function () { out.hidden = String(view.signal(signal)) !== value; };
      out.source = entry;
      write();
      view.addSignalListener(signal, write);
    });
  }
  function unbind(entry) { outputs.forEach(function (out) { if (out.source === entry) out.source = null; }); }
  function wake(section) {  // the section changed: a value it shows in the prose must follow
    outputs.forEach(function (out) {
      if (out.source || out.getAttribute("data-section") !== section) return;
      var id = page.live[section + "." + out.getAttribute("data-signal")];
      if (id && !live[id]) request(id, true);
    });
  }

  /* ---- taps: Vega gives a click the item under the last pointermove, and only if the
     pointer went down on that same item; a finger moves no pointer, so just before a tap's
     click the page puts Vega's pointer down where the finger is, and lifts it afterwards
     (no tooltip left behind) --------------------------------------------------------- */
  var lastPointer = "mouse";  // the last real pointer: "mouse", "touch" or "pen"
  function touchAt(ev, type) {
    ev.target.dispatchEvent(new PointerEvent(type, { bubbles: true, clientX: ev.clientX, clientY: ev.clientY,
      pointerType: "touch", isPrimary: true }));
  }
  document.addEventListener("pointerdown", function (ev) { if (ev.isTrusted) lastPointer = ev.pointerType; }, true);
  document.addEventListener("click", function (ev) {
    if (lastPointer !== "touch" || !ev.isTrusted || ev.target.tagName !== "CANVAS") return;
    touchAt(ev, "pointermove");
    touchAt(ev, "pointerdown");
    setTimeout(function () { touchAt(ev, "pointerout"); }, 0);
  }, true);

  /* ---- keyboard scrubbing (works on the section's state, embedded or not) ----------- */
  function neighbour(section, delta) {
    var steps = page.sections[section].steps, now = current[section], i = 0;
    while (i < steps.length - 1 && steps[i] < now) i++;
    if (delta === Infinity) return steps[steps.length - 1];
    if (delta === -Infinity) return steps[0];
    return steps[Math.max(0, Math.min(steps.length - 1, i + delta))];
  }
  document.addEventListener("keydown", function (ev) {
    var el = ev.target.closest && ev.target.closest(".chart.scrub .chart-frame");
    if (!el) return;
    var section = el.parentNode.getAttribute("data-section");
    if (!page.sections[section]) return;
    var delta = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10,
                  Home: -Infinity, End: Infinity }[ev.key];
    if (delta === undefined) return;
    ev.preventDefault();
    stopAnimation();
    setStep(section, neighbour(section, delta), el.parentNode.id);
  });

  /* ---- animate buttons: the charts near the viewport are embedded (with the run the
     animation plays) before it starts -------------------------------------------------- */
  var playing = null;
  function stopAnimation() {
    if (!playing) return;
    cancelAnimationFrame(playing.frame);
    playing.button.setAttribute("aria-pressed", "false");
    playing = null;
  }
  function play(button) {
    var a = page.animations[button.getAttribute("data-animate")];
    var steps = page.sections[a.section].steps.filter(function (s) { return s >= a.start && s <= a.end; });
    var t0 = null, duration = a.seconds * 1000;
    stopAnimation();
    if (a.run) setShared(a.section, "run", a.run, null);
    button.setAttribute("aria-pressed", "true");
    playing = { button: button, frame: 0 };
    function frame(t) {
      if (!playing || playing.button !== button) return;
      if (t0 === null) t0 = t;
      var f = Math.min(1, (t - t0) / duration);
      setStep(a.section, steps[Math.round(f * (steps.length - 1))], null);
      if (f < 1) playing.frame = requestAnimationFrame(frame); else stopAnimation();
    }
    var needed = chartsOf(a.section).filter(function (id) { return near[id] || live[id]; });
    Promise.all(needed.map(function (id) { return request(id, true); })).then(function () {
      if (playing && playing.button === button) playing.frame = requestAnimationFrame(frame);
    });
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button.animate");
    if (!button) return;
    if (playing && playing.button === button) stopAnimation(); else play(button);
  });

  /* ---- popups for citations and footnotes --------------------------------------- */
  var popup = document.getElementById("popup"), owner = null, hideTimer = 0;
  function showPopup(trigger) {
    var source = document.getElementById(trigger.getAttribute("data-popup"));
    if (!source || !popup) return;
    clearTimeout(hideTimer);
    owner = trigger;
    popup.innerHTML = source.innerHTML;
    // a live chart cannot be cloned: a chart inside a footnote shows its static image here
    Array.prototype.forEach.call(popup.querySelectorAll("figure.chart"), function (fig) {
      var img = document.createElement("img");
      img.src = "figures/" + fig.getAttribute("data-chart") + ".svg";
      img.alt = fig.querySelector(".chart-frame").getAttribute("aria-label");
      img.className = "popup-chart";
      fig.parentNode.replaceChild(img, fig);
    });
    popup.hidden = false;
    popup.style.left = popup.style.top = "0px";
    var r = trigger.getBoundingClientRect(), p = popup.getBoundingClientRect();
    var vw = document.documentElement.clientWidth, vh = window.innerHeight, m = 8;
    var left = Math.min(Math.max(m, r.left + r.width / 2 - p.width / 2), vw - p.width - m);
    var top = r.bottom + m;
    if (top + p.height > vh - m) top = Math.max(m, r.top - p.height - m);
    popup.style.left = left + "px";
    popup.style.top = top + "px";
  }
  function hidePopup(delay) {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { if (popup) popup.hidden = true; owner = null; }, delay || 0);
  }
  function triggerOf(ev) { return ev.target.closest && ev.target.closest(".popup-trigger"); }
  document.addEventListener("mouseover", function (ev) {
    var t = triggerOf(ev);
    if (t) showPopup(t); else if (ev.target.closest && ev.target.closest("#popup")) clearTimeout(hideTimer);
  });
  document.addEventListener("mouseout", function (ev) {
    if (triggerOf(ev) || (ev.target.closest && ev.target.closest("#popup"))) hidePopup(300);
  });
  document.addEventListener("focusin", function (ev) { var t = triggerOf(ev); if (t) showPopup(t); });
  document.addEventListener("focusout", function (ev) { if (triggerOf(ev)) hidePopup(150); });
  // A tap fires pointerdown, then mouseover and focus (which open the popup), then click: so
  // whether this tap found the popup open is read at its pointerdown. A first tap opens it, a
  // second tap on the same number closes it; neither follows the link (without JavaScript, or
  // with a mouse or the keyboard, the link still leads to the list).
  var openAtDown = false;
  document.addEventListener("pointerdown", function (ev) {
    var t = triggerOf(ev);
    openAtDown = !!t && owner === t && popup && !popup.hidden;
  }, true);
  document.addEventListener("click", function (ev) {
    var t = triggerOf(ev);
    if (t && lastPointer !== "mouse") {
      ev.preventDefault();
      if (openAtDown) { hidePopup(0); if (t.blur) t.blur(); } else showPopup(t);
    } else if (!t && !(ev.target.closest && ev.target.closest("#popup"))) {
      hidePopup(0);
    }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hidePopup(0); });

  /* ---- print: each figure's static image is lazy and hidden on screen, so it is fetched
     only now (Chromium also loads lazy images before it prints) ------------------------ */
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("img.chart-print"), function (img) { img.loading = "eager"; });
  });

  /* ---- a display equation wider than the column scrolls sideways: while it does, it can
     be focused, so the keyboard can scroll it too (WCAG 2.1.1) ------------------------- */
  function scrollable() {
    Array.prototype.forEach.call(document.querySelectorAll(".math-display"), function (el) {
      if (el.scrollWidth > el.clientWidth + 1) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "group");
        el.setAttribute("aria-label", "equation, scrolls sideways");
      } else if (el.hasAttribute("tabindex")) {
        ["tabindex", "role", "aria-label"].forEach(function (a) { el.removeAttribute(a); });
      }
    });
  }
  var resizing = null;
  window.addEventListener("resize", function () { clearTimeout(resizing); resizing = setTimeout(scrollable, 150); });
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(scrollable); else scrollable();

  /* ---- the view in the address: "#<chart>&step=27000&run=seed33&a=5" names a chart and
     its section's state (step, run, shared params) and the chart's own inputs; changes are
     written with replaceState (no history entries), at most every 400 ms; a link opened
     restores what it can check (a step the section has, a run it has, a value its input
     allows) and ignores the rest. A control under each figure copies (or shows) its link -- */
  var lastChart = {}, addressTimer = 0, restoring = false;
  function allowed(spec, name, value, info) {  // value as the chart's input for `name` accepts it, or undefined
    var s = named(spec.signals, name), b = s && s.bind, lim = ((info && info.limits) || []).filter(function (l) { return l[0] === name; })[0];
    if (!b) return value;
    if (lim) b = Object.assign({}, b, typeof lim[1] === "number" ? { min: lim[1] } : {}, typeof lim[2] === "number" ? { max: lim[2] } : {});
    if (b.options) return b.options.filter(function (o) { return String(o) === String(value); })[0];
    if (b.input === "checkbox") return typeof value === "boolean" ? value : undefined;
    if (b.input === "range" || b.input === "number") {
      var x = Number(value);
      return isFinite(x) && !(b.min !== undefined && x < b.min) && !(b.max !== undefined && x > b.max) ? x : undefined;
    }
    return value;
  }
  function fragment(id) {
    var info = page.charts[id], st = sectionState(info.section), parts = [id], own = {};
    if (live[id]) live[id].spec.signals.forEach(function (s) { if (s.bind) own[s.name] = live[id].view.signal(s.name); });
    else Object.assign(own, saved[id] || {});
    Object.keys(st).forEach(function (k) { if (k !== "neuron" && st[k] !== undefined && st[k] !== null) own[k] = st[k]; });
    if (page.sections[info.section]) own.step = current[info.section];
    Object.keys(own).forEach(function (k) {
      if (own[k] !== undefined && own[k] !== null && typeof own[k] !== "object") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(own[k]));
    });
    return parts.join("&");
  }
  function address(id) { return location.href.split("#")[0] + "#" + fragment(id); }
  function remember(section, from) {  // `from`: the view (or chart id) the reader worked, if known
    if (restoring) return;
    var id = typeof from === "string" ? from : Object.keys(live).filter(function (k) { return live[k].view === from; })[0];
    if (id) lastChart[section] = id;
    clearTimeout(addressTimer);
    addressTimer = setTimeout(function () {
      var chart = lastChart[section] || chartsOf(section).filter(function (k) { return document.getElementById(k); })[0];
      if (chart) try { history.replaceState(history.state, "", "#" + fragment(chart)); } catch (e) { /* an address it refuses */ }
    }, 400);
  }
  function parsed(text) {  // a fragment value: a number, true/false or text
    return /^-?\d+(\.\d+)?(e-?\d+)?$/.test(text) ? Number(text) : text === "true" ? true : text === "false" ? false : text;
  }
  function restore() {  // the state a link names; returns the chart it names, or null
    var parts = location.hash.replace(/^#/, "").split("&"), id, values = {};
    try { id = decodeURIComponent(parts.shift()); } catch (e) { return null; }
    var info = page.charts.hasOwnProperty(id) && page.charts[id], el = document.getElementById(id);
    if (!info || !el || parts.length === 0) return null;
    parts.forEach(function (p) {
      var i = p.indexOf("=");
      try { if (i > 0) values[decodeURIComponent(p.slice(0, i))] = parsed(decodeURIComponent(p.slice(i + 1))); } catch (e) { /* skipped */ }
    });
    var section = info.section, sec = page.sections[section], shared = {};
    chartsOf(section).forEach(function (k) { (page.charts[k].shares || []).forEach(function (n) { shared[n] = true; }); });
    restoring = true;
    try {
      Object.keys(values).forEach(function (name) {
        var v = values[name];
        if (name === "step") { if (sec && sec.steps.indexOf(v) >= 0) setStep(section, v, null); }
        else if (name === "run") { if (sec && (sec.runs || []).indexOf(String(v)) >= 0) setShared(section, "run", String(v), null); }
        else if (name === "neuron" || name === "demand") return;
        else if (shared[name]) sectionState(section)[name] = v;  // checked against the input when drawn
        else (saved[id] = saved[id] || {})[name] = v;
      });
    } finally { restoring = false; }
    lastChart[section] = id;
    return id;
  }
  function share(link, cite) {  // the link (or citation) of the figure a caption control belongs to
    var fig = link.closest("figure.chart"), id = fig.id, url = address(id), box = fig.querySelector(".share-box");
    if (!box) {
      box = document.createElement("div");
      box.className = "share-box";
      fig.appendChild(box);
    }
    box.textContent = "";
    if (cite) {
      var code = document.querySelector("#cite code"), bib = code ? code.textContent : "";
      var pre = document.createElement("pre"), anchor = url.split("&")[0];
      pre.tabIndex = 0;
      pre.setAttribute("aria-label", "BibTeX of this figure");
      pre.textContent = bib.replace(/^(@\w+\{[^,]*),/, "$1-" + id + ",").replace(/\n\}\s*$/, ",\n  note = {Figure " + id + ", " + anchor + "}\n}");
      box.appendChild(pre);
    } else {
      history.replaceState(history.state, "", "#" + fragment(id));
      var input = document.createElement("input"), said = document.createElement("span");
      input.type = "text";
      input.readOnly = true;
      input.value = url;
      input.setAttribute("aria-label", "Link to this view");
      said.setAttribute("role", "status");
      box.appendChild(input);
      box.appendChild(said);
      input.focus();
      input.select();
      var copied = navigator.clipboard && navigator.clipboard.writeText ? navigator.clipboard.writeText(url) : Promise.reject();
      copied.then(function () { said.textContent = "Link copied."; },
                  function () { said.textContent = "Copy the link above."; });
    }
  }
  document.addEventListener("input", function (ev) {  // a reader's input (not one the page sets) goes into the address
    var fig = ev.target.closest && ev.target.closest(".vega-bindings") && ev.target.closest("figure.chart");
    if (fig && live[fig.id]) remember(live[fig.id].section, fig.id);
  });
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a.chart-share, a.chart-cite");
    if (!link) return;
    ev.preventDefault();
    share(link, link.classList.contains("chart-cite"));
  });
  var opened = restore();  // opened from a link: its figure in view before the nearest charts are asked for
  if (opened) document.getElementById(opened).scrollIntoView();
  window.addEventListener("hashchange", function () {
    var id = restore();
    if (id) document.getElementById(id).scrollIntoView();
  });

  /* ---- start: charts within a screen of the viewport are embedded, charts beyond three
     screens are unloaded ------------------------------------------------------------- */
  var ids = Object.keys(page.charts).filter(function (id) { return document.getElementById(id); });
  if (window.vega && ids.length && window.IntersectionObserver) {
    var approach = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        var id = e.target.id;
        near[id] = e.isIntersecting;
        if (e.isIntersecting) request(id);
        else if (!urgent[id] && queue.indexOf(id) >= 0) queue.splice(queue.indexOf(id), 1);
      });
      pump();
    }, { rootMargin: "100% 0px" });
    var leave = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (!e.isIntersecting) unload(e.target.id); });
    }, { rootMargin: "300% 0px" });
    ids.forEach(function (id) {  // those near now are asked for at once (the observer reports a frame later)
      var el = document.getElementById(id), r = el.getBoundingClientRect();
      if (r.bottom > -window.innerHeight && r.top < 2 * window.innerHeight) request(id);
      approach.observe(el);
      leave.observe(el);
    });
    if (opened) request(opened, true);
    if (dark.addEventListener) dark.addEventListener("change", function () {
      Object.keys(live).forEach(function (id) { request(id, false, true); });
    });
  } else {
    document.documentElement.setAttribute("data-charts-ready", "true");
  }
  function views() {  // section -> its embedded charts, in page order
    var out = {};
    ids.forEach(function (id) { if (live[id]) (out[live[id].section] = out[live[id].section] || []).push(live[id]); });
    return out;
  }
  function embedAll() {  // every chart, kept embedded (tests; a reader never needs this)
    pinned = true;
    return Promise.all(ids.map(function (id) { return request(id, true); }));
  }
  window.article = { setStep: setStep, setNeuron: setNeuron, setShared: setShared, hovered: hovered, current: current,
                     state: state, views: views, fragment: fragment, embedAll: embedAll, timing: timing, live: function () { return Object.keys(live); },
                     pending: function () { return queue.length + (busy ? 1 : 0); } };
})();
