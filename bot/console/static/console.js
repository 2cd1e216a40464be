// The console's only script: live refresh of server-rendered fragments, and confirmations.
// Pages work without it (reload to refresh).
"use strict";
(function () {
  function toEnd(node) {
    if (node.tagName === "OL") node.scrollTop = node.scrollHeight;  // a transcript: newest last
  }

  function refresh(node) {
    const url = node.dataset.refresh;
    const every = parseInt(node.dataset.every || "5000", 10);
    let last = null;
    async function tick() {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (response.status === 401) { window.location.reload(); return; }
        if (response.ok) {
          const html = await response.text();
          if (html !== last) {
            node.innerHTML = html;
            toEnd(node);
          }
          last = html;
        }
      } catch (e) { /* the next tick tries again */ }
      setTimeout(tick, every);
    }
    toEnd(node);
    setTimeout(tick, every);
  }
  document.querySelectorAll("[data-refresh]").forEach(refresh);
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
