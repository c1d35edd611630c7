// Web chat for the REST channel: POST {sender, message} to /webhooks/rest/webhook and
// show the bot's replies (text, images, buttons, custom payloads). Text is always set with
// textContent, so nothing a bot or user writes is ever interpreted as HTML.
(function () {
  "use strict";

  var base = window.location.pathname.replace(/\/chat\/?$/, "/");
  var webhook = base + "webhooks/rest/webhook";
  var log = document.getElementById("dfl-log");
  var form = document.getElementById("dfl-form");
  var input = document.getElementById("dfl-input");
  var send = document.getElementById("dfl-send");
  var restart = document.getElementById("dfl-restart");
  var storageKey = "dfl-chat-sender";
  var busy = false;
  var queue = [];

  function newSenderId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function senderId() {
    var id = null;
    try { id = window.localStorage.getItem(storageKey); } catch (e) { id = null; }
    if (!id) {
      id = newSenderId();
      try { window.localStorage.setItem(storageKey, id); } catch (e) { /* private mode */ }
    }
    return id;
  }

  var sender = senderId();

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(kind, text) {
    var item = document.createElement("li");
    item.className = "dfl-msg " + kind;
    if (text) {
      var span = document.createElement("span");
      span.className = "dfl-text";
      span.textContent = text;
      item.appendChild(span);
    }
    log.appendChild(item);
    scrollDown();
    return item;
  }

  // A button with a url opens that page (as on Rasa's other channels) instead of
  // sending its title; only web addresses, so a reply cannot run script here.
  function isWebLink(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url);
  }

  function linkButton(button) {
    var link = document.createElement("a");
    link.className = "dfl-button dfl-link";
    link.href = button.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = button.title || button.url;
    return link;
  }

  function showReply(reply) {
    var item = bubble("bot", reply.text || "");
    if (reply.image) {
      var img = document.createElement("img");
      img.src = reply.image;
      img.alt = "";
      item.appendChild(img);
    }
    if (reply.custom !== undefined || reply.attachment !== undefined) {
      var pre = document.createElement("pre");
      pre.textContent = JSON.stringify(reply.custom !== undefined ? reply.custom : reply.attachment, null, 2);
      item.appendChild(pre);
    }
    var buttons = reply.buttons || reply.quick_replies;
    if (buttons && buttons.length) {
      var row = document.createElement("div");
      row.className = "dfl-buttons";
      buttons.forEach(function (button) {
        if (isWebLink(button.url)) {
          row.appendChild(linkButton(button));
          return;
        }
        var element = document.createElement("button");
        element.type = "button";
        element.className = "dfl-button";
        element.textContent = button.title || button.payload;
        element.addEventListener("click", function () {
          Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) { b.disabled = true; });
          submit(button.payload || button.title, button.title || button.payload);
        });
        row.appendChild(element);
      });
      item.appendChild(row);
    }
  }

  function setBusy(value) {
    busy = value;
    send.disabled = value;
  }

  function post(payload, shown) {
    bubble("user", shown);
    var typing = bubble("bot dfl-typing", "…");
    setBusy(true);
    return fetch(webhook, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: payload })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body && body.message ? body.message : "HTTP " + response.status);
        }
        return body;
      });
    }).then(function (replies) {
      typing.remove();
      replies.forEach(showReply);
    }).catch(function (error) {
      typing.remove();
      bubble("error", "Sorry, the message could not be sent: " + error.message);
    }).then(function () {
      setBusy(false);
      if (queue.length) {
        var next = queue.shift();
        post(next[0], next[1]);
      }
    });
  }

  // Messages are sent one at a time, so the bot sees them in the order they were typed.
  function submit(payload, shown) {
    if (!payload) { return; }
    if (busy) { queue.push([payload, shown]); return; }
    post(payload, shown);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    input.value = "";
    submit(text, text);
    input.focus();
  });

  restart.addEventListener("click", function () {
    sender = newSenderId();
    try { window.localStorage.setItem(storageKey, sender); } catch (e) { /* private mode */ }
    while (log.firstChild) { log.removeChild(log.firstChild); }
    input.focus();
  });

  window.dflChat = { sender: function () { return sender; } };
}());
