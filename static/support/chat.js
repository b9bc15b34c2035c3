// The help-bot chat page: posts questions to /api/v1/chat/, shows answers with their
// article links, lets the customer rate an answer or hand the conversation to a human.
// Text is set with textContent; the only markup taken from the server is an answer's
// rendered Markdown (body_html, passage_html), which the server sanitises (nh3) first.
// The conversation so far comes with the page (#chat-history), so a reload keeps it.
(function () {
  "use strict";
  var root = document.querySelector("[data-chat-url]");
  if (!root) return;
  var chatUrl = root.getAttribute("data-chat-url");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var field = document.getElementById("chat-message");
  var statusLine = document.getElementById("chat-status");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var history = JSON.parse(document.getElementById("chat-history").textContent);
  var conversationId = history.conversation_id;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf,
                "Accept": "application/json"},
      credentials: "same-origin",
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.detail || "Something went wrong.");
        return data;
      });
    });
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function html(tag, markup) {
    var node = document.createElement(tag);
    node.className = "markdown";
    node.innerHTML = markup;  // sanitised by the server (support.kb.render_markdown)
    return node;
  }

  function addMessage(role, message) {
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    var li = el("li", null, "card " + role);
    li.appendChild(el("p", role === "customer" ? "You" : "Help bot", "muted"));
    var citations = message.citations || [];
    var passages = citations.some(function (c) { return c.passage_html; });
    if (role === "bot" && passages) {
      li.appendChild(el("p", "Here is what our help centre says:"));
      citations.forEach(function (c) {
        var block = el("div");
        var link = el("a", c.title);
        link.href = c.url;
        var heading = el("p");
        heading.appendChild(link);
        block.appendChild(heading);
        if (c.passage_html) block.appendChild(html("div", c.passage_html));
        li.appendChild(block);
      });
    } else if (role === "bot" && message.body_html) {
      li.appendChild(html("div", message.body_html));
      citations.forEach(function (c) {
        var link = el("a", "Read: " + c.title);
        link.href = c.url;
        var line = el("p");
        line.appendChild(link);
        li.appendChild(line);
      });
    } else {
      li.appendChild(el("p", message.body));
    }
    if (role === "bot") li.appendChild(actions(message));
    log.appendChild(li);
  }

  function actions(message) {
    var bar = el("p");
    var up = el("button", "Helpful", "button secondary");
    var down = el("button", "Not helpful", "button secondary");
    [[up, true], [down, false]].forEach(function (pair) {
      pair[0].type = "button";
      pair[0].addEventListener("click", function () {
        post(chatUrl + conversationId + "/messages/" + message.id + "/rate/", {helpful: pair[1]})
          .then(function () { statusLine.textContent = "Thanks for your feedback."; })
          .catch(function (e) { statusLine.textContent = e.message; });
      });
      bar.appendChild(pair[0]);
    });
    if (!message.answered) {
      var hand = el("button", "Hand over to a human", "button");
      hand.type = "button";
      hand.addEventListener("click", function () {
        post(chatUrl + conversationId + "/handoff/")
          .then(function (ticket) {
            statusLine.textContent = "Ticket " + ticket.number + " opened: our team will reply by e-mail.";
            var link = el("a", "View ticket " + ticket.number);
            link.href = "/support/tickets/" + ticket.id + "/";
            statusLine.appendChild(document.createTextNode(" "));
            statusLine.appendChild(link);
            form.hidden = true;
          })
          .catch(function (e) { statusLine.textContent = e.message; });
      });
      bar.appendChild(hand);
    }
    return bar;
  }

  history.messages.forEach(function (message) { addMessage(message.role, message); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = field.value.trim();
    if (!text) return;
    statusLine.textContent = "Looking for an answer…";
    var body = {message: text};
    if (conversationId) body.conversation_id = conversationId;
    post(chatUrl, body).then(function (data) {
      conversationId = data.conversation_id;
      addMessage("customer", data.question);
      addMessage("bot", data.answer);
      field.value = "";
      statusLine.textContent = "";
    }).catch(function (e) { statusLine.textContent = e.message; });
  });
})();
