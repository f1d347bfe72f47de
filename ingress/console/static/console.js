// Counts the UTF-8 bytes of a page's messages as the admin types: Instagram refuses texts
// over 1000 bytes, and an emoji or an accented letter takes more than one. The page works
// without this script (the server checks the same limit on save).
(function () {
  var enc = new TextEncoder();
  document.querySelectorAll("textarea[data-max-bytes]").forEach(function (ta) {
    var max = parseInt(ta.getAttribute("data-max-bytes"), 10);
    var out = document.querySelector('[data-counter-for="' + ta.id + '"]');
    if (!out) return;
    function update() {
      var n = enc.encode(ta.value.replace(/\r?\n/g, "\n")).length;
      out.textContent = n + " of " + max + " bytes" + (n > max ? " — too long for Instagram" : "");
      out.classList.toggle("over", n > max);
    }
    ta.addEventListener("input", update);
    update();
  });
})();
