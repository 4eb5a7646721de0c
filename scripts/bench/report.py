#!/usr/bin/env python3
"""Summarizes scripts/bench.sh measurements: medians, ratios, target checks; table + JSON.

    report.py RESULTS.jsonl OUT.json --meta key=value ...

A (tool, workload) whose runs did not all exit 0 and converge is "did not converge" (or
"failed"): no figures are given for it, only what the verifier found.
"""
import argparse
import json
import statistics

WORKLOADS = ["initial", "noop", "incremental", "move"]
TOOLS = ["raw", "twinbox", "interimap", "mbsync"]
MiB = 1024 * 1024


def summarize(records):
    """{(compress, tool, workload): summary}"""
    groups = {}
    for r in records:
        groups.setdefault((r["compress"], r["tool"], r["workload"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        compress, tool, wl = key
        if wl == "noop-wire":
            out[key] = {
                "turns": statistics.median(r["turns"] for r in rs),
                "wire_bytes": statistics.median(r["wire_c2s"] + r["wire_s2c"] for r in rs),
                "connections": statistics.median(r["connections"] for r in rs),
            }
            continue
        ok = [r for r in rs if r["rc"] == 0 and r["verify"].get("converged")]
        s = {"runs": len(rs), "converged_runs": len(ok)}
        notes = set()
        for r in rs:
            v = r["verify"]
            if v.get("converged") and not v.get("identical"):
                notes.add("copies not byte-identical"
                          + (" (X-TUID added)" if v.get("xtuid_headers") else ""))
            if v.get("converged") and not v.get("keywords_equal", True):
                notes.add("keywords not kept")
        if len(ok) < len(rs):
            failed = [r for r in rs if r not in ok]
            f = failed[0]
            why = ("timed out" if f["rc"] in (124, 137) else f"exit {f['rc']}") if f["rc"] else ""
            if f["verify"].get("converged"):
                s["status"] = f"failed ({why})"
            else:
                s["status"] = "did not converge" + (f" ({why})" if why else "")
            s["problems"] = f["verify"].get("problems", [])[:5]
            s["stderr_tail"] = f.get("stderr_tail", [])
            s["exit_codes"] = [r["rc"] for r in rs]
        else:
            s["status"] = "ok"
            s["wall_s"] = statistics.median(r["wall"] for r in ok)
            s["cpu_s"] = statistics.median(r["cpu"] for r in ok)
            s["rss_mib"] = statistics.median(r["rss_kb"] for r in ok) / 1024
            s["server_bytes"] = statistics.median(r["server_in"] + r["server_out"] for r in ok)
            s["wall_all_s"] = [r["wall"] for r in ok]
        s["notes"] = sorted(notes)
        out[key] = s
    return out


def fmt_bytes(b):
    if b is None:
        return "-"
    if b >= 10 * MiB:
        return f"{b / MiB:.0f} MiB"
    if b >= MiB:
        return f"{b / MiB:.1f} MiB"
    return f"{b / 1024:.0f} KiB"


def table(summary, compress):
    lines = []
    hdr = (f"{'tool':<10} {'workload':<12} {'wall s':>8} {'cpu s':>7} {'RSS MiB':>8} "
           f"{'bytes':>9} {'RTs':>5}  status / notes")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for tool in TOOLS:
        for wl in WORKLOADS:
            s = summary.get((compress, tool, wl))
            if not s:
                continue
            rt = ""
            if wl == "noop":
                w = summary.get((compress, tool, "noop-wire"))
                rt = f"{w['turns']:.0f}" if w else ""
            status = s["status"]
            if s.get("notes"):
                status += "; " + "; ".join(s["notes"])
            if s["status"] == "ok":
                lines.append(f"{tool:<10} {wl:<12} {s['wall_s']:>8.2f} {s['cpu_s']:>7.2f} "
                             f"{s['rss_mib']:>8.1f} {fmt_bytes(s['server_bytes']):>9} {rt:>5}  "
                             f"{status}")
            else:
                lines.append(f"{tool:<10} {wl:<12} {'-':>8} {'-':>7} {'-':>8} {'-':>9} "
                             f"{rt:>5}  {status}: {'; '.join(s.get('problems', []))[:150]}")
    return lines


def ratios(summary, compress):
    out = {}
    tb = lambda wl: summary.get((compress, "twinbox", wl))  # noqa: E731
    for wl in WORKLOADS:
        t = tb(wl)
        if not t or t["status"] != "ok":
            continue
        for peer in ("interimap", "mbsync", "raw"):
            p = summary.get((compress if peer != "raw" else False, peer, wl))
            if not p or p["status"] != "ok":
                continue
            r = {"wall": t["wall_s"] / p["wall_s"] if p["wall_s"] else None,
                 "cpu": t["cpu_s"] / p["cpu_s"] if p["cpu_s"] else None,
                 "bytes": (t["server_bytes"] / p["server_bytes"]) if p["server_bytes"] else None}
            out[f"{wl}/{peer}"] = r
    return out


def targets(summary):
    """Checks the issue's targets on the compression-off figures."""
    g = lambda tool, wl: summary.get((False, tool, wl))  # noqa: E731
    res = []

    def add(name, ok, detail):
        res.append({"target": name, "met": ok, "detail": detail})

    t, raw = g("twinbox", "initial"), g("raw", "initial")
    if t and raw and t["status"] == raw["status"] == "ok":
        x = t["wall_s"] / raw["wall_s"]
        add("initial within 1.3x of the raw-copy limit", x <= 1.3, f"{x:.2f}x")
    else:
        add("initial within 1.3x of the raw-copy limit", False, "no figures")
    def both(a, b):
        return a and b and a["status"] == b["status"] == "ok"

    def why(a, b):
        return "no figures: " + ", ".join(
            f"{n} {x['status'] if x else 'not run'}" for n, x in (("twinbox", a), ("peer", b))
            if not x or x["status"] != "ok")

    t = g("twinbox", "noop")
    for peer, need in (("interimap", 4.0), ("mbsync", 2.5)):
        p = g(peer, "noop")
        name = f"no-op at least {need}x faster than {peer}"
        if both(t, p):
            x = p["wall_s"] / t["wall_s"]
            add(name, x >= need, f"{x:.2f}x faster")
        else:
            add(name, False, why(t, p))
    t, p = g("twinbox", "incremental"), g("mbsync", "incremental")
    name = "incremental at least 2x faster than mbsync"
    if both(t, p):
        x = p["wall_s"] / t["wall_s"]
        add(name, x >= 2, f"{x:.2f}x faster")
    else:
        add(name, False, why(t, p))
    t, p = g("twinbox", "move"), g("interimap", "move")
    name = "move: bytes at least 10x below InterIMAP"
    if both(t, p):
        x = p["server_bytes"] / max(1, t["server_bytes"])
        add(name, x >= 10, f"{x:.1f}x below")
    else:
        add(name, False, why(t, p))
    worst = [g("twinbox", wl) for wl in WORKLOADS]
    worst = [w for w in worst if w and w["status"] == "ok"]
    if worst:
        rss = max(w["rss_mib"] for w in worst)
        add("peak RSS under 16 MiB in every workload", rss < 16, f"max {rss:.1f} MiB")
        ident = all(not w["notes"] for w in worst)
        add("copies byte-identical, keywords kept", ident,
            "yes" if ident else "; ".join(sorted({n for w in worst for n in w["notes"]})))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--meta", nargs="*", default=[])
    args = ap.parse_args()
    records = [json.loads(line) for line in open(args.results) if line.strip()]
    summary = summarize(records)
    meta = dict(kv.split("=", 1) for kv in args.meta)
    modes = sorted({k[0] for k in summary})
    doc = {"meta": meta, "tables": {}, "ratios": {}, "targets": targets(summary),
           "records": records}
    print()
    print("twinbox benchmark: " + ", ".join(f"{k}={v}" for k, v in meta.items()))
    print("Figures are medians; bytes = payload the two servers received + sent (Dovecot's")
    print("counters, before compression); RTs = client turns of the no-op (counting proxy).")
    for c in modes:
        name = "deflate" if c else "plain"
        print()
        print("COMPRESS=DEFLATE on (raw-copy limit measured without)" if c
              else "Compression off")
        for line in table(summary, c):
            print(line)
        rat = ratios(summary, c)
        doc["tables"][name] = {f"{k[1]}/{k[2]}": v for k, v in summary.items() if k[0] == c}
        doc["ratios"][name] = rat
        if rat:
            print("ratios twinbox/peer (wall time; < 1 means twinbox is faster):")
            fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731 (a zero divisor)
            for k, v in sorted(rat.items()):
                print(f"  {k:<24} wall {fmt(v['wall'])}  cpu {fmt(v['cpu'])}" +
                      (f"  bytes {v['bytes']:.2f}" if v["bytes"] is not None else ""))
    print()
    print("targets (compression off):")
    for t in doc["targets"]:
        print(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['detail']}")
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
