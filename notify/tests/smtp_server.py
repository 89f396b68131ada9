#!/usr/bin/env python3
"""Loopback SMTP server for notify's e-mail tests, on Debian's python3-aiosmtpd.

Listens on 127.0.0.1:PORT in one of the three modes the mailer supports (plain, STARTTLS,
implicit TLS), optionally requiring AUTH with one user. Prints READY once listening, then
one line per accepted message: MESSAGE <file> auth=<user or -> tls=<0|1> to=<rcpts>; the
file holds the message exactly as received. Stops when stdin closes (the test dropped it).
"""
import argparse
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--dir", required=True)
parser.add_argument("--mode", choices=["none", "starttls", "tls"], default="none")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--user")
parser.add_argument("--password")
args = parser.parse_args()

# AUTH over plain SMTP is what the `none` test checks: keep aiosmtpd's warnings about it quiet.
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(args.dir, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        user = getattr(session, "faxtest_user", "-") if session.authenticated else "-"
        # STARTTLS sets session.ssl; implicit TLS only shows on the transport.
        wrapped = server.transport.get_extra_info("ssl_object") is not None
        tls = 1 if session.ssl is not None or wrapped else 0
        print(f"MESSAGE {path} auth={user} tls={tls} to={','.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == args.user
        and auth_data.password.decode() == args.password
    )
    if ok:
        session.faxtest_user = args.user
    return AuthResult(success=ok, handled=False)


kwargs = {}
if args.mode != "none":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    if args.mode == "starttls":
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
    else:
        kwargs["ssl_context"] = ctx
if args.user:
    kwargs["authenticator"] = authenticator
    kwargs["auth_required"] = True
    # Over plain SMTP too (mode `none`): the test checks that credentials are sent. For
    # implicit TLS aiosmtpd only counts STARTTLS as encryption, so it must not require it.
    kwargs["auth_require_tls"] = args.mode == "starttls"

controller = Controller(Handler(), hostname="127.0.0.1", port=args.port, **kwargs)
controller.start()
print("READY", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
