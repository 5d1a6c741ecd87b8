#!/usr/bin/env python3
"""Print an access token from Keyport: python3 keyport_token.py ACCOUNT (standard library only)."""
import json
import os
import socket
import sys


def token_get(account, min_valid_secs=60):
    path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "keyport", "keyport.sock")
    request = {"jsonrpc": "2.0", "id": 1, "method": "token.get",
               "params": {"account": account, "min_valid_secs": min_valid_secs}}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)  # a renewal talks to the provider first
        sock.connect(path)
        sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        with sock.makefile("rb") as stream:
            line = stream.readline(64 * 1024 + 1)  # one response line, at most 64 KiB
    if not line.endswith(b"\n"):
        raise ConnectionError("Keyport closed the connection without an answer")
    response = json.loads(line)
    if "error" in response:
        error = response["error"]
        raise RuntimeError(f"{error['message']} (error {error['code']})")
    return response["result"]["access_token"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: keyport_token.py ACCOUNT")
    try:
        print(token_get(sys.argv[1]))
    except (OSError, KeyError, RuntimeError) as err:
        sys.exit(f"keyport: {err}")
