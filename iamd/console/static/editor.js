// The policy editor: as you type, ask the server for the validator's findings (line:column).
// No other host is ever asked; findings are shown with textContent (never as HTML).
(function () {
  "use strict";
  var editors = document.querySelectorAll("textarea.editor");
  Array.prototype.forEach.call(editors, function (area) {
    var list = document.getElementById(area.getAttribute("data-findings"));
    var form = area.form;
    var timer = null;
    function show(items) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      items.forEach(function (f) {
        var li = document.createElement("li");
        li.className = f.severity;
        li.textContent = "Line " + f.line + ", column " + f.column + ": " + f.message;
        list.appendChild(li);
      });
      var status = document.getElementById(area.getAttribute("data-status"));
      if (status) { status.textContent = items.length ? items.length + " finding(s)" : "No findings"; }
    }
    function check() {
      var body = new URLSearchParams();
      body.set("csrf", form.elements.csrf.value);
      body.set("kind", area.getAttribute("data-kind"));
      body.set("document", area.value);
      fetch("/console/policy/validate", {method: "POST", body: body, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {findings: []}; })
        .then(function (data) { show(data.findings || []); })
        .catch(function () {});
    }
    area.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(check, 300);
    });
  });
})();
