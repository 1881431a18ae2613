#!/usr/bin/python3
"""Reads one saved message (smtp_sink.py's DIR/<n>.eml) with Python's email package and prints
what test_notify_email checks as one JSON object: decoded headers, the MIME tree, the text and
HTML bodies, each image's Content-ID and sha256, and whether the raw bytes are clean SMTP
(ASCII only, CRLF line ends, lines within RFC 5322's 998). `mkpng FILE` writes a valid noisy
64x48 RGB PNG (several KB, so its base64 spans many lines) for the test to send."""
import email
import email.policy
import email.utils
import hashlib
import json
import os
import struct
import sys
import zlib


def mkpng(path):
    w, h = 64, 48
    rows = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def check(path):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = raw.split(b"\r\n\r\n", 1)[0]
    out = {
        "subject": str(msg["Subject"]),
        "raw_subject_encoded": b"Subject: =?UTF-8?B?" in head,
        "from": str(msg["From"]),
        "to": [a.addr_spec for a in msg["To"].addresses] if msg["To"] else [],
        "n_to_headers": len(msg.get_all("To") or []),
        "date_epoch": int(email.utils.parsedate_to_datetime(msg["Date"]).timestamp())
        if msg["Date"] else -1,
        "message_id": str(msg["Message-ID"] or ""),
        "ascii": all(b < 128 for b in raw),
        "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
        "max_line": max(len(l) for l in raw.split(b"\r\n")),
        "types": [p.get_content_type() for p in msg.walk()],
        "text": "",
        "html": "",
        "images": [],
    }
    for p in msg.walk():
        t = p.get_content_type()
        if t == "text/plain":
            out["text"] = p.get_content()
        elif t == "text/html":
            out["html"] = p.get_content()
        elif t == "image/png":
            data = p.get_payload(decode=True)
            out["images"].append({
                "cid": str(p["Content-ID"] or ""),
                "disposition": p.get_content_disposition() or "",
                "encoding": str(p["Content-Transfer-Encoding"] or ""),
                "sha256": hashlib.sha256(data).hexdigest(),
                "png": data[:8] == b"\x89PNG\r\n\x1a\n",
            })
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    if sys.argv[1] == "mkpng":
        mkpng(sys.argv[2])
    else:
        check(sys.argv[1])
