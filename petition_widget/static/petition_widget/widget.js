/* django-petition-widget: sign in place, errors the GOV.UK way, share after signing.
 *
 * Self-contained, no framework, for any number of widgets on a page ([data-pw-widget]). Without this
 * file (or without fetch) the form posts and redirects as a plain HTML form does.
 *
 * - A form [data-pw-form] is sent with fetch and the header X-Petition-Widget: 1; the server answers the
 *   widget alone (errors, a refusal, or the thank-you state, with the real HTTP status), which replaces
 *   the old one. Focus moves to the element marked [data-pw-focus] (the error summary, the thank-you
 *   heading). The page's URL stays as it is.
 * - An answer that is not a widget (a CSRF failure page, say) or a network error: the form is sent the
 *   ordinary way, so the signer sees what the server says.
 * - A link in the error summary focuses its field, with the field's label in view.
 * - "Copy link" and the Web Share API's button appear only where the browser can do them.
 */
(function () {
  "use strict";
  if (window.petitionWidget) {
    return; // loaded once per page, however many widgets include it
  }
  var HEADER = "X-Petition-Widget";

  function enhance(root) {
    var copy = root.querySelectorAll("[data-pw-copy]");
    for (var i = 0; i < copy.length; i++) {
      copy[i].hidden = false; // the clipboard API, else the older execCommand("copy")
    }
    var share = root.querySelectorAll("[data-pw-native-share]");
    for (var j = 0; j < share.length; j++) {
      share[j].hidden = typeof navigator.share !== "function";
    }
  }

  function focusState(root) {
    var target = root.querySelector("[data-pw-focus]");
    if (target) {
      target.focus();
    }
  }

  function sendNatively(form) {
    form.setAttribute("data-pw-native", "");
    HTMLFormElement.prototype.submit.call(form);
  }

  function submitInPlace(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-pw-form") || form.hasAttribute("data-pw-native")) {
      return;
    }
    var widget = form.closest("[data-pw-widget]");
    if (!widget || !window.fetch || !window.FormData) {
      return;
    }
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") {
      return;
    }
    form.setAttribute("aria-busy", "true");
    var button = form.querySelector("[type=submit]");
    if (button) {
      button.setAttribute("aria-disabled", "true");
    }
    var headers = {};
    headers[HEADER] = "1";
    fetch(form.action, { method: "POST", body: new FormData(form), headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (response.headers.get(HEADER) !== "1") {
          throw new Error("not a widget");
        }
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        var fresh = template.content.querySelector("[data-pw-widget]");
        if (!fresh) {
          throw new Error("not a widget");
        }
        widget.replaceWith(fresh);
        enhance(fresh);
        focusState(fresh);
      })
      .catch(function () {
        sendNatively(form);
      });
  }

  function followSummaryLink(event) {
    var link = event.target.closest(".pw-error-summary a[href^='#']");
    if (!link) {
      return;
    }
    var field = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (!field) {
      return;
    }
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  }

  function copyLink(button) {
    var input = document.getElementById(button.getAttribute("data-pw-copy"));
    var status = button.closest(".pw-share").querySelector(".pw-copy-status");
    function done(ok) {
      status.textContent = button.getAttribute(ok ? "data-pw-copied" : "data-pw-copy-failed");
      if (!ok) {
        input.focus();
        input.select();
      }
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(
        function () { done(true); },
        function () { done(false); }
      );
    } else {
      input.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (error) {
        ok = false;
      }
      done(ok);
    }
  }

  function share(button) {
    navigator.share({ title: button.getAttribute("data-pw-share-title"), url: button.getAttribute("data-pw-share-url") })
      .catch(function () { /* dismissed: nothing to do */ });
  }

  function onClick(event) {
    if (!(event.target instanceof Element)) {
      return;
    }
    followSummaryLink(event);
    var copy = event.target.closest("[data-pw-copy]");
    if (copy) {
      copyLink(copy);
    }
    var native = event.target.closest("[data-pw-native-share]");
    if (native) {
      share(native);
    }
  }

  function start() {
    enhance(document);
    focusState(document);
  }

  window.petitionWidget = { enhance: enhance };
  document.addEventListener("submit", submitInPlace);
  document.addEventListener("click", onClick);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
