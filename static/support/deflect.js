// Suggest help articles while a customer types a ticket subject (ticket deflection).
// Calls the public KB API; builds the list with textContent except for the snippet, whose
// only markup is the <mark> the server adds around matches (the rest arrives escaped).
(function () {
  "use strict";
  var input = document.querySelector("[data-suggest-url]");
  var box = document.getElementById("suggestions");
  if (!input || !box) return;
  var url = input.getAttribute("data-suggest-url");
  var timer = null;
  var lastQuery = "";

  function render(results) {
    var old = box.querySelector(".live");
    if (old) old.remove();
    var wrap = document.createElement("div");
    wrap.className = "live";
    if (!results.length) { box.appendChild(wrap); return; }
    var heading = document.createElement("h2");
    heading.textContent = "These articles may already answer your question";
    wrap.appendChild(heading);
    var list = document.createElement("ul");
    results.slice(0, 5).forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = item.title;
      li.appendChild(a);
      if (item.snippet) {
        var small = document.createElement("small");
        small.innerHTML = item.snippet;  // server-escaped text plus <mark> only
        li.appendChild(document.createElement("br"));
        li.appendChild(small);
      }
      list.appendChild(li);
    });
    wrap.appendChild(list);
    box.appendChild(wrap);
  }

  function search() {
    var q = input.value.trim();
    if (q === lastQuery) return;
    lastQuery = q;
    if (q.length < 3) { render([]); return; }
    fetch(url + "?page_size=5&q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {results: []}; })
      .then(function (data) { if (q === lastQuery) render(data.results || []); })
      .catch(function () { render([]); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });
})();
