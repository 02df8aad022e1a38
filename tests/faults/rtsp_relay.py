"""A real RTSP camera on 127.0.0.1 for the fault tests: Debian's ffmpeg publishes a video
(ANNOUNCE / RECORD, RTP interleaved on TCP) to :class:`RtspRelay`, a minimal RTSP server,
which plays it to any client (DESCRIBE / SETUP / PLAY, interleaved TCP).

ffmpeg cannot serve RTSP to players by itself (``-rtsp_flags listen`` only receives a
published stream), so this relay stands in for the camera's server. ``stop()`` takes the
camera away (the connections close, the port refuses); ``start()`` brings it back on the
same port.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from pathlib import Path

PUBLIC = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, TEARDOWN, GET_PARAMETER"


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.send_lock = threading.Lock()
        self.playing = False

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def next_item(self) -> tuple[str, bytes] | None:
        """("rtp", interleaved frame with its header) or ("request", RTSP message), None at EOF."""
        while True:
            if self.buffer[:1] == b"$":
                if len(self.buffer) >= 4:
                    size = 4 + int.from_bytes(self.buffer[2:4], "big")
                    if len(self.buffer) >= size:
                        frame, self.buffer = self.buffer[:size], self.buffer[size:]
                        return "rtp", frame
            elif b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return "request", head + b"\r\n\r\n" + rest[:length]
            if not self._fill():
                return None

    def send(self, data: bytes) -> bool:
        try:
            with self.send_lock:
                self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _headers(message: bytes) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = message.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, url, *_ = lines[0].split(" ")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return method, url, fields, body


class RtspRelay:
    """RTSP on 127.0.0.1:``port`` (0: any free port, kept across restarts)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.sdp: bytes | None = None
        self.recording = threading.Event()  # a publisher is sending
        self.plays = 0  # PLAY requests answered, over all runs
        self._conns: list[_Conn] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/walk"

    def start(self) -> RtspRelay:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(8)
        self.port = server.getsockname()[1]
        self._server = server
        self.sdp = None
        self.recording.clear()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the thread's accept(); close does not
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        self.sdp = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            conn = _Conn(sock)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: _Conn) -> None:
        try:
            while (item := conn.next_item()) is not None:
                kind, data = item
                if kind == "rtp":  # from the publisher: to every player
                    with self._lock:
                        players = [c for c in self._conns if c.playing]
                    for player in players:
                        if not player.send(data):
                            player.playing = False
                else:
                    conn.send(self._answer(conn, data))
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)

    def _answer(self, conn: _Conn, message: bytes) -> bytes:
        method, url, fields, body = _headers(message)
        extra: list[str] = []
        payload = b""
        status = "200 OK"
        if method == "OPTIONS":
            extra.append(f"Public: {PUBLIC}")
        elif method == "ANNOUNCE":
            self.sdp = body
        elif method == "DESCRIBE":
            if self.sdp is None:
                status = "404 Not Found"
            else:
                payload = self.sdp
                extra += [f"Content-Base: {self.url}/", "Content-Type: application/sdp"]
        elif method == "SETUP":
            transport = fields.get("transport", "")
            if "TCP" not in transport.upper():
                status = "461 Unsupported Transport"  # the client then asks for TCP
            else:
                extra += [f"Transport: {transport}", "Session: 12345678"]
        elif method == "RECORD":
            self.recording.set()
            extra.append("Session: 12345678")
        elif method == "PLAY":
            conn.playing = True
            self.plays += 1
            extra.append("Session: 12345678")
        elif method == "TEARDOWN":
            conn.playing = False
        head = [f"RTSP/1.0 {status}", f"CSeq: {fields.get('cseq', '0')}", *extra,
                f"Content-Length: {len(payload)}"]  # fmt: skip
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


class RtspCamera:
    """The relay plus an ffmpeg publishing ``video`` to it in a loop at its own pace."""

    def __init__(self, ffmpeg: str, video: Path, log: Path) -> None:
        self.ffmpeg = ffmpeg
        self.video = video
        self.log = log
        self.relay = RtspRelay()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.relay.url

    def start(self, timeout: float = 30.0) -> RtspCamera:
        self.relay.start()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.ffmpeg, "-nostdin", "-v", "warning", "-re", "-stream_loop", "-1",
                 "-i", str(self.video), "-an", "-c", "copy", "-f", "rtsp",
                 "-rtsp_transport", "tcp", self.relay.url],
                stdout=out, stderr=out,
            )  # fmt: skip
        if not self.relay.recording.wait(timeout):
            self.stop()
            raise RuntimeError(f"ffmpeg did not start publishing in {timeout:.0f} s: {self.log}")
        return self

    def stop(self) -> None:
        self.relay.stop()
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None
