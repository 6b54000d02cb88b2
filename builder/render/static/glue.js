/* The article's glue: embeds the compiled Vega views, keeps one `step` per section in sync
   (and any other params a chart shares with its section, `run` included: a chart redraws with
   another run's data when it changes), shows live values in the prose,
   plays animate buttons, scrubs with the keyboard, makes taps pick marks, and opens
   citation/footnote popups.
   No framework; the charts' own behaviour lives in their Vega specs. */
(function () {
  "use strict";
  var dataEl = document.getElementById("article-data");
  var page = dataEl ? JSON.parse(dataEl.textContent) : { charts: {}, sections: {}, animations: {} };
  var sharedEl = document.getElementById("shared-data");
  var shared = sharedEl ? JSON.parse(sharedEl.textContent) : {};
  var views = {};        // section -> [{id, view, el}]
  var current = {};      // section -> step
  var hovered = {};      // section -> highlighted neuron (-1: none)
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : { matches: false };

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

  /* ---- shared signals: `step` (scrubbing) and `neuron` (hover highlight) ---------- */
  function broadcast(section, name, value, from) {
    (views[section] || []).forEach(function (v) {
      if (name === "step" && page.charts[v.id].follow === false) return;  // a scrub source only
      if (v.view !== from && hasSignal(v.view, name) && v.view.signal(name) !== value) {
        v.view.signal(name, value).run();  // synchronous: the redraw lands in this frame
      }
    });
  }
  function setStep(section, value, from) {
    if (current[section] === value && from !== "init") return;
    current[section] = value;
    broadcast(section, "step", value, from);
    (views[section] || []).forEach(function (v) {
      if (!v.el.hasAttribute("aria-valuemin")) return;
      v.el.setAttribute("aria-valuenow", value);
      v.el.setAttribute("aria-valuetext", "step " + value.toLocaleString("en"));
    });
  }
  function setNeuron(section, value, from) {
    if (hovered[section] === value) return;
    hovered[section] = value;
    broadcast(section, "neuron", value, from);
  }
  function hasSignal(view, name) {
    try { view.signal(name); return true; } catch (e) { return false; }
  }

  /* ---- embedding ---------------------------------------------------------------- */
  function embed(id, variant) {  // variant: another run's {data, signals} to draw instead
    var fig = document.getElementById(id), el = fig && fig.querySelector(".vega");
    var specEl = document.getElementById("spec-" + id);
    if (!el || !specEl) return null;
    var info = page.charts[id], section = info.section, spec = JSON.parse(specEl.textContent);
    (spec.data || []).forEach(function (d) {  // tables several charts carry are in the page once
      if (d.values && d.values.shared) d.values = shared[d.values.shared];
      if (variant && variant.data[d.name]) d.values = variant.data[d.name];
    });
    (spec.signals || []).forEach(function (s) {
      if (variant && s.name in variant.signals) s.value = variant.signals[s.name];
    });
    el.textContent = "";
    return vegaEmbed(el, spec, {
      mode: "vega", renderer: "canvas", actions: false, hover: false, config: theme()
    }).then(function (result) {
      // the figure's frame carries the role, label and tab stop; vega-embed adds its own
      ["tabindex", "role", "aria-label", "aria-roledescription"].forEach(function (a) { el.removeAttribute(a); });
      return attach(id, section, fig.querySelector(".chart-frame"), result.view, spec);
    }).catch(function (err) {
      el.innerHTML = '<p class="chart-error">This chart could not be drawn: ' + String(err).replace(/</g, "&lt;") + "</p>";
      throw err;
    });
  }
  function attach(id, section, el, view, spec) {
    var entry = { id: id, view: view, el: el };
    (views[section] = views[section] || []).push(entry);
    if (hasSignal(view, "step") && page.charts[id].scrub) {
      var sec = page.sections[section];
      if (sec) {
        el.setAttribute("aria-valuemin", sec.steps[0]);
        el.setAttribute("aria-valuemax", sec.steps[sec.steps.length - 1]);
      }
    }
    if (hasSignal(view, "step")) {
      view.addSignalListener("step", function (_, value) {
        setStep(section, value, view);
      });
    }
    if (hasSignal(view, "neuron")) {
      view.addSignalListener("neuron", function (_, value) { setNeuron(section, value, view); });
    }
    (page.charts[id].shares || []).forEach(function (name) {
      view.addSignalListener(name, function (_, value) { broadcast(section, name, value, view); });
    });
    (page.charts[id].limits || []).forEach(function (lim) {  // [input name, min, max]: numbers or signals
      var input = el.querySelector('input[name="' + lim[0] + '"]');
      if (!input) return;
      [[lim[1], "min"], [lim[2], "max"]].forEach(function (pair) {
        if (pair[0] === null) return;
        if (typeof pair[0] === "number") { input.setAttribute(pair[1], pair[0]); return; }
        var apply = function () { input.setAttribute(pair[1], view.signal(pair[0])); };
        apply();
        view.addSignalListener(pair[0], apply);
      });
    });
    var mirrors = page.charts[id].mirrors || [], mirroring = false;  // [source signal, target param]
    function mirror() {  // after the whole pulse: a listener can run before the other sources update
      mirroring = false;
      var changed = false;
      mirrors.forEach(function (m) {
        var value = view.signal(m[0]);
        if (view.signal(m[1]) !== value) { view.signal(m[1], value); changed = true; }
      });
      if (changed) view.runAsync();
    }
    mirrors.forEach(function (pair) {
      view.addSignalListener(pair[0], function () {
        if (!mirroring) { mirroring = true; view.runAfter(mirror); }
      });
    });
    if (hasSignal(view, "demand")) {
      view.addSignalListener("demand", function (_, key) {
        if (key) load(id + "/" + key).then(function (rows) {
          if (view.signal("demand") === key) view.data("demand", rows).run();
        });
      });
    }
    if (page.charts[id].variants) {  // another run of the section: redraw the chart with its data
      var done = function () { el.removeAttribute("aria-busy"); };  // (a new view: facets re-layout)
      view.addSignalListener("run", function (_, key) {
        el.setAttribute("aria-busy", "true");
        load(id + "/run-" + key).then(function (variant) {
          if (view.signal("run") !== key) return;
          var signals = Object.assign({}, variant.signals, { run: key });
          spec.signals.forEach(function (s) { if (s.bind) signals[s.name] = view.signal(s.name); });  // the reader's inputs stay
          views[section].splice(views[section].indexOf(entry), 1);
          view.finalize();
          return embed(id, { data: variant.data || {}, signals: signals }).then(function () { showLive(id); });
        }).then(done, done);
      });
    }
    if (current[section] !== undefined && hasSignal(view, "step")) return view.signal("step", current[section]).runAsync();
  }
  function embedAll() {
    Object.keys(views).forEach(function (s) { views[s].forEach(function (v) { v.view.finalize(); }); });
    views = {};
    var pending = Object.keys(page.charts).map(function (id) { return embed(id); });
    Object.keys(page.sections).forEach(function (s) {
      if (current[s] === undefined) current[s] = page.sections[s].initial;
    });
    return Promise.all(pending).then(function () {
      Object.keys(current).forEach(function (s) { setStep(s, current[s], "init"); });
      showLive();
      document.documentElement.setAttribute("data-charts-ready", "true");
    });
  }

  /* ---- live values in the prose: <output data-section data-signal>, and blocks shown
     only while a signal has one value: <div class="when" ... data-value> ---------------- */
  function showLive(only) {  // only: a chart id, after that chart was redrawn
    Array.prototype.forEach.call(document.querySelectorAll("output.live, div.when"), function (out) {
      var signal = out.getAttribute("data-signal");
      var source = (views[out.getAttribute("data-section")] || []).filter(function (v) {
        return hasSignal(v.view, signal);
      })[0];
      if (!source || (only && source.id !== only)) return;  // the text written in the Markdown stays
      var value = out.getAttribute("data-value"), write = value === null
        ? function () { out.textContent = String(source.view.signal(signal)); }
        : function () { out.hidden = String(source.view.signal(signal)) !== value; };
      write();
      source.view.addSignalListener(signal, write);
    });
  }

  /* ---- data loaded on demand: data/<chart>/<key>.js (a script tag works from file://) ---- */
  var loading = {};
  function load(name) {
    if (!loading[name]) loading[name] = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = "data/" + name + ".js";
      script.onload = function () { resolve(window.ARTICLE_DATA[name]); };
      script.onerror = function () { delete loading[name]; reject(new Error("cannot load " + script.src)); };
      document.head.appendChild(script);
    });
    return loading[name];
  }

  /* ---- taps: Vega gives a click the item under the last pointermove, and only if the
     pointer went down on that same item; a finger moves no pointer, so just before a tap's
     click the page puts Vega's pointer down where the finger is, and lifts it afterwards
     (no tooltip left behind) --------------------------------------------------------- */
  var lastPointer = "";
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

  /* ---- keyboard scrubbing ------------------------------------------------------- */
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
    setStep(section, neighbour(section, delta), null);
  });

  /* ---- animate buttons ---------------------------------------------------------- */
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
    if (a.run) broadcast(a.section, "run", a.run, null);  // the run it plays, loaded first
    button.setAttribute("aria-pressed", "true");
    playing = { button: button, frame: 0 };
    function tick(t) {
      if (!playing || playing.button !== button) return;
      if (t0 === null) t0 = t;
      var f = Math.min(1, (t - t0) / duration);
      setStep(a.section, steps[Math.round(f * (steps.length - 1))], null);
      if (f < 1) playing.frame = requestAnimationFrame(tick); else stopAnimation();
    }
    playing.frame = requestAnimationFrame(tick);
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button.animate");
    if (!button) return;
    if (playing && playing.button === button) stopAnimation(); else play(button);
  });

  /* ---- popups for citations and footnotes --------------------------------------- */
  var popup = document.getElementById("popup"), owner = null, hideTimer = 0, lastPointer = "mouse";
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
  document.addEventListener("pointerdown", function (ev) { lastPointer = ev.pointerType; }, true);
  document.addEventListener("mouseover", function (ev) {
    var t = triggerOf(ev);
    if (t) showPopup(t); else if (ev.target.closest && ev.target.closest("#popup")) clearTimeout(hideTimer);
  });
  document.addEventListener("mouseout", function (ev) {
    if (triggerOf(ev) || (ev.target.closest && ev.target.closest("#popup"))) hidePopup(300);
  });
  document.addEventListener("focusin", function (ev) { var t = triggerOf(ev); if (t) showPopup(t); });
  document.addEventListener("focusout", function (ev) { if (triggerOf(ev)) hidePopup(150); });
  document.addEventListener("click", function (ev) {
    var t = triggerOf(ev);
    if (t && lastPointer !== "mouse") {       // tap: first tap opens the popup instead of jumping
      if (owner !== t || popup.hidden) { ev.preventDefault(); showPopup(t); }
    } else if (!t && !(ev.target.closest && ev.target.closest("#popup"))) {
      hidePopup(0);
    }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hidePopup(0); });

  /* ---- start -------------------------------------------------------------------- */
  if (window.vegaEmbed && Object.keys(page.charts).length) {
    embedAll();
    if (dark.addEventListener) dark.addEventListener("change", embedAll);
  }
  window.article = { setStep: setStep, setNeuron: setNeuron, hovered: hovered, views: function () { return views; }, current: current };
})();
