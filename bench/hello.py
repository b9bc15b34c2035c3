"""The API bench's baseline: a bare WSGI app that answers a short JSON body, served by the
same gunicorn with the same settings. Its rate is the ceiling of gunicorn, loopback and the
load generator on this machine, with no Django, no database and no work."""

BODY = b'{"status": "ok"}'


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
