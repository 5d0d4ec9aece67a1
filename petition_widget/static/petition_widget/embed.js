/* django-petition-widget's embed script. On any page:

     <script src="https://YOUR-SITE/static/petition_widget/embed.js" data-petition="SLUG" async></script>

   inserts the petition's signing form in an <iframe> where the script stands; or fills each
   <div data-petition="SLUG" data-petition-embed></div> of the page. Optional attributes on either: data-title
   (the frame's title), data-embed-url (the embed page, when it is not /petitions/SLUG/embed/ on the script's
   site), and the theme: data-accent, data-accent-text, data-text, data-background, data-border (hex colours),
   data-font (a font name), data-radius (pixels). The frame tells its height by postMessage; only messages
   from the frame's own origin and window are read. */
(function () {
  "use strict";
  var THEME = ["accent", "accent-text", "text", "background", "border", "font", "radius"];
  var script = document.currentScript;
  var scriptUrl = script && script.src ? new URL(script.src, document.baseURI) : null;
  var frames = [];

  function embedUrl(element, slug) {
    var explicit = element.getAttribute("data-embed-url");
    if (explicit) return new URL(explicit, document.baseURI);
    var base = scriptUrl ? scriptUrl.origin : window.location.origin;
    return new URL("/petitions/" + encodeURIComponent(slug) + "/embed/", base);
  }

  function insert(element, holder) {
    var slug = element.getAttribute("data-petition");
    if (!slug || element.getAttribute("data-petition-ready")) return;
    element.setAttribute("data-petition-ready", "1");
    var url = embedUrl(element, slug);
    THEME.forEach(function (name) {
      var value = element.getAttribute("data-" + name);
      if (value) url.searchParams.set(name.replace("-", "_"), value);
    });
    url.searchParams.set("parent", window.location.origin);
    var frame = document.createElement("iframe");
    frame.src = url.href;
    frame.title = element.getAttribute("data-title") || "Petition: sign the form";
    frame.className = "petition-widget-frame";
    frame.setAttribute("data-petition", slug);
    // Until the frame says how tall it is (or if it may not tell this page), a height that shows the form
    // with a scroll bar.
    frame.style.cssText = "display:block;width:100%;max-width:40rem;height:40rem;border:0;background:transparent;";
    holder.appendChild(frame);
    frames.push({ frame: frame, origin: url.origin });
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "petition-widget:height" || typeof data.height !== "number") return;
    for (var i = 0; i < frames.length; i++) {
      var entry = frames[i];
      if (event.origin !== entry.origin || event.source !== entry.frame.contentWindow) continue;
      var height = Math.max(0, Math.min(Math.round(data.height), 20000));
      entry.frame.style.height = height + "px";
      if (data.reveal) {
        var box = entry.frame.getBoundingClientRect();
        if (box.top < 0 || box.top > window.innerHeight) entry.frame.scrollIntoView({ block: "start" });
      }
    }
  });

  function run() {
    if (script && script.getAttribute("data-petition")) {
      var holder = document.createElement("div");
      holder.className = "petition-widget-embed";
      script.parentNode.insertBefore(holder, script);
      insert(script, holder);
    }
    var divs = document.querySelectorAll("div[data-petition-embed][data-petition]");
    for (var i = 0; i < divs.length; i++) insert(divs[i], divs[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
