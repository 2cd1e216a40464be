// The web chat: send messages, poll the transcript, render replies. No framework needed.
"use strict";
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const statusLine = document.getElementById("status");
  let lastId = 0;
  let busy = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setMode(reply) {
    if (!reply) return;
    if (reply.kind === "handover") {
      statusLine.innerHTML = "";
      statusLine.append("You are chatting with ", el("strong", "", "a person from the IT service desk"), ".");
    } else if (reply.kind === "handback") {
      statusLine.innerHTML = "";
      statusLine.append("You are chatting with ", el("strong", "", "deskbot, an automated assistant"), ".");
    }
  }

  function render(message) {
    const item = el("li", "msg " + message.role);
    item.dataset.id = message.id;
    const reply = message.reply;
    if (message.role === "user") {
      item.append(el("span", "who", "You"), el("p", "text", message.text));
    } else if (reply && reply.automated === false) {
      item.append(el("span", "who person", (reply.author || "Service desk") + " · service desk (a person)"));
      item.append(el("p", "text", reply.text));
    } else {
      const label = reply && reply.kind === "answer" ? "deskbot · automated answer" : "deskbot · automated assistant";
      item.append(el("span", "who bot", label));
      const text = el("p", "text", message.text);
      item.append(text);
      if (reply && reply.source) {
        const src = el("p", "source");
        src.append("Source: ");
        if (reply.source.link) {
          const a = el("a", "", reply.source.title);
          a.href = reply.source.link;
          a.rel = "noopener";
          a.target = "_blank";
          src.append(a);
        } else {
          src.append(reply.source.title);
        }
        src.append(" · last verified " + (reply.source.verified_on || "unknown"));
        item.append(src);
      }
      if (reply && reply.buttons && reply.buttons.length) {
        const group = el("div", "buttons");
        group.setAttribute("role", "group");
        for (const b of reply.buttons) {
          const button = el("button", b.primary ? "primary" : "", b.label);
          button.type = "button";
          button.dataset.action = b.action;
          button.addEventListener("click", () => {
            group.querySelectorAll("button").forEach((x) => (x.disabled = true));
            send({ action: b.action });
          });
          group.append(button);
        }
        item.append(group);
      }
      setMode(reply);
    }
    log.append(item);
    item.scrollIntoView({ block: "end" });
  }

  function accept(messages) {
    for (const m of messages) {
      if (m.id > lastId) {
        render(m);
        lastId = m.id;
      }
    }
  }

  async function call(method, url, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function send(payload) {
    if (busy) return;
    busy = true;
    document.getElementById("send").disabled = true;
    try {
      const data = await call("POST", "/chat/api/messages", Object.assign({ after: lastId }, payload));
      accept(data.messages);
      if (data.notice) log.append(el("li", "msg notice", data.notice)); // kept, answered later
    } catch (e) {
      const item = el("li", "msg error", "Your message could not be sent. Please try again.");
      log.append(item);
    } finally {
      busy = false;
      document.getElementById("send").disabled = false;
      input.focus();
    }
  }

  async function poll() {
    if (!busy) {
      try {
        accept((await call("GET", "/chat/api/messages?after=" + lastId)).messages);
      } catch (e) { /* the next poll will try again */ }
    }
    setTimeout(poll, 1500);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("new-conversation").addEventListener("click", async () => {
    await call("POST", "/chat/api/new", {});
    window.location.reload();
  });
  poll();
  input.focus();
})();
