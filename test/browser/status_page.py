#!/usr/bin/python3
"""Load c5metrics' status page in headless Chromium and check it as a person would see it.

usage: status_page.py URL --screenshot PNG [options]

Loads URL (the listener's "/") in Debian's headless Chromium through
chromedriver (python3-selenium), in a window of a fixed size, and checks:

  - the page answered 200 as text/html, with a Content-Security-Policy;
  - the page fits the window's width (no sideways scrolling);
  - the screenshot (PNG, the viewport, or the whole page with --full-page)
    has the expected size and is not blank (many distinct colours, not one
    colour nearly everywhere);
  - through the DOM: one row per SLO (#slos tr[data-slo]), in catalog
    order, each with its eight cells (data-k, data-v a number as %.17g or
    empty with the text "no data") and its two sparklines; the flows, the
    links, the about list, the language and title;
  - no <img> element and no element with an onerror attribute anywhere;
    with --xss TEXT, a cell of #transitions whose text is TEXT exactly;
  - no dialog was opened (alert, confirm, prompt or print: each is
    replaced, before the page loads, by a recorder);
  - no Content-Security-Policy violation (a securitypolicyviolation
    listener installed before the page loads, and the console), and no
    error in the browser console.

What it read goes to stdout as one JSON object: as_of, generated, slos
(data-alert and each cell's data-v and text), flows, transitions,
exceptions, about, the response headers, the console, the screenshot's
path, size and colour count, and "failures": the list of what failed.  The
caller compares the values with c5metrics.sli and c5metrics.error_budget.
Exit status 0 when every check passed, 1 when one failed (each failure
also on stderr as "status_page: FAIL: ..."), 2 on a usage error or when
the browser cannot be started.

Only the loopback address is loaded: a URL whose host is not 127.0.0.1,
[::1] or localhost is refused, and the browser resolves no host name.
"""

import argparse
import base64
import datetime
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse

SLOS = ["sale_paid_availability", "stock_consume_latency", "refund_availability",
        "refund_latency", "leads_availability"]
KEYS = ["objective", "sli-5m", "sli-1h", "sli-1d", "sli-30d", "burn-1h", "budget-remaining", "alert"]
FLOWS = ["sales", "stock", "refunds", "leads"]
FLOW_KEYS = ["success-5m", "rejected-5m", "failure-5m", "success-total", "rejected-total",
             "failure-total"]
ABOUT_KEYS = ["role", "version", "postgres", "tracked", "stats-reset", "budget-window"]
LINKS = ["/metrics", "/healthz", "/readyz", "/slo.json"]
TITLE = re.compile(r"^c5metrics \u2014 (primary|standby) \u2014 SLO status$")
# %.17g of a finite double
NUMBER = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")

# Runs before any script of the page, whatever its policy (DevTools injects
# it): records dialogs instead of opening them, and every policy violation.
PROBE = r"""
(() => {
  const rec = { dialogs: [], csp: [] };
  Object.defineProperty(window, '__c5probe', { value: rec });
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    window[name] = function (...args) {
      rec.dialogs.push(name + '(' + args.map(String).join(', ') + ')');
    };
  }
  document.addEventListener('securitypolicyviolation', (e) => {
    rec.csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || '(inline)')
                 + (e.sample ? ': ' + e.sample : ''));
  });
})();
"""

# Reads the page through the DOM (textContent, never innerHTML).
READ = r"""
const attr = (e, a) => (e ? e.getAttribute(a) : null);
const text = (e) => (e ? e.textContent.replace(/\s+/g, ' ').trim() : null);
const cells = (row, sel) => {
  const o = {};
  for (const td of row.querySelectorAll(sel)) {
    const k = td.getAttribute('data-k');
    if (k in o) { o[k + '#dup'] = true; }
    o[k] = { v: td.getAttribute('data-v'), text: text(td) };
  }
  return o;
};
const asOf = document.querySelector('#as-of time[data-v]:not(#generated)');
return {
  lang: document.documentElement.getAttribute('lang'),
  title: document.title,
  as_of: attr(asOf, 'data-v'),
  as_of_text: text(asOf),
  generated: attr(document.querySelector('time#generated'), 'data-v'),
  slos: Array.from(document.querySelectorAll('#slos tr[data-slo]')).map((tr) => ({
    slo: tr.getAttribute('data-slo'),
    alert: tr.getAttribute('data-alert'),
    cells: cells(tr, 'td[data-k]'),
    sparks: Array.from(tr.querySelectorAll('svg[data-spark]')).map((s) => ({
      spark: s.getAttribute('data-spark'),
      role: s.getAttribute('role'),
      title: text(s.querySelector('title')),
      nodata: Array.from(s.querySelectorAll('text')).some((t) => /no data/.test(t.textContent)),
      marks: s.querySelectorAll('path, polyline, line, rect, circle').length,
    })),
  })),
  flows: Array.from(document.querySelectorAll('#flows tr[data-flow]')).map((tr) => ({
    flow: tr.getAttribute('data-flow'), cells: cells(tr, 'td[data-k]') })),
  transitions: Array.from(document.querySelectorAll('#transitions tr')).filter(
    (tr) => tr.querySelector('td[data-k]')).map((tr) => {
      const o = {};
      for (const td of tr.querySelectorAll('td[data-k]')) o[td.getAttribute('data-k')] = td.textContent;
      return o;
    }),
  exceptions: Array.from(document.querySelectorAll('#exceptions tr')).filter(
    (tr) => tr.querySelector('td[data-k]')).map((tr) => {
      const o = {};
      for (const td of tr.querySelectorAll('td[data-k]')) o[td.getAttribute('data-k')] = td.textContent;
      return o;
    }),
  about: Object.fromEntries(Array.from(document.querySelectorAll('#about [data-k]')).map(
    (d) => [d.getAttribute('data-k'), text(d)])),
  links: Array.from(document.querySelectorAll('nav a[href]')).map((a) => a.getAttribute('href')),
  images: document.querySelectorAll('img').length,
  onerror: document.querySelectorAll('[onerror]').length,
  scripts: document.querySelectorAll('script').length,
  scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
  viewport: [window.innerWidth, window.innerHeight],
  dpr: window.devicePixelRatio,
  probe: window.__c5probe ? { dialogs: window.__c5probe.dialogs, csp: window.__c5probe.csp } : null,
};
"""


class Failures(list):
    def fail(self, msg):
        self.append(msg)


def parse_args():
    p = argparse.ArgumentParser(description="Check c5metrics' status page in headless Chromium.")
    p.add_argument("url", nargs="?", help="the page, e.g. http://127.0.0.1:15187/")
    p.add_argument("--screenshot", required=True, metavar="PNG",
                   help="where to save the screenshot (with --self-test: a directory)")
    p.add_argument("--self-test", action="store_true",
                   help="instead of URL, check test/browser/mock_status.py's pages, good and "
                        "broken: each broken one must fail for its reason")
    p.add_argument("--full-page", action="store_true",
                   help="the whole page, not the viewport (the width stays the window's)")
    p.add_argument("--window", default="1280x1024", metavar="WxH", help="window size (default 1280x1024)")
    p.add_argument("--auth", choices=["bearer", "basic"],
                   help="send credentials, as c5metrics.http_auth expects them")
    p.add_argument("--auth-file", metavar="FILE",
                   help="the token (bearer) or user:password (basic), as c5metrics.http_auth_file holds it")
    p.add_argument("--xss", metavar="TEXT", help="a status value that #transitions must show as text")
    p.add_argument("--slos", default=",".join(SLOS),
                   help="the SLO rows expected, in order (default: the catalog's five)")
    p.add_argument("--min-colours", type=int, default=16,
                   help="fewest distinct colours of a screenshot that is not blank (default 16)")
    p.add_argument("--timeout", type=float, default=30, help="page load time limit, seconds (default 30)")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--log", metavar="FILE", help="chromedriver's log (default: none)")
    a = p.parse_args()
    m = re.fullmatch(r"(\d+)x(\d+)", a.window)
    if not m:
        p.error("--window must be WIDTHxHEIGHT")
    a.size = (int(m.group(1)), int(m.group(2)))
    if bool(a.auth) != bool(a.auth_file):
        p.error("--auth and --auth-file go together")
    if bool(a.url) == a.self_test:
        p.error("give either URL or --self-test")
    if a.self_test:
        return a
    host = urllib.parse.urlsplit(a.url).hostname
    if host not in ("127.0.0.1", "::1", "localhost"):
        p.error("only a loopback URL is loaded (127.0.0.1, [::1] or localhost), not %r" % host)
    return a


def auth_header(a):
    with open(a.auth_file, encoding="utf-8") as f:
        secret = f.read().strip()
    if a.auth == "bearer":
        return "Bearer " + secret
    return "Basic " + base64.b64encode(secret.encode()).decode()


def start_browser(a, profile):
    # imported here so that --help works without python3-selenium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (a.chromium, a.chromedriver):
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s is not installed (Debian: apt-get install chromium chromium-driver)" % path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = a.chromium
    args = ["--headless", "--window-size=%d,%d" % a.size, "--force-device-scale-factor=1",
            "--hide-scrollbars", "--user-data-dir=" + os.path.join(profile, "chromium"), "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-domain-reliability", "--no-pings", "--no-proxy-server",
            "--disable-features=Translate,OptimizationHints,MediaRouter",
            # nothing but loopback: no host name resolves to anything
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
            "--lang=en-US"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses root otherwise; the tests run as a user
    for arg in args:
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    opts.set_capability("unhandledPromptBehavior", "ignore")
    service_args = ["--log-path=" + a.log] if a.log else []
    # whatever Chromium writes (profile, caches, fontconfig) goes to the temporary directory
    env = dict(os.environ, HOME=profile, XDG_CONFIG_HOME=os.path.join(profile, "config"),
               XDG_CACHE_HOME=os.path.join(profile, "cache"))
    service = Service(executable_path=a.chromedriver, service_args=service_args, env=env)
    return webdriver.Chrome(service=service, options=opts)


def document_response(perf_log, url):
    """The response to the page's own request, from the performance log."""
    found = None
    for entry in perf_log:
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if msg.get("method") != "Network.responseReceived":
            continue
        params = msg.get("params", {})
        if params.get("type") == "Document" and params.get("response", {}).get("url") == url:
            found = params["response"]
    return found


def check_screenshot(png, expected, min_colours, f):
    from PIL import Image

    im = Image.open(io.BytesIO(png))
    info = {"size": list(im.size)}
    if tuple(im.size) != tuple(expected):
        f.fail("the screenshot is %dx%d, not the expected %dx%d" % (im.size + tuple(expected)))
    rgb = im.convert("RGB")
    colours = rgb.getcolors(maxcolors=im.size[0] * im.size[1])
    n = len(colours)
    top = max(colours)[0] / (im.size[0] * im.size[1])
    info["colours"] = n
    info["commonest_colour_share"] = round(top, 4)
    if n < min_colours:
        f.fail("the screenshot looks blank: %d distinct colours (at least %d expected)" % (n, min_colours))
    elif top > 0.995:
        f.fail("the screenshot looks blank: one colour covers %.1f %% of it" % (100 * top))
    return info


def iso_ok(s):
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def check_dom(d, a, f):
    if d["lang"] != "en":
        f.fail('<html lang="en"> expected, lang is %r' % d["lang"])
    if not TITLE.match(d["title"] or ""):
        f.fail("unexpected title %r" % d["title"])
    if d["as_of"] is None:
        f.fail('no <time data-v> in #as-of: the page does not state the time it shows')
    elif d["as_of"] != "" and not iso_ok(d["as_of"]):
        f.fail("#as-of time data-v %r is not an ISO 8601 time" % d["as_of"])
    if d["generated"] is None or not iso_ok(d["generated"]):
        f.fail("time#generated data-v %r is not an ISO 8601 time" % d["generated"])

    want = [s for s in a.slos.split(",") if s]
    got = [r["slo"] for r in d["slos"]]
    for slo in want:
        if got.count(slo) != 1:
            f.fail("SLO row %s: %d rows (#slos tr[data-slo=%s]), 1 expected" % (slo, got.count(slo), slo))
    if sorted(set(got)) == sorted(want) and len(got) == len(want) and got != want:
        f.fail("SLO rows in the order %s, not the catalog's %s" % (got, want))
    for extra in sorted(set(got) - set(want)):
        f.fail("unexpected SLO row %s" % extra)

    for r in d["slos"]:
        slo = r["slo"]
        if r["alert"] not in ("page", "ticket", "none", "nodata"):
            f.fail("%s: data-alert %r is not page, ticket, none or nodata" % (slo, r["alert"]))
        for k in KEYS:
            c = r["cells"].get(k)
            if c is None:
                f.fail("%s: no cell data-k=%s" % (slo, k))
                continue
            if (k + "#dup") in r["cells"]:
                f.fail("%s: more than one cell data-k=%s" % (slo, k))
            v, t = c["v"], c["text"]
            if v is None:
                f.fail("%s %s: no data-v" % (slo, k))
            elif v == "":
                if "no data" not in t:
                    f.fail('%s %s: empty data-v, but the text is %r, not "no data"' % (slo, k, t))
            elif k == "alert":
                if v not in ("page", "ticket", "none"):
                    f.fail("%s alert: data-v %r is not page, ticket or none" % (slo, v))
            elif not NUMBER.match(v) or not math.isfinite(float(v)):
                f.fail("%s %s: data-v %r is not a finite number" % (slo, k, v))
            elif "no data" in t:
                f.fail('%s %s: data-v %s, but the text says "no data"' % (slo, k, v))
        if "alert" in r["cells"]:
            # with no history at all the row is "nodata" and its alert cell
            # says "no data", its data-v the view's word (or empty)
            c = r["cells"]["alert"]
            if r["alert"] == "nodata":
                if "no data" not in (c["text"] or ""):
                    f.fail('%s: data-alert "nodata", but the alert cell says %r' % (slo, c["text"]))
            elif r["alert"] != c["v"]:
                f.fail("%s: data-alert %r, but the alert cell's data-v is %r" % (slo, r["alert"], c["v"]))
            elif c["text"] != c["v"]:
                f.fail("%s: the alert cell's data-v is %r, but its text %r" % (slo, c["v"], c["text"]))
        sparks = sorted(s["spark"] or "" for s in r["sparks"])
        if sparks != ["24h", "30d"]:
            f.fail("%s: sparklines %s, one svg[data-spark] each of 24h and 30d expected" % (slo, sparks))
        for s in r["sparks"]:
            if s["role"] != "img" or not s["title"]:
                f.fail('%s: the %s sparkline lacks role="img" or a <title>' % (slo, s["spark"]))
            if not s["nodata"] and s["marks"] == 0:
                f.fail('%s: the %s sparkline draws nothing and does not say "no data"' % (slo, s["spark"]))

    flows = [r["flow"] for r in d["flows"]]
    if flows != FLOWS:
        f.fail("#flows rows %s, not %s" % (flows, FLOWS))
    for r in d["flows"]:
        missing = [k for k in FLOW_KEYS if k not in r["cells"]]
        if missing:
            f.fail("flow %s: no cell data-k=%s" % (r["flow"], ",".join(missing)))
    missing = [k for k in ABOUT_KEYS if k not in d["about"]]
    if missing:
        f.fail("#about lacks data-k=%s" % ",".join(missing))
    missing = [h for h in LINKS if h not in d["links"]]
    if missing:
        f.fail("<nav> has no link to %s" % ", ".join(missing))

    if d["images"]:
        f.fail("%d <img> element(s) in the page: user data was not escaped" % d["images"])
    if d["onerror"]:
        f.fail("%d element(s) with an onerror attribute: user data was not escaped" % d["onerror"])
    if a.xss is not None:
        shown = [c for row in d["transitions"] for c in row.values()]
        if a.xss not in shown:
            f.fail("#transitions has no cell whose text is %r (cells: %s)" % (a.xss, shown[:40]))
    probe = d["probe"]
    if probe is None:
        f.fail("the probe installed before the page did not run: dialogs and violations unknown")
    else:
        for dlg in probe["dialogs"]:
            f.fail("the page opened a dialog: %s" % dlg)
        for v in probe["csp"]:
            f.fail("Content-Security-Policy violation: %s" % v)


def check_console(log, f):
    for e in log:
        msg = e.get("message", "")
        if e.get("level") == "SEVERE":
            f.fail("console error: %s" % msg)
        elif re.search(r"Content.Security.Policy|Refused to", msg, re.I):
            f.fail("console: %s" % msg)


def check_page(driver, a, url, screenshot):
    """Load url and check it: what was read, with "failures"."""
    f = Failures()
    out = {"url": url, "screenshot": os.path.abspath(screenshot)}
    try:
        # what an earlier page left in the logs is not this page's
        driver.get_log("performance")
        driver.get_log("browser")
        started = time.monotonic()
        driver.get(url)
        # policy reports and console messages are queued tasks: let them run
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 300)));")
        out["load_seconds"] = round(time.monotonic() - started, 3)

        resp = document_response(driver.get_log("performance"), driver.current_url)
        if resp is None:
            f.fail("no response to the page's request was seen")
        else:
            headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
            out["status"] = resp.get("status")
            out["headers"] = headers
            if resp.get("status") != 200:
                f.fail("the page answered HTTP %s, not 200" % resp.get("status"))
            if not headers.get("content-type", "").startswith("text/html"):
                f.fail("Content-Type %r, not text/html" % headers.get("content-type"))
            if "default-src 'none'" not in headers.get("content-security-policy", ""):
                f.fail("no Content-Security-Policy with default-src 'none'")

        try:
            f.fail("a dialog is open: %r" % driver.switch_to.alert.text)
            driver.switch_to.alert.dismiss()
        except Exception:
            pass
        d = driver.execute_script(READ)
        check_dom(d, a, f)
        for k in ("as_of", "generated", "slos", "flows", "transitions", "exceptions", "about",
                  "links", "lang", "title", "viewport"):
            out[k] = d[k]

        if d["dpr"] != 1:
            f.fail("devicePixelRatio is %s, not 1" % d["dpr"])
        width, height = d["scroll"]
        if width > d["viewport"][0]:
            f.fail("the page is %d px wide, wider than the %d px window: it scrolls sideways"
                   % (width, d["viewport"][0]))
        if a.full_page:
            expected = (a.size[0], max(height, d["viewport"][1]))
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": expected[0], "height": expected[1], "scale": 1}})
            png = base64.b64decode(shot["data"])
        else:
            expected = tuple(d["viewport"])
            if expected != a.size:
                f.fail("the viewport is %dx%d, not the window's %dx%d" % (expected + a.size))
            png = driver.get_screenshot_as_png()
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        with open(screenshot, "wb") as fh:
            fh.write(png)
        out.update(check_screenshot(png, expected, a.min_colours, f))

        console = driver.get_log("browser")
        out["console"] = console
        check_console(console, f)
    except Exception as e:
        first = str(e).strip().splitlines()
        f.fail("%s: %s" % (type(e).__name__, first[0] if first else ""))
    out["failures"] = list(f)
    return out


# --self-test: the variants of test/browser/mock_status.py and what each
# must make the driver say (None: it must pass).
SELF_TEST = [
    ("", None),
    ("nodata", None),
    ("xss", [r"<img> element", r"#transitions has no cell whose text is",
             r"Content-Security-Policy violation: (script-src|img-src)"]),
    ("xss-nocsp", [r"the page opened a dialog: alert\(1\)"]),
    ("csp", [r"Content-Security-Policy violation: style-src", r"console error: .*Content Security Policy"]),
    ("console-error", [r"console error: .*mock: something broke"]),
    ("missing-row", [r"SLO row refund_latency: 0 rows"]),
    ("bad-value", [r"refund_availability sli-1h: data-v '0,9975' is not a finite number"]),
    ("blank", [r"the screenshot looks blank"]),
    ("wide", [r"wider than the \d+ px window"]),
    ("status-500", [r"the page answered HTTP 500"]),
]


def self_test(driver, a):
    """Prove the checks can fail: the mock page, good and broken."""
    import threading
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mock_status

    server = mock_status.http.server.ThreadingHTTPServer(("127.0.0.1", 0), mock_status.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d/" % server.server_port
    a.xss = mock_status.XSS
    passed = failed = 0
    try:
        for n, (variant, expect) in enumerate(SELF_TEST, 1):
            shot = os.path.join(a.screenshot, "selftest-%s.png" % (variant or "good"))
            out = check_page(driver, a, base + variant, shot)
            print("# %s: %.1f s" % (variant, out.get("load_seconds", -1)))
            got = out["failures"]
            if expect is None:
                bad = got
            else:
                bad = ["not said: " + p for p in expect if not any(re.search(p, g) for g in got)]
            name = "/%s %s" % (variant, "passes" if expect is None else "fails as it must")
            if bad:
                failed += 1
                print("not ok %d - %s" % (n, name))
                for g in bad + (["it said: " + g for g in got] if expect else []):
                    print("#   " + g)
            else:
                passed += 1
                print("ok %d - %s" % (n, name))
    finally:
        server.shutdown()
    print("self-test: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    a = parse_args()
    profile = tempfile.mkdtemp(prefix="c5-chromium-")
    driver = None
    try:
        try:
            driver = start_browser(a, profile)
            driver.set_page_load_timeout(a.timeout)
            # the window's size is not the page's (headless Chromium keeps
            # room for a toolbar it does not draw): fix the viewport itself
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": a.size[0], "height": a.size[1], "deviceScaleFactor": 1, "mobile": False})
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
            driver.execute_cdp_cmd("Network.enable", {})
            if a.auth:
                driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                       {"headers": {"Authorization": auth_header(a)}})
        except Exception as e:  # the browser, not the page
            print("status_page: cannot start the browser: %s" % str(e).strip(), file=sys.stderr)
            return 2
        if a.self_test:
            return self_test(driver, a)
        out = check_page(driver, a, a.url, a.screenshot)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass
        shutil.rmtree(profile, ignore_errors=True)

    print(json.dumps(out, indent=1, sort_keys=True))
    for msg in out["failures"]:
        print("status_page: FAIL: %s" % msg, file=sys.stderr)
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
