/* The admin's embed code: the copy button (the clipboard API, else the selection for Ctrl-C). */
(function () {
  "use strict";
  document.querySelectorAll(".pw-embed-copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var area = document.getElementById(button.getAttribute("data-copy"));
      var status = button.parentNode.querySelector(".pw-embed-copy-status");
      function done() { if (status) status.textContent = button.getAttribute("data-copied"); }
      area.focus();
      area.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
