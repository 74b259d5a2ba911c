"""The test PBS server's fault knobs, its counters and its bandwidth pacer.

All of it lives on the server's one asyncio loop, so nothing here takes a lock. Faults are
set through the control port (`POST /faults` merges, `POST /reset` clears); the counted
knobs (`..._after_chunks`) count /chunk responses with status 200 that were sent completely,
on any connection, and fire once.

    faults = FaultSettings()
    faults.merge({"chunk_latency_ms": 20, "goaway_after_chunks": 3})
    for action in faults.chunk_served():   # after each complete 200 /chunk response
        ...                                # "drop", "reset" or "goaway"
"""

import asyncio
import collections

# Knob name -> (accepted JSON types, default). null sets a knob back to its default.
_KNOBS = {
    "chunk_latency_ms": ((int, float), 0),
    "bandwidth_bytes_per_s": ((int, float), 0),
    "stream_bandwidth_bytes_per_s": ((int, float), 0),
    "drop_connection_after_chunks": ((int,), 0),
    "reset_connection_after_chunks": ((int,), 0),
    "goaway_after_chunks": ((int,), 0),
    "rst_stream_after_chunks": ((int,), 0),
    "corrupt_chunks": ((list,), ()),
    "missing_chunks": ((list,), ()),
    "expire_tickets": ((bool,), False),
    "refuse_upgrades": ((int,), 0),
    "hang_chunks": ((bool,), False),
    "unauthorized_delay_ms": ((int, float), 0),
}
_COUNTED_ACTIONS = {
    "drop_connection_after_chunks": "drop",
    "reset_connection_after_chunks": "reset",
    "goaway_after_chunks": "goaway",
}


class FaultError(ValueError):
    """A `POST /faults` body that names an unknown knob or gives a value of the wrong type."""


class FaultSettings:
    def __init__(self, on_expire_tickets=lambda: None):
        self._on_expire_tickets = on_expire_tickets
        self._hang_released = asyncio.Event()
        self.reset()

    def reset(self):
        for name, (_, default) in _KNOBS.items():
            setattr(self, name, set(default) if isinstance(default, tuple) else default)
        self.rst_armed = False
        self._hang_released.set()

    def merge(self, changes):
        """Apply a subset of knobs. Validates everything before changing anything."""
        if not isinstance(changes, dict):
            raise FaultError("the body must be a JSON object")
        for name, value in changes.items():
            if name not in _KNOBS:
                raise FaultError(f"unknown fault '{name}'")
            types, _ = _KNOBS[name]
            if value is None:
                continue
            if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                raise FaultError(f"fault '{name}' wants {'/'.join(t.__name__ for t in types)}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise FaultError(f"fault '{name}' must not be negative")
            if isinstance(value, list) and not all(isinstance(d, str) for d in value):
                raise FaultError(f"fault '{name}' wants a list of hex digests")
        for name, value in changes.items():
            default = _KNOBS[name][1]
            if value is None:
                value = default
            if isinstance(default, tuple):
                value = {d.lower() for d in value}
            if name == "expire_tickets":
                if value:
                    self._on_expire_tickets()
                continue  # an action, not a state
            setattr(self, name, value)
            if name == "hang_chunks":
                (self._hang_released.clear if value else self._hang_released.set)()
            if name == "rst_stream_after_chunks":
                self.rst_armed = False

    def describe(self):
        """The current knobs, as JSON for `GET /faults`."""
        state = {}
        for name in _KNOBS:
            value = getattr(self, name)
            state[name] = sorted(value) if isinstance(value, set) else value
        state["rst_armed"] = self.rst_armed
        return state

    async def wait_unless_hanging(self):
        """Returns at once, or when `hang_chunks` is cleared."""
        await self._hang_released.wait()

    def chunk_served(self):
        """Count one complete 200 /chunk response; the connection actions that fire now."""
        actions = []
        for name, action in _COUNTED_ACTIONS.items():
            remaining = getattr(self, name)
            if remaining:
                setattr(self, name, remaining - 1)
                if remaining == 1:
                    actions.append(action)
        if self.rst_stream_after_chunks:
            self.rst_stream_after_chunks -= 1
            if self.rst_stream_after_chunks == 0:
                self.rst_armed = True
        return actions

    def take_rst(self):
        """True once, for the first /chunk stream after `rst_stream_after_chunks` ran out."""
        armed, self.rst_armed = self.rst_armed, False
        return armed


class ServerStats:
    """What `GET /stats` reports (plus the leaf certificate's fingerprint, added by the server)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.connections = 0
        self.upgrades = 0
        self.upgrade_failures = 0
        self.logins = 0
        self.login_failures = 0
        self.downloads = collections.Counter()
        self.chunk_requests = 0
        self.chunk_requests_by_digest = collections.Counter()
        self.chunk_200 = 0
        self.chunk_401 = 0
        self.chunk_400 = 0
        self.chunk_bytes = 0
        self.streams_refused = 0
        self.max_streams_in_flight = 0
        self.sessions_open = 0
        self.ciphers = collections.Counter()  # negotiated cipher suite -> connections

    def to_json(self):
        return {
            "connections": self.connections,
            "upgrades": self.upgrades,
            "upgrade_failures": self.upgrade_failures,
            "logins": self.logins,
            "login_failures": self.login_failures,
            "downloads": dict(self.downloads),
            "chunk_requests": self.chunk_requests,
            "chunk_requests_by_digest": dict(self.chunk_requests_by_digest),
            "chunk_200": self.chunk_200,
            "chunk_401": self.chunk_401,
            "chunk_400": self.chunk_400,
            "chunk_bytes": self.chunk_bytes,
            "streams_refused": self.streams_refused,
            "max_streams_in_flight": self.max_streams_in_flight,
            "sessions_open": self.sessions_open,
            "ciphers": dict(self.ciphers),
        }


_PACER_CREDIT_SECONDS = 0.01


class BandwidthPacer:
    """Spaces out response bytes so that they leave at no more than a given rate.

    Each reservation takes the next free slot of the virtual link, so concurrent streams
    interleave in slices instead of waiting for each other's whole bodies."""

    def __init__(self):
        self._next_free = 0.0

    @staticmethod
    def slice_bytes(rate):
        """How many bytes to send per reservation: about 1/50 s of the link, 16-512 KiB."""
        return int(max(16 * 1024, min(512 * 1024, rate / 50)))

    async def pace(self, nbytes, rate):
        if rate <= 0:
            self._next_free = 0.0
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        # A little credit for the last sleep's overshoot, so the rate holds; no more, so an
        # idle link does not save up a burst.
        start = max(now - _PACER_CREDIT_SECONDS, self._next_free)
        self._next_free = start + nbytes / rate
        if start > now:
            await asyncio.sleep(start - now)
