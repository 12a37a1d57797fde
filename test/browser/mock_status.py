#!/usr/bin/python3
"""A stand-in for the listener's status page, to prove the browser driver.

    mock_status.py PORT

serves on 127.0.0.1:PORT (loopback only) a page laid out as the status page
is (docs/HTTP.md: the DOM hooks the tests read), with the headers the
listener sends, under one path per variant:

    /                    a correct page: every SLO row, the status value
                         "<img src=x onerror=alert(1)>" escaped
    /nodata              a correct page with no SLI history ("no data")
    /xss                 that status value written unescaped
    /xss-nocsp           the same, without the Content-Security-Policy header:
                         the handler runs and calls alert()
    /csp                 a style attribute the policy does not allow
    /console-error       no policy, a script that logs an error
    /missing-row         the refund_latency row left out
    /bad-value           a data-v that is not a number
    /blank               everything hidden: a blank screenshot
    /wide                a table wider than the window
    /status-500          the correct page, with status 500

test/t/024_status_page.pl runs test/browser/status_page.py against each:
the driver must pass the first two and fail every other one, for the
reason named, or it proves nothing about the real page.  Nothing here is
the listener: it never stands in for it in a test of the listener.
"""

import base64
import hashlib
import html
import http.server
import sys

XSS = "<img src=x onerror=alert(1)>"
SLOS = ["sale_paid_availability", "stock_consume_latency", "refund_availability",
        "refund_latency", "leads_availability"]
KEYS = ["objective", "sli-5m", "sli-1h", "sli-1d", "sli-30d", "burn-1h", "budget-remaining", "alert"]

STYLE = """
body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;background:#fff}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
tr[data-alert=page]{background:#f8d0d0}tr[data-alert=ticket]{background:#fbeec0}
tr[data-alert=none]{background:#d8f0d8}tr[data-alert=nodata]{background:#eee}
svg{width:160px;height:28px}polyline{fill:none;stroke:#36c;stroke-width:1.5}
"""
STYLE_BLANK = STYLE + "body{visibility:hidden}\n"
STYLE_WIDE = STYLE + "#slos{min-width:1500px}\n"


def style_of(variant):
    return {"blank": STYLE_BLANK, "wide": STYLE_WIDE}.get(variant, STYLE)


def csp(style):
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return ("default-src 'none'; style-src 'sha256-%s'; img-src 'none'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'" % digest)


def page(variant):
    nodata = variant == "nodata"
    style = style_of(variant)
    rows = []
    for i, slo in enumerate(SLOS):
        if variant == "missing-row" and slo == "refund_latency":
            continue
        alert = "nodata" if nodata else ("page", "none", "ticket", "none", "none")[i]
        cells = []
        for k in KEYS:
            if nodata and k != "objective":
                v, text = "", "no data"
            elif k == "objective":
                v = "0.99900000000000011"
                text = "99.9 %"
            elif k == "alert":
                v = text = alert
            elif k == "burn-1h":
                v, text = "2.5000000000000022", "2.50×"
            else:
                v, text = "0.99750000000000005", "99.75 %"
            if variant == "bad-value" and i == 2 and k == "sli-1h":
                v = "0,9975"
            cells.append('<td data-k="%s" data-v="%s">%s</td>' % (k, v, html.escape(text)))
        if nodata:
            spark = '<text x="4" y="18">no data</text>'
        else:
            spark = '<polyline points="0,20 40,10 80,14 120,4 160,12"/>'
        sparks = "".join('<td><svg data-spark="%s" role="img" viewBox="0 0 160 28">'
                         '<title>%s, last %s</title>%s</svg></td>' % (w, slo, w, spark)
                         for w in ("24h", "30d"))
        rows.append('<tr data-slo="%s" data-alert="%s"><th>%s</th>%s%s</tr>'
                    % (slo, alert, slo, "".join(cells), sparks))
    status = XSS if variant in ("xss", "xss-nocsp") else html.escape(XSS)
    flows = "".join(
        '<tr data-flow="%s"><th>%s</th>%s</tr>' % (f, f, "".join(
            '<td data-k="%s" data-v="%s">%s</td>' % (k, v, v) for k, v in (
                ("success-5m", "10"), ("rejected-5m", "1"), ("failure-5m", "0"),
                ("covered-5m", "300"), ("success-total", "100"), ("rejected-total", "3"),
                ("failure-total", "1"))))
        for f in ("sales", "stock", "refunds", "leads"))
    extra = ""
    if variant == "csp":
        extra = '<p style="color:red">an inline style the policy does not allow</p>'
    elif variant == "console-error":
        extra = '<script>console.error("mock: something broke")</script>'
    as_of = "" if nodata else "2026-02-01T00:00:00.000000Z"
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>c5metrics \u2014 primary \u2014 SLO status</title>
<style>%s</style></head><body>
<h1>c5metrics: SLO status</h1>
<p id="as-of">As of <time data-v="%s">%s</time>, rendered
<time id="generated" data-v="2026-02-01T00:00:03.250000Z">2026-02-01 00:00:03 UTC</time>.</p>
<nav><a href="/metrics">metrics</a> <a href="/healthz">healthz</a> <a href="/readyz">readyz</a>
<a href="/slo.json">slo.json</a></nav>
<table id="slos"><tr><th>SLO</th>%s<th>24 h</th><th>30 d</th></tr>%s</table>
<table id="flows"><tr><th>flow</th><th colspan="7">transactions</th></tr>%s</table>
<table id="transitions"><tr><th>from</th><th>to</th><th>result</th><th>count</th></tr>
<tr><td data-k="from">pending</td><td data-k="to">paid</td><td data-k="result">success</td><td data-k="count">120</td></tr>
<tr><td data-k="from">pending</td><td data-k="to">%s</td><td data-k="result">success</td><td data-k="count">1</td></tr>
</table>
<table id="exceptions"><tr><th>condition</th><th>flow</th><th>count</th></tr>
<tr><td data-k="condition">serialization_failure</td><td data-k="flow">sales</td><td data-k="count">2</td></tr></table>
<dl id="about"><dt>role</dt><dd data-k="role">primary</dd><dt>version</dt><dd data-k="version">1.4</dd>
<dt>PostgreSQL</dt><dd data-k="postgres">15.0</dd><dt>tracked tables</dt><dd data-k="tracked">4</dd>
<dt>stats reset</dt><dd data-k="stats-reset">2026-01-31T23:00:00Z</dd>
<dt>budget window</dt><dd data-k="budget-window">30</dd></dl>
%s
</body></html>
""" % (style, as_of, as_of or "no data", "".join("<th>%s</th>" % k for k in KEYS), "".join(rows),
       flows, status, extra)


class Handler(http.server.BaseHTTPRequestHandler):
    VARIANTS = ("", "nodata", "xss", "xss-nocsp", "csp", "console-error", "missing-row",
                "bad-value", "blank", "wide", "status-500")

    def do_GET(self):
        name = self.path.lstrip("/").split("?")[0]
        if name not in self.VARIANTS:
            self.send_error(404)
            return
        variant = "good" if name == "" else name
        body = page(variant).encode()
        self.send_response(500 if variant == "status-500" else 200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        if variant not in ("xss-nocsp", "console-error"):
            self.send_header("Content-Security-Policy", csp(style_of(variant)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mock_status.py PORT")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("mock status page on http://127.0.0.1:%d/" % server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
