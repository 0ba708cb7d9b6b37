"""What a secret scan must read of a file the gateway wrote: spill-journal segments frame by frame,
decompressed (their payloads are deflated, so a raw byte scan would see nothing), other files as they are."""

from __future__ import annotations

from pathlib import Path

from ongoingai.sink.spill import _read_frame


def readable_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix != ".journal":
        return data.decode("latin-1")
    parts = []
    offset = 0
    while (frame := _read_frame(data, offset)) is not None:
        parts.append(frame[0])
        offset = frame[2]
    parts.append(data[offset:])  # a torn tail, as it is
    return b"".join(parts).decode("latin-1")


def texts_under(*folders: Path) -> list[str]:
    return [readable_text(p) for folder in folders for p in folder.rglob("*") if p.is_file()]
