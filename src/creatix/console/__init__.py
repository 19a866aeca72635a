"""The web console (``/console/``): pages for an account's people and for operators.

The server renders each page's shell (``pages.py``: who is signed in, the navigation, the
CSRF token); the page's script (``static/js/pages/``) then calls the same ``/api/account/…``
and ``/api/admin/…`` endpoints as any client, with the session cookie and the
``X-CSRF-Token`` header, so every check of the API applies to the console as it is.
Every asset is served from this package: no CDN, no Node.js, no network.
"""
