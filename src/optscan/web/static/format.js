/* What optscan's pages share: how a time is shown to people. */
(function () {
  "use strict";

  function when(iso) {
    // "2026-11-30T04:36:25.718260-05:00" -> "2026-11-30 04:36:25 ET" (New York time,
    // as optscan prints every time for people); another offset is shown as it is
    var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?([+-]\d\d:\d\d|Z)?$/.exec(iso || "");
    if (!m) return iso;
    var zone = m[3] === "-05:00" || m[3] === "-04:00" ? " ET" : m[3] ? " UTC" + m[3] : "";
    return m[1] + " " + m[2] + zone;
  }

  window.optscanFormat = { when: when };
})();
