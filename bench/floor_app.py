"""The floor for the load benchmark: the least a Flask app under gunicorn can do for a turn.

Every POST gets one fixed TwiML document of about the size of a real help-line turn (a
<Gather> with two <Say>s and an action), with no signature check, no Redis, no dialog. What
the full service costs beyond this is the price of the help line itself.

    gunicorn -c config/gunicorn.conf.py bench.floor_app:app
"""

from __future__ import annotations

from flask import Flask, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Response><Gather action="/voice/gather?turn=1" actionOnEmptyResult="true" '
    'hints="activation key, password, username, student number, SSN-like number" '
    'input="dtmf speech" language="en-US" method="POST" numDigits="1" speechModel="phone_call" '
    'speechTimeout="2" timeout="6">'
    '<Say language="en-US" voice="Polly.Joanna">Welcome to the Atlanta Public Schools Parent '
    "Portal help line.</Say>"
    '<Say language="en-US" voice="Polly.Joanna">Press 1 for activation keys, 2 to create your '
    "account, 3 for a forgotten username or password, 4 for student and SSN-like numbers, 5 "
    "for more, or 0 for a person.</Say></Gather></Response>"
)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def turn(path: str) -> Response:
        return Response(TWIML, mimetype="text/xml")

    return app


app = create_app()
