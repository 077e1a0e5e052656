"""`fala serve`'s HTTP server around a function (fala.local.function_url.make_server)."""

import json
import socket
import struct
import threading
import time

from fala.local.function_url import make_server


class SlowFunction:
    """Answers after a pause, as a validation does: time for the client to give up."""

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, 0

    def invoke(self, event):
        self.calls += 1
        time.sleep(self.seconds)
        return {"statusCode": 200, "body": json.dumps({"validated": True})}


def test_a_client_that_hangs_up_before_its_answer_costs_one_log_line_not_a_traceback(capsys):
    function = SlowFunction(0.5)
    httpd = make_server(function, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = socket.create_connection(("127.0.0.1", httpd.server_port))
        body = b'{"expected_speech": "ENTRADA 13 40", "audio": ""}'
        client.sendall(
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        # close with a reset (linger 0), as a client whose own timeout fired
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        err, deadline = "", time.monotonic() + 10
        while "hung up" not in err and time.monotonic() < deadline:
            time.sleep(0.05)
            err += capsys.readouterr().err
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert function.calls == 1
    assert "client hung up before its 200 answer" in err
    assert "Traceback" not in err
