// `make serve` only (never written into site/): the server adds this script to every HTML page
// it answers. It listens on /__reload: "reload" after a good build; a "build-error" event with
// the one-line error of a failed build, shown over the page (the page stays the last good build)
// until the next good build reloads it. The box is an alert, closes with its button or Escape,
// and has its own colours for light and dark.
(function () {
  "use strict";
  var host = null;

  function hide() {
    if (host) { host.remove(); host = null; }
  }

  function show(message) {
    hide();
    host = document.createElement("div");
    host.id = "builder-preview-error";
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent =
      ":host { all: initial; }" +
      ".box { position: fixed; z-index: 2147483647; left: 1rem; right: 1rem; top: 1rem; max-height: 80vh;" +
      "  overflow: auto; box-sizing: border-box; padding: 1rem 1.25rem; border: 2px solid #a4161a;" +
      "  border-radius: 8px; background: #fff8f7; color: #1d1f21; font: 16px/1.5 system-ui, sans-serif;" +
      "  box-shadow: 0 8px 24px rgba(0, 0, 0, .3); }" +
      "h2 { margin: 0 0 .5rem; font-size: 1.05rem; color: #a4161a; }" +
      "pre { margin: 0 0 .75rem; white-space: pre-wrap; overflow-wrap: anywhere; font: 15px/1.5 ui-monospace, monospace; }" +
      "p { margin: 0 0 .75rem; }" +
      "button { min-height: 32px; padding: 0 .9rem; font: inherit; color: inherit; background: transparent;" +
      "  border: 1px solid currentColor; border-radius: 4px; cursor: pointer; }" +
      "button:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }" +
      "@media (prefers-color-scheme: dark) {" +
      "  .box { background: #2b1614; color: #f3ece9; border-color: #ff8a80; }" +
      "  h2 { color: #ffb4ab; }" +
      "  button:focus-visible { outline-color: #8cb4ff; } }";
    var box = document.createElement("div");
    box.className = "box";
    box.setAttribute("role", "alert");
    var title = document.createElement("h2");
    title.textContent = "Build error";
    var text = document.createElement("pre");
    text.textContent = message;
    var note = document.createElement("p");
    note.textContent = "The page shows the last good build. Fix the error and save: the page reloads.";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Dismiss";
    close.setAttribute("aria-label", "Dismiss the build error");
    close.addEventListener("click", hide);
    box.append(title, text, note, close);
    root.append(style, box);
    document.body.appendChild(host);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && host) hide();
  });
  var source = new EventSource("/__reload");
  source.onmessage = function (event) {
    if (event.data === "reload") location.reload();
  };
  source.addEventListener("build-error", function (event) {
    show(JSON.parse(event.data));
  });
})();
