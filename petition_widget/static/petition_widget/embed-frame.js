/* Inside the embed page's frame: tell the page that frames it how tall the widget is, whenever that changes
   (errors shown, the thank-you state), by postMessage to that page's origin alone. The server names that
   origin in data-parent-origin only when the petition allows it to frame the form; otherwise nothing is sent. */
(function () {
  "use strict";
  var body = document.body;
  var parentOrigin = body.getAttribute("data-parent-origin");
  var petition = body.getAttribute("data-petition");
  var lastHeight = -1;

  function send(extra) {
    if (!parentOrigin || window.parent === window) return;
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === lastHeight && !extra) return;
    lastHeight = height;
    var message = { type: "petition-widget:height", petition: petition, height: height };
    if (extra) message.reveal = true;
    window.parent.postMessage(message, parentOrigin);
  }

  // After a submission the frame reloads with the errors or the thank-you message: move focus there, so that
  // keyboard and screen reader users land on it, and ask the host page to bring the frame into view.
  var landing = document.querySelector(".pw-error-summary, .pw-thanks");
  if (landing) {
    landing.setAttribute("tabindex", "-1");
    landing.focus({ preventScroll: true });
  }
  send(Boolean(landing));
  if (window.ResizeObserver) {
    new ResizeObserver(function () { send(false); }).observe(document.documentElement);
  } else {
    window.addEventListener("resize", function () { send(false); });
  }
  window.addEventListener("load", function () { send(false); });
})();
