"""``optscan web``: the results page, its JSON API and, with ``--queue``, rq-dashboard
at ``/rq``, in one process served by waitress.

* :mod:`~optscan.web.server` - build the app from the settings and serve it;
* :mod:`~optscan.web.app` - the Flask app, its page registry and error pages;
* :mod:`~optscan.web.security` - the guard (Host allow-list, access token, same
  origin, CSRF, rq-dashboard's writes);
* :mod:`~optscan.web.runner` - scans in the server process or on RQ workers;
* :mod:`~optscan.web.pages`, :mod:`~optscan.web.schedules`, :mod:`~optscan.web.api` -
  the pages and the API; :mod:`~optscan.web.rq_mount` - rq-dashboard's blueprint;
* ``templates/`` and ``static/`` (``results.js``, ``web.css``; uPlot 1.6.32, MIT,
  vendored under ``static/vendor/uplot``: no CDN, the page works offline).

Flask and waitress are imported only here, never by ``optscan --help``.
"""
