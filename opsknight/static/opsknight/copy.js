// Copy buttons in the admin: a `.ok-copy` button copies the `.ok-secret-value` of its
// `.ok-secret` row (the endpoint's public key), or selects it where the clipboard API is
// not available (plain http), and says which in the row's `.ok-copy-status`.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".ok-secret .ok-copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest(".ok-secret");
      var value = row.querySelector(".ok-secret-value");
      var status = row.querySelector(".ok-copy-status");
      function selectIt() {
        var range = document.createRange();
        range.selectNodeContents(value);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value.textContent).then(
          function () { status.textContent = "Copied."; },
          function () { selectIt(); status.textContent = "Selected: press Ctrl+C to copy."; }
        );
      } else {
        selectIt();
        status.textContent = document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.";
      }
    });
  });
});
