"""An h2 server connection whose DATA frames leave without their payload being copied.

python-h2 serializes every frame into one output bytearray: a DATA frame's payload is copied
by hyperframe (memoryview.tobytes, then two joins), again into h2's buffer, and once more by
data_to_send(). For 4 MiB chunk bodies those copies, and the 4 MiB allocations behind each,
were most of the test server's CPU, on a machine where it shares the CPUs with the client it
is measured against. Here an unpadded DATA frame is queued as its 9-byte header and a view of
the caller's body; every other frame still goes through h2's buffer, and the output keeps the
order in which h2 produced it. h2's state (flow-control windows, stream states) is untouched:
only the final serialization step is replaced.

    conn = SegmentedOutputConnection(config=h2.config.H2Configuration(client_side=False))
    conn.send_data(stream_id, memoryview(body), end_stream=True)
    writer.writelines(conn.take_output())    # [b"...frames...", header, view, ...]
"""

import struct

import h2.connection
import hyperframe.frame

_FRAME_HEADER = struct.Struct(">HBBBL")  # 24-bit length (as 16 + 8), type, flags, stream id
_DATA_FLAG_BITS = dict(hyperframe.frame.DataFrame.defined_flags)


class SegmentedOutputConnection(h2.connection.H2Connection):

    def __init__(self, config=None):
        super().__init__(config=config)
        self._segments = []

    def _prepare_for_sending(self, frames):
        for frame in frames:
            if not isinstance(frame, hyperframe.frame.DataFrame) or "PADDED" in frame.flags:
                self._data_to_send += frame.serialize()
                continue
            self._take_buffered()
            length = len(frame.data)
            flags = 0
            for flag in frame.flags:
                flags |= _DATA_FLAG_BITS[flag]
            frame.body_len = length
            self._segments.append(_FRAME_HEADER.pack(length >> 8, length & 0xFF, frame.type,
                                                     flags, frame.stream_id & 0x7FFFFFFF))
            if length:
                self._segments.append(frame.data)
        assert all(f.body_len <= self.max_outbound_frame_size for f in frames)

    def _take_buffered(self):
        if self._data_to_send:
            self._segments.append(bytes(self._data_to_send))
            self._data_to_send = bytearray()

    def take_output(self):
        """Everything to send, in order, as a list of bytes-like segments (views of the
        callers' bodies among them, which must stay unchanged until written)."""
        self._take_buffered()
        segments, self._segments = self._segments, []
        return segments

    def data_to_send(self, amount=None):
        """h2's interface, for callers that want one bytes object (it copies)."""
        self._take_buffered()
        data = b"".join(self._segments)
        self._segments = []
        if amount is None or amount >= len(data):
            return data
        self._segments = [data[amount:]]
        return data[:amount]
