"""Credentials of the test PBS server: API tokens, user passwords and the tickets issued for
them (pbs-reader-protocol.md §2.3-2.5).

A request authenticates with a `PBSAuthCookie`/`__Host-PBSAuthCookie` ticket cookie, which
wins when present, or with `Authorization: PBSAPIToken <authid>:<secret>` (a space or `=`
after the scheme, split at the first `:`, secret percent-decoded). Tickets look like PBS's
(`PBS:<userid>:<8 hex time>::<signature>`), are valid from 300 s before to `lifetime` after
their time, and all existing ones can be invalidated at once.

    auth = Credentials(tokens=["backup@pbs!restore:s3cret"], passwords=["root@pam:pw"])
    authid, reason = auth.authenticate(request.headers)   # authid None -> 401 "... - reason"
"""

import base64
import hashlib
import hmac
import os
import time
import urllib.parse

TICKET_LIFETIME = 7200
TICKET_CLOCK_SKEW = 300
COOKIE_NAMES = ("PBSAuthCookie", "__Host-PBSAuthCookie")


def split_credential(text, separator_after):
    """`NAME:SECRET` split at the first `:` (API token ids and user ids contain none)."""
    name, sep, secret = text.partition(":")
    if not sep or not name or separator_after not in name:
        raise ValueError(f"expected USER@REALM{'!TOKEN' if separator_after == '!' else ''}"
                         f":SECRET, got {text!r}")
    return name, secret


class Credentials:
    def __init__(self, tokens=(), passwords=(), ticket_lifetime=TICKET_LIFETIME):
        self.tokens = dict(split_credential(t, "!") for t in tokens)
        self.passwords = dict(split_credential(p, "@") for p in passwords)
        self.ticket_lifetime = ticket_lifetime
        self._key = os.urandom(32)
        self._tickets = {}  # ticket -> userid; tickets not in here are invalid

    def login(self, username, password):
        """(ticket, CSRF token) for a correct user and password, else None."""
        expected = self.passwords.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        stamp = f"{int(time.time()):08X}"
        ticket_data = f"PBS:{username}:{stamp}"
        ticket = f"{ticket_data}::{self._sign(ticket_data)}"
        self._tickets[ticket] = username
        csrf = f"{stamp}:{self._sign(stamp + ':' + username)}"
        return ticket, csrf

    def expire_all_tickets(self):
        self._tickets.clear()

    def authenticate(self, headers):
        """(authid, None) for valid credentials, else (None, the reason for the 401)."""
        ticket = _cookie_ticket(headers.get("cookie", ""))
        if ticket is not None:
            return self._check_ticket(ticket)
        authorization = headers.get("authorization")
        if authorization is None:
            return None, "no authentication credentials provided."
        prefix = "PBSAPIToken"
        if not authorization.startswith(prefix) or authorization[len(prefix):][:1] not in " =":
            return None, "invalid authorization header"
        tokenid, sep, secret = authorization[len(prefix) + 1:].partition(":")
        if not sep or "!" not in tokenid:
            return None, "invalid API token"
        expected = self.tokens.get(tokenid)
        secret = urllib.parse.unquote(secret)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return None, "invalid API token"
        return tokenid, None

    def _check_ticket(self, ticket):
        userid = self._tickets.get(ticket)
        if userid is None:
            return None, "invalid ticket"
        stamp = int(ticket.split(":")[2], 16)
        age = time.time() - stamp
        if age > self.ticket_lifetime or age < -TICKET_CLOCK_SKEW:
            return None, "ticket expired"
        return userid, None

    def _sign(self, text):
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode().rstrip("=")


def _cookie_ticket(cookie_header):
    """The percent-decoded ticket of a PBS auth cookie, or None if there is none."""
    for part in cookie_header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name in COOKIE_NAMES:
            return urllib.parse.unquote(value)
    return None
