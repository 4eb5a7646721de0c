#!/usr/bin/env python3
"""Deterministic benchmark corpus for scripts/bench.sh.

    corpus.py maildir DIR --messages N --mailboxes M [--seed S]
        Writes N messages in M mailboxes as a Dovecot Maildir++ tree under DIR (the user's
        mail root: INBOX in DIR/{cur,new,tmp}, "a/b" in DIR/.a.b, names modified-UTF-7
        encoded, keywords in dovecot-keywords), for loading before the first login.
        Prints "messages=N bytes=B mailboxes=M".
    corpus.py message INDEX [--seed S]   one message on stdout (debugging)

Messages: sizes with a median of about 4 KB (log-normal text bodies), a tail of about 4.5 %
of 50-500 KB messages with a base64 attachment; unique Message-IDs <S.INDEX@bench.twinbox.test>;
RFC 2047 encoded non-ASCII From names and Subjects; flags \\Seen (70 %), \\Answered,
\\Flagged, keywords $Forwarded / Work. Same seed, same bytes.
"""
import argparse
import base64
import email.header
import email.utils
import math
import os
import random
import sys

DOMAIN = "bench.twinbox.test"

# Mailbox names: hierarchy, non-ASCII (modified UTF-7 on the wire), '&', spaces. None of the
# special-use names Dovecot auto-creates (Drafts, Sent, Trash, Junk, Archive).
NAME_POOL = [
    "INBOX", "Lists", "Lists/dev", "Lists/announce", "Projects", "Projects/Ünïcode",
    "Reçus", "Пример", "日本語", "Family & Friends", "Receipts 2024", "Travel",
    "Work/Reports", "Work", "Ελληνικά", "Newsletters", "Bills/Électricité", "Bills",
    "Old mail", "Café",
]

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when "
         "if so no will more can out about up other into some could them then than these "
         "mailbox server message sync flag folder attachment meeting report budget schedule "
         "review draft release version update please thanks regards").split()
NAMES_ASCII = ["Alice Martin", "Bob Smith", "Carol White", "Dave Brown", "Erin Clark",
               "Frank Lewis", "Grace Hall", "Heidi Young"]
NAMES_UTF8 = ["Zoë Müller", "Jürgen Straße", "Łukasz Wójcik", "Søren Kierkegård",
              "Дмитрий Иванов", "田中 太郎", "Ángela Núñez", "François Ça"]
SUBJ_UTF8 = ["Réunion de l'équipe", "Über den Bericht", "Отчёт за квартал", "会議の議事録",
             "Café ☕ on Friday", "Zażółć gęślą jaźń"]
KEYWORDS = ["$Forwarded", "Work"]


def mailbox_names(m):
    names = list(NAME_POOL[:m])
    i = 1
    while len(names) < m:
        names.append(f"Folder {i:03d}")
        i += 1
    return names


def mailbox_weights(m):
    """INBOX holds a quarter; the rest decays (Zipf-like) so a few mailboxes are large."""
    if m == 1:
        return [1.0]
    rest = [1.0 / (k ** 0.8) for k in range(1, m)]
    s = sum(rest)
    return [0.25] + [0.75 * r / s for r in rest]


def assign_mailboxes(n, m, seed):
    rng = random.Random(f"{seed}:placement")
    weights = mailbox_weights(m)
    return rng.choices(range(m), weights=weights, k=n)


def encode_word(text):
    return email.header.Header(text, "utf-8").encode()


def text_body(rng, target):
    lines = []
    size = 0
    while size < target:
        n = rng.randint(6, 14)
        line = " ".join(rng.choice(WORDS) for _ in range(n))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def message(seed, index):
    """Returns (bytes with LF line ends, flags list, unix time) of message `index`."""
    rng = random.Random(f"{seed}:msg:{index}")
    ts = 1_600_000_000 + index * 600 + rng.randint(0, 599)
    if rng.random() < 0.3:
        sender = encode_word(rng.choice(NAMES_UTF8))
    else:
        sender = rng.choice(NAMES_ASCII)
    if rng.random() < 0.3:
        subject = encode_word(f"{rng.choice(SUBJ_UTF8)} #{index}")
    else:
        subject = f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))} #{index}"
    date = email.utils.formatdate(ts, localtime=False)
    headers = [
        f"Return-Path: <user{index % 97}@example.org>",
        f"From: {sender} <user{index % 97}@example.org>",
        f"To: Alice <alice@{DOMAIN}>",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{seed}.{index}@{DOMAIN}>",
        "MIME-Version: 1.0",
    ]
    big = rng.random() < 0.045
    if big:
        total = rng.randint(50_000, 500_000)
        raw_len = max(1000, (total - 1500) * 3 // 4)
        payload = base64.encodebytes(rng.randbytes(raw_len)).decode("ascii")
        boundary = f"=_bench_{index}"
        text = text_body(rng, 800)
        body = (f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                f"{text}\n--{boundary}\n"
                f"Content-Type: application/octet-stream; name=\"data-{index}.bin\"\n"
                "Content-Transfer-Encoding: base64\n"
                f"Content-Disposition: attachment; filename=\"data-{index}.bin\"\n\n"
                f"{payload}\n--{boundary}--\n")
        headers.append(f"Content-Type: multipart/mixed; boundary=\"{boundary}\"")
    else:
        # Log-normal around a 3.4 KB body: whole messages have a median near 4 KB.
        target = int(min(40_000, max(300, rng.lognormvariate(math.log(3400), 0.6))))
        body = text_body(rng, target)
        headers.append("Content-Type: text/plain; charset=us-ascii")
        headers.append("Content-Transfer-Encoding: 7bit")
    data = ("\n".join(headers) + "\n\n" + body).encode("utf-8")
    flags = []
    r = rng.random()
    if r < 0.70:
        flags.append("\\Seen")
    if rng.random() < 0.10:
        flags.append("\\Answered")
    if rng.random() < 0.05:
        flags.append("\\Flagged")
    if rng.random() < 0.03:
        flags.append(KEYWORDS[rng.randrange(len(KEYWORDS))])
    return data, flags, ts


def mutf7(name):
    """RFC 3501 §5.1.3 modified UTF-7."""
    out = []
    buf = []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


MAILDIR_FLAG = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S",
                "\\Deleted": "T"}


def write_maildir(root, n, m, seed):
    names = mailbox_names(m)
    placement = assign_mailboxes(n, m, seed)
    dirs = []
    for name in names:
        if name == "INBOX":
            d = root
        else:
            d = os.path.join(root, "." + mutf7(name).replace("/", "."))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if d != root:
            open(os.path.join(d, "maildirfolder"), "w").close()
        with open(os.path.join(d, "dovecot-keywords"), "w") as f:
            for i, kw in enumerate(KEYWORDS):
                f.write(f"{i} {kw}\n")
        dirs.append(d)
    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("V\t2\n\n" + "".join(mutf7(x) + "\n" for x in names if x != "INBOX"))
    total = 0
    for i in range(n):
        data, flags, ts = message(seed, i)
        letters = sorted(MAILDIR_FLAG[f] for f in flags if f in MAILDIR_FLAG)
        letters += sorted(chr(ord("a") + KEYWORDS.index(f)) for f in flags if f in KEYWORDS)
        vsize = len(data) + data.count(b"\n")
        fname = f"{ts}.M{i}P{seed}.bench,S={len(data)},W={vsize}:2,{''.join(letters)}"
        path = os.path.join(dirs[placement[i]], "cur", fname)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (ts, ts))
        total += len(data)
    print(f"messages={n} bytes={total} mailboxes={m}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("maildir")
    a.add_argument("dir")
    a.add_argument("--messages", type=int, required=True)
    a.add_argument("--mailboxes", type=int, required=True)
    a.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("message")
    b.add_argument("index", type=int)
    b.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "maildir":
        if args.mailboxes < 1 or args.messages < 0:
            sys.exit("corpus.py: --mailboxes must be >= 1 and --messages >= 0")
        write_maildir(args.dir, args.messages, args.mailboxes, args.seed)
    else:
        data, flags, ts = message(args.seed, args.index)
        sys.stdout.buffer.write(data)
        print(f"\nflags={flags} time={ts}", file=sys.stderr)


if __name__ == "__main__":
    main()
