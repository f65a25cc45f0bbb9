"""A small Outlook .msg writer for test data: an OLE compound file (MS-CFB v3) holding a message (MS-OXMSG).

extract-msg only reads MSG files and no writer is a dependency, so the tests write the few streams a message
needs themselves: class, subject, body, transport headers, one recipient, attachments by value."""
from __future__ import annotations

import struct
from datetime import datetime, timezone

_SECTOR, _MINI, _CUTOFF = 512, 64, 4096
_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_ROOT, _STORAGE, _STREAM = 5, 1, 2
_UNICODE, _BINARY, _INT, _TIME = 0x001F, 0x0102, 0x0003, 0x0040


def make_msg_bytes(subject: str, body: str, headers: dict[str, str], attachments: list[tuple[str, bytes]],
                   sent: datetime | None = None) -> bytes:
    """The bytes of an IPM.Note with `headers` as its transport headers (extract-msg reads From and To there) and
    `sent` as its submit time (where it reads the date)."""
    header_text = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Subject": subject}.items()) + "\r\n"
    strings = {0x001A: "IPM.Note", 0x0037: subject, 0x1000: body, 0x007D: header_text,
               0x0C1A: headers.get("From", "").split("<")[0].strip(), 0x0E04: headers.get("To", "")}
    root: dict = {f"__substg1.0_{pid:04X}001F": _utf16(text) for pid, text in strings.items()}
    root["__properties_version1.0"] = (
        struct.pack("<8xIIII8x", 1, len(attachments), 1, len(attachments))
        + b"".join(_variable_entry(pid, _UNICODE, len(_utf16(text))) for pid, text in strings.items())
        + (_time_entry(0x0039, sent) if sent is not None else b""))
    root["__nameid_version1.0"] = {"__substg1.0_00020102": b"", "__substg1.0_00030102": b"", "__substg1.0_00040102": b""}
    to = headers.get("To", "recipient@example.com")
    address = to.split("<")[-1].rstrip(">").strip()
    root["__recip_version1.0_#00000000"] = {
        "__substg1.0_3001001F": _utf16(to.split("<")[0].strip() or address),
        "__substg1.0_39FE001F": _utf16(address),
        "__properties_version1.0": bytes(8) + _fixed_entry(0x0C15, 1) + _fixed_entry(0x3000, 0),
    }
    for number, (name, data) in enumerate(attachments):
        extension = name[name.rfind("."):] if "." in name else ""
        root[f"__attach_version1.0_#{number:08X}"] = {
            "__substg1.0_3707001F": _utf16(name),
            "__substg1.0_3704001F": _utf16(name[:12]),
            "__substg1.0_3703001F": _utf16(extension),
            "__substg1.0_37010102": data,
            "__properties_version1.0": bytes(8) + _fixed_entry(0x3705, 1) + _fixed_entry(0x0E21, number)
            + _variable_entry(0x3701, _BINARY, len(data)),
        }
    return compound_file(root)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _time_entry(pid: int, when: datetime) -> bytes:
    """A PtypTime property: 100-nanosecond ticks since 1601-01-01 UTC (a Windows FILETIME)."""
    ticks = int((when - datetime(1601, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10_000_000)
    return struct.pack("<IIQ", (pid << 16) | _TIME, 6, ticks)


def _fixed_entry(pid: int, value: int) -> bytes:
    return struct.pack("<IIi4x", (pid << 16) | _INT, 6, value)


def _variable_entry(pid: int, kind: int, size: int) -> bytes:
    # A string's size counts its terminator, which the stream itself leaves out.
    return struct.pack("<IIII", (pid << 16) | kind, 6, size + (2 if kind == _UNICODE else 0), 0)


# --------------------------------------------------------------------------------------------
# MS-CFB: 512-byte sectors; streams under 4096 bytes in the mini stream of 64-byte sectors


def compound_file(tree: dict) -> bytes:
    """An OLE compound file of `tree` (name -> bytes for a stream, name -> dict for a storage)."""
    entries: list[dict] = [{"name": "Root Entry", "type": _ROOT, "children": []}]

    def add(parent: dict, node: dict) -> None:
        for name, value in node.items():
            entry = {"name": name, "type": _STORAGE if isinstance(value, dict) else _STREAM,
                     "data": b"" if isinstance(value, dict) else value, "children": []}
            entries.append(entry)
            parent["children"].append(len(entries) - 1)
            if isinstance(value, dict):
                add(entry, value)

    add(entries[0], tree)
    mini, mini_fat = bytearray(), []
    big = []
    for entry in entries[1:]:
        data = entry.get("data", b"")
        if entry["type"] != _STREAM or not data:
            entry["start"], entry["size"] = (_END if entry["type"] == _STREAM else 0), len(data)
        elif len(data) < _CUTOFF:
            first, count = len(mini) // _MINI, -(-len(data) // _MINI)
            mini_fat += [first + i + 1 for i in range(count - 1)] + [_END]
            mini += data.ljust(count * _MINI, b"\0")
            entry["start"], entry["size"] = first, len(data)
        else:
            big.append(entry)
    sectors = lambda size: -(-size // _SECTOR)  # noqa: E731
    n_dir = sectors(len(entries) * 128)
    n_minifat = sectors(len(mini_fat) * 4)
    n_mini = sectors(len(mini))
    n_big = sum(sectors(len(e["data"])) for e in big)
    n_fat = 1
    while n_fat * 128 < n_fat + n_dir + n_minifat + n_mini + n_big:
        n_fat += 1
    fat = [_FATSECT] * n_fat
    chains: dict[str, int] = {}

    def chain(key: str, count: int) -> int:
        if not count:
            return _END
        first = len(fat)
        fat.extend([first + i + 1 for i in range(count - 1)] + [_END])
        chains[key] = first
        return first

    dir_start = chain("dir", n_dir)
    minifat_start = chain("minifat", n_minifat)
    entries[0]["start"], entries[0]["size"] = chain("mini", n_mini), len(mini)
    for entry in big:
        entry["start"], entry["size"] = chain(entry["name"] + str(id(entry)), sectors(len(entry["data"]))), len(entry["data"])
    fat += [_FREE] * (n_fat * 128 - len(fat))
    _link_children(entries)
    header = struct.pack("<8s16sHHHHH6xIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3, 0xFFFE, 9, 6,
                         0, n_fat, dir_start, 0, _CUTOFF, minifat_start if n_minifat else _END, n_minifat, _END, 0)
    header += struct.pack("<109I", *(list(range(n_fat)) + [_FREE] * (109 - n_fat)))
    directory = b"".join(_dir_entry(e) for e in entries)
    directory += b"".join(_dir_entry({"name": "", "type": 0, "start": 0, "size": 0}) for _ in range(n_dir * 4 - len(entries)))
    body = struct.pack(f"<{len(fat)}I", *fat) + directory
    body += struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(n_minifat * _SECTOR, b"\xff")
    body += bytes(mini).ljust(n_mini * _SECTOR, b"\0")
    for entry in big:
        body += entry["data"].ljust(sectors(len(entry["data"])) * _SECTOR, b"\0")
    return header + body


def _link_children(entries: list[dict]) -> None:
    """Each storage's children as a chain of right siblings in CFB order (shorter names first, then case-blind)."""
    for entry in entries:
        entry.setdefault("left", _NOSTREAM)
        entry.setdefault("right", _NOSTREAM)
        entry.setdefault("child", _NOSTREAM)
    for entry in entries:
        ordered = sorted(entry["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        if ordered:
            entry["child"] = ordered[0]
        for here, after in zip(ordered, ordered[1:]):
            entries[here]["right"] = after


def _dir_entry(entry: dict) -> bytes:
    name = entry["name"].encode("utf-16-le")
    name_len = len(name) + 2 if entry["name"] else 0
    return struct.pack("<64sHBBIII16sIQQIQ", name.ljust(64, b"\0"), name_len, entry["type"], 1,
                       entry.get("left", _NOSTREAM), entry.get("right", _NOSTREAM), entry.get("child", _NOSTREAM),
                       bytes(16), 0, 0, 0, entry["start"], entry["size"])
