/* Behaviour every page shares, attached by data attributes (the Content-Security-Policy allows
   no inline scripts or on* handlers):
   - select[data-autosubmit]  sends its form when changed (the language switch);
   - [data-confirm]           asks before a submit button sends its form;
   - input[data-select-all]   selects its whole text when clicked (a feed address to copy);
   - .nav-toggle              opens and closes the navigation on narrow screens. */
(function () {
  /* The calendar's "now" line: the server says the park's local date and time (data-now on
     #week); the line sits in today's column and moves on every minute. */
  function placeNow() {
    var week = document.getElementById("week");
    if (!week || !week.dataset.now) return;
    var parts = week.dataset.now.split(" ");
    var hm = parts[1].split(":");
    var loaded = week.dataset.loadedAt ? +week.dataset.loadedAt : Date.now();
    week.dataset.loadedAt = loaded;
    var minutes = (+hm[0]) * 60 + (+hm[1]) + (Date.now() - loaded) / 60000;
    var line = week.querySelector(".cal-now");
    var col = week.querySelector('.cal-col[data-date="' + parts[0] + '"]');
    if (!col || minutes >= 1440) { if (line) line.remove(); return; }
    if (!line) {
      line = document.createElement("div");
      line.className = "cal-now";
      line.setAttribute("aria-hidden", "true");
    }
    if (line.parentNode !== col) {
      col.appendChild(line);
      // A phone shows one day: open the week on today's.
      var cal = col.closest(".cal");
      var day = col.closest(".cal-day");
      if (cal && day && cal.scrollWidth > cal.clientWidth) {
        cal.scrollLeft = day.offsetLeft - cal.querySelector(".cal-hours").offsetWidth;
      }
    }
    line.style.top = (minutes / 14.4).toFixed(3) + "%";
  }
  document.addEventListener("DOMContentLoaded", placeNow);
  document.addEventListener("htmx:afterSettle", placeNow);
  setInterval(placeNow, 60000);

  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });
  document.addEventListener("click", function (event) {
    var ask = event.target.closest("[data-confirm]");
    if (ask && !window.confirm(ask.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var input = event.target.closest("input[data-select-all]");
    if (input) input.select();
    var toggle = event.target.closest(".nav-toggle");
    if (toggle) {
      var bar = toggle.closest(".topbar");
      var open = bar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });
})();
