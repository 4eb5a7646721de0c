#!/usr/bin/env python3
"""IMAP side of scripts/bench.sh: the verifier and the workload mutations (python3 imaplib).

An endpoint is HOST:PORT:USER:PASSWORD (plaintext LOGIN, loopback test servers only).

    imapctl.py verify A B [--json FILE]
        Compares both accounts: the mailbox lists, and per mailbox the messages (SHA-256 of
        BODY[]) with their flags. Exit 0 when they converged, 3 when not. "Converged" means the
        same mailboxes, the same messages up to an added X-TUID header (mbsync's), and the same
        system flags; the JSON also says whether copies are byte-identical and keywords equal.
    imapctl.py incremental A B --seed S --base N
        Workload (c): flags changed on 1 % of the messages on each side (disjoint sets), 100
        new messages (corpus indexes N, N+1, ...) appended on A, 50 messages expunged on B.
    imapctl.py move A --seed S [--count 1000]
        Workload (d): UID MOVE of COUNT messages (at most half of it) from the largest mailbox
        to the second largest on A.
Messages are picked by Message-ID with a seeded generator, so every tool gets the same
changes.
"""
import argparse
import hashlib
import imaplib
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

SYSTEM_FLAGS = {"\\seen", "\\answered", "\\flagged", "\\draft", "\\deleted"}
LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')
FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")
UID_RE = re.compile(rb"UID (\d+)")
XTUID_RE = re.compile(rb"(?im)^X-TUID: [^\r\n]*\r\n")


def connect(spec):
    host, port, user, password = spec.split(":", 3)
    c = imaplib.IMAP4(host, int(port))
    c.login(user, password)
    return c


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(typ, data, what):
    if typ != "OK":
        raise SystemExit(f"imapctl: {what} failed: {data}")
    return data


def list_mailboxes(c):
    out = []
    for line in check(*c.list('""', "*"), "LIST"):
        if isinstance(line, tuple):  # name sent as a literal
            head, name = line
            attrs = LIST_RE.match(head + b'""')
            attrs = attrs.group("attrs") if attrs else b""
            name = name.decode()
        else:
            m = LIST_RE.match(line)
            if not m:
                continue
            attrs, name = m.group("attrs"), m.group("name").decode()
            if name.startswith('"'):
                name = re.sub(r'\\(.)', r'\1', name[1:-1])
        if b"\\Noselect" in attrs or b"\\NonExistent" in attrs:
            continue
        out.append(name)
    return sorted(out)


def fetch_all(c, mailbox, items, chunk=1000):
    """Yields (head bytes, literal bytes or None) per message of `mailbox` (read-only)."""
    typ, data = c.select(quote(mailbox), readonly=True)
    check(typ, data, f"EXAMINE {mailbox}")
    exists = int(data[0])
    for start in range(1, exists + 1, chunk):
        end = min(exists, start + chunk - 1)
        for part in check(*c.fetch(f"{start}:{end}", items), f"FETCH {mailbox}"):
            if isinstance(part, tuple):
                yield part[0], part[1]
            elif part not in (b")", None) and part.strip():
                yield part, None


def snapshot(c):
    """{mailbox: [(strict hash, normalized hash, system flags, keywords, has_xtuid)]}"""
    boxes = {}
    for mb in list_mailboxes(c):
        msgs = []
        for head, body in fetch_all(c, mb, "(FLAGS BODY.PEEK[])"):
            body = body or b""
            flags = FLAGS_RE.search(head)
            flags = flags.group(1).decode().split() if flags else []
            sys_flags = frozenset(f.lower() for f in flags if f.lower() in SYSTEM_FLAGS)
            keywords = frozenset(f for f in flags if not f.startswith("\\"))
            split = body.find(b"\r\n\r\n")
            header = body[:split + 2] if split >= 0 else body
            norm_header, n = XTUID_RE.subn(b"", header)
            norm = norm_header + (body[split + 2:] if split >= 0 else b"")
            msgs.append((hashlib.sha256(body).hexdigest(), hashlib.sha256(norm).hexdigest(),
                         sys_flags, keywords, n > 0))
        boxes[mb] = msgs
    return boxes


def cmd_verify(args):
    # Both sides at once: the servers do most of the work, the hashing releases the GIL.
    snaps = {}

    def take(key, spec):
        c = connect(spec)
        snaps[key] = snapshot(c)
        c.logout()

    threads = [threading.Thread(target=take, args=(k, spec)) for k, spec in
               (("a", args.a), ("b", args.b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if "a" not in snaps or "b" not in snaps:
        raise SystemExit("imapctl: verify could not read both accounts")
    sa, sb = snaps["a"], snaps["b"]
    problems = []
    converged = identical = keywords_equal = True
    xtuid = 0
    if set(sa) != set(sb):
        converged = False
        problems.append(f"mailboxes only on A: {sorted(set(sa) - set(sb))}, "
                        f"only on B: {sorted(set(sb) - set(sa))}")
    for mb in sorted(set(sa) & set(sb)):
        ma = sorted(sa[mb], key=lambda m: m[1])
        mbx = sorted(sb[mb], key=lambda m: m[1])
        xtuid += sum(m[4] for m in ma) + sum(m[4] for m in mbx)
        if [m[1] for m in ma] != [m[1] for m in mbx]:
            converged = False
            only_a = len({m[1] for m in ma} - {m[1] for m in mbx})
            only_b = len({m[1] for m in mbx} - {m[1] for m in ma})
            problems.append(f"{mb}: {len(ma)} vs {len(mbx)} messages, {only_a} only on A, "
                            f"{only_b} only on B")
            continue
        if [m[0] for m in ma] != [m[0] for m in mbx]:
            identical = False
        sys_diff = sum(1 for x, y in zip(ma, mbx) if x[2] != y[2])
        kw_diff = sum(1 for x, y in zip(ma, mbx) if x[3] != y[3])
        if sys_diff:
            converged = False
            problems.append(f"{mb}: system flags differ on {sys_diff} messages")
        if kw_diff:
            keywords_equal = False
            problems.append(f"{mb}: keywords differ on {kw_diff} messages")
    result = {
        "converged": converged,
        "identical": identical and converged,
        "keywords_equal": keywords_equal,
        "xtuid_headers": xtuid,
        "messages": [sum(len(v) for v in sa.values()), sum(len(v) for v in sb.values())],
        "mailboxes": [len(sa), len(sb)],
        "problems": problems[:20],
    }
    text = json.dumps(result)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0 if converged else 3


def index_side(c):
    """[(message-id, mailbox, uid, flags)] sorted by Message-ID."""
    out = []
    for mb in list_mailboxes(c):
        for head, body in fetch_all(c, mb, "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
            uid = UID_RE.search(head)
            if not uid:
                continue
            flags = FLAGS_RE.search(head)
            flags = flags.group(1).decode().split() if flags else []
            mid = (body or b"").decode("utf-8", "replace").strip()
            out.append((mid, mb, int(uid.group(1)), flags))
    out.sort()
    return out


def by_mailbox(entries):
    groups = {}
    for e in entries:
        groups.setdefault(e[1], []).append(e)
    return groups


def uidset(entries):
    return ",".join(str(e[2]) for e in sorted(entries, key=lambda e: e[2]))


def toggle_flags(c, entries):
    for mb, group in sorted(by_mailbox(entries).items()):
        check(*c.select(quote(mb)), f"SELECT {mb}")
        for flag in ("\\Flagged", "\\Seen"):
            on = [e for e in group if flag in e[3]]
            off = [e for e in group if flag not in e[3]]
            if on:
                check(*c.uid("STORE", uidset(on), "-FLAGS.SILENT", f"({flag})"), "STORE")
            if off:
                check(*c.uid("STORE", uidset(off), "+FLAGS.SILENT", f"({flag})"), "STORE")


def cmd_incremental(args):
    a, b = connect(args.a), connect(args.b)
    ia, ib = index_side(a), index_side(b)
    ids_b = {e[0]: e for e in ib}
    common = [e for e in ia if e[0] in ids_b]
    rng = random.Random(f"{args.seed}:incremental")
    k = max(1, round(len(common) * 0.01))
    n_exp = min(50, max(0, len(common) - 2 * k))
    picked = rng.sample(common, min(len(common), 2 * k + n_exp))
    flags_a = picked[:k]
    flags_b = [ids_b[e[0]] for e in picked[k:2 * k]]
    expunge_b = [ids_b[e[0]] for e in picked[2 * k:]]
    toggle_flags(a, flags_a)
    toggle_flags(b, flags_b)
    for mb, group in sorted(by_mailbox(expunge_b).items()):
        check(*b.select(quote(mb)), f"SELECT {mb}")
        check(*b.uid("STORE", uidset(group), "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
        check(*b.uid("EXPUNGE", uidset(group)), "UID EXPUNGE")
    boxes = list_mailboxes(a)
    for j in range(args.new):
        data, flags, ts = corpus.message(args.seed, args.base + j)
        mb = boxes[rng.randrange(len(boxes))]
        data = data.replace(b"\n", b"\r\n")
        check(*a.append(quote(mb), "(" + " ".join(flags) + ")",
                        imaplib.Time2Internaldate(ts), data), f"APPEND {mb}")
    a.logout()
    b.logout()
    print(f"flags changed: {len(flags_a)} on A, {len(flags_b)} on B; appended {args.new} on A; "
          f"expunged {len(expunge_b)} on B")


def cmd_move(args):
    a = connect(args.a)
    ia = index_side(a)
    groups = by_mailbox(ia)
    sizes = sorted(groups, key=lambda mb: (-len(groups[mb]), mb))
    if len(sizes) < 2:
        raise SystemExit("imapctl: move needs two mailboxes with messages")
    src, dst = sizes[0], sizes[1]
    count = min(args.count, len(groups[src]) // 2)
    rng = random.Random(f"{args.seed}:move")
    picked = rng.sample(groups[src], count)
    check(*a.select(quote(src)), f"SELECT {src}")
    uids = sorted(e[2] for e in picked)
    for i in range(0, len(uids), 500):
        check(*a.uid("MOVE", ",".join(map(str, uids[i:i + 500])), quote(dst)), "UID MOVE")
    a.logout()
    print(f"moved {count} messages from {src} to {dst} on A")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("a")
    v.add_argument("b")
    v.add_argument("--json")
    i = sub.add_parser("incremental")
    i.add_argument("a")
    i.add_argument("b")
    i.add_argument("--seed", type=int, default=1)
    i.add_argument("--base", type=int, required=True)
    i.add_argument("--new", type=int, default=100)
    m = sub.add_parser("move")
    m.add_argument("a")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--count", type=int, default=1000)
    args = ap.parse_args()
    t0 = time.monotonic()
    rc = {"verify": cmd_verify, "incremental": cmd_incremental, "move": cmd_move}[args.cmd](args)
    print(f"({args.cmd}: {time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
