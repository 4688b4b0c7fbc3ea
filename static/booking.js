/* Resource page: a click on a free spot of the week calendar fills the booking form with that
   slot (start rounded down to the resource's time step, the minimum length as the duration),
   and lets htmx validate it at once. Without JavaScript the form works as typed. */
(function () {
  function pad(n) { return String(n).padStart(2, "0"); }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  document.addEventListener("click", function (event) {
    var col = event.target.closest(".cal-col[data-date]");
    if (!col || event.target.closest("a")) return;
    var week = col.closest("#week");
    var step = parseInt(week.dataset.step, 10) || 30;
    var length = Math.max(parseInt(week.dataset.length, 10) || 60, step);
    var rect = col.getBoundingClientRect();
    var minutes = Math.floor(((event.clientY - rect.top) / rect.height) * 1440 / step) * step;
    var parts = col.dataset.date.split("-");
    var start = new Date(+parts[0], +parts[1] - 1, +parts[2], 0, minutes);
    var end = new Date(start.getTime() + length * 60000);
    var first = document.getElementById("id_start") || document.getElementById("id_earliest_start");
    var last = document.getElementById("id_end") || document.getElementById("id_latest_end");
    if (!first || !last) return;
    first.value = local(start);
    last.value = local(end);
    last.dispatchEvent(new Event("change", { bubbles: true }));
    first.focus();
  });
})();
