// tingfeng review UI: niceties only; every form works without this file.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (box) { box.checked = all.checked; });
    });
  }
  // hand-off: a click in the text selects all of it; "Copy" puts it on the clipboard as is
  document.querySelectorAll("textarea.handoff-text").forEach(function (box) {
    box.addEventListener("focus", function () { box.select(); });
  });
  document.querySelectorAll("button.copy").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-target"));
    var said = button.parentNode.querySelector(".copied");
    if (!box) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      box.focus();
      box.select();
      var done = function (text) { if (said) said.textContent = text; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(box.value).then(
          function () { done("Copied."); },
          function () { done("Could not copy: the text is selected, press Ctrl+C."); });
      } else {
        done("The text is selected: press Ctrl+C.");
      }
    });
  });
});
