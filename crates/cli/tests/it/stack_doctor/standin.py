"""A stand-in OpenAI-compatible chat-completions server for hoist's tests.

Usage: standin.py MODE RECORD_FILE PORT_FILE. Listens on 127.0.0.1 (a free
port, written to PORT_FILE), records each request's headers and body to
RECORD_FILE, and answers: MODE "ok" streams three SSE chunks then [DONE];
"401" and "500" answer those statuses with an OpenAI-style error body.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

MODE, RECORD, PORT_FILE = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(RECORD, "w", encoding="utf-8") as f:
            json.dump({"path": self.path, "authorization": self.headers.get("Authorization"),
                       "body": body.decode("utf-8")}, f)
        if MODE != "ok":
            status = int(MODE)
            text = json.dumps({"error": {"message": f"stand-in says {status}", "type": "test"}})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["The backend ", "is down: ", "scale it back up."]:
            chunk = {"model": "stand-in-model", "choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w", encoding="utf-8") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
