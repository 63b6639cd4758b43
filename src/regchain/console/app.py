"""The web console (FastAPI, Jinja2 templates, served by uvicorn): read-only pages over the
indexer's database, which a background thread keeps following the chain.

    app = create_app(Follower(...), names, Users(path))
    uvicorn.run(app, host="127.0.0.1", port=8600)

Every page needs a session (log in as a user of the users file); what a page shows depends
on the role (views.ROLES). Any table of a page exports as CSV (UTF-8 with BOM, so Excel
reads Chinese) or Excel: the same URL with ``?export=csv|xlsx&table=KEY``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from regchain import calendar as cal
from regchain import indexer
from regchain.console import charts
from regchain.console.auth import Sessions, Users
from regchain.console.i18n import LANGS, words
from regchain.console.views import Table, Views, amount, date_text
from regchain.constants import Kind, SecurityStatus
from regchain.indexdb import IndexDb, SqlIndexer

COOKIE, LANG_COOKIE = "regchain_session", "regchain_lang"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class Follower:
    """The indexer following the chain: ``step()`` applies the blocks since the last one; ``start()``
    runs it every ``interval`` seconds on a thread. Pages read ``state`` under ``lock``."""

    def __init__(self, rpc_url: str, address: str, abi: list[dict], db: Path | str, network_key: str,
                 first_block: int = 0, echo=None):
        self.db = IndexDb(db)  # a SQLite file, or a postgresql:// URL
        self.rpc = indexer.HttpRpc(rpc_url, timeout=30)
        self.network_key = network_key
        self.idx = SqlIndexer(self.rpc, address, abi, db=self.db, network_key=network_key,
                              first_block=first_block, echo=echo)
        self.lock = threading.RLock()
        self.head_block = -1
        self.head_day = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> indexer.State:
        return self.idx.state

    def step(self) -> int:
        """Follow to the head; returns the number of blocks applied."""
        head = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        number = int(head["number"], 16)
        applied = 0
        if number > self.state.last_block:
            with self.lock:
                before = self.state.last_block
                self.idx.sync(number)
                applied = number - before
        self.head_block = number
        self.head_day = self.state.day_of(int(head["timestamp"], 16))
        return applied

    def code_hashes(self) -> dict[int, str]:
        """{token id: code hash} of the securities indexed so far (the books know codes by hash)."""
        with self.lock:
            return {int(sid): str(sec["code_hash"]).lower() for sid, sec in self.state.securities.items()}

    def start(self, interval: float = 0.5) -> None:
        def loop():
            while not self._stop.is_set():
                try:
                    self.step()
                    self.error = None
                except Exception as exc:  # the node went away: show it, keep trying
                    self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._stop.wait(interval)
        self._thread = threading.Thread(target=loop, name="regchain-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        with self.lock:
            self.idx.save(final=True)
        self.db.close()


def export_response(table: Table, fmt: str, w: dict) -> Response:
    header = [w.get(c, c) for c in table.columns]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(table.rows)
        body = "\ufeff" + buf.getvalue()  # BOM: Excel then reads the file as UTF-8
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{table.key}.csv"'})
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = table.key[:31]
    ws.append(header)
    for row in table.rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{table.key}.xlsx"'})


def create_app(follower: Follower, names, users: Users, sessions: Sessions | None = None) -> FastAPI:
    app = FastAPI(title="regchain console", docs_url=None, redoc_url=None, openapi_url=None)
    sessions = sessions or Sessions()

    def who(request: Request):
        return sessions.read(request.cookies.get(COOKIE))

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
        return lang if lang in LANGS else "zh"

    def page(request: Request, title: str, *, tables=(), info=(), charts_=(), forms=(), notes=()) -> Response:
        user = who(request)
        lang = lang_of(request)
        w = words(lang)
        fmt = request.query_params.get("export")
        if fmt in ("csv", "xlsx"):
            key = request.query_params.get("table")
            for _, t in tables:
                if t.key == key or key is None:
                    return export_response(t, fmt, w)
            return HTMLResponse(f"{w['not_found']}: {key}", status_code=404)
        base = {k: v for k, v in request.query_params.items() if k not in ("export", "table", "lang")}

        def export_url(t: Table, f: str) -> str:
            return f"{request.url.path}?{urlencode({**base, 'export': f, 'table': t.key})}"

        def lang_url(code: str) -> str:
            return f"{request.url.path}?{urlencode({**base, 'lang': code})}"

        resp = TEMPLATES.TemplateResponse(request, "page.html", {
            "w": w, "lang": lang, "title": title, "tables": tables, "info": info, "charts": charts_,
            "forms": forms, "notes": notes, "user": user, "export_url": export_url, "lang_url": lang_url,
            "follower": follower, "chain_day": date_text(follower.head_day)})
        if request.query_params.get("lang") in LANGS:
            resp.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="lax")
        return resp

    def views(request: Request) -> Views:
        return Views(follower.state, follower.db, follower.network_key, names, who(request)[1], follower.head_day,
                     follower.idx.holders_of)

    @app.middleware("http")
    async def require_login(request: Request, call_next):
        if request.url.path not in ("/login", "/favicon.ico") and who(request) is None:
            return RedirectResponse("/login", status_code=303)
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, error: str = ""):
        lang = lang_of(request)
        return TEMPLATES.TemplateResponse(request, "login.html", {"w": words(lang), "lang": lang, "error": error})

    @app.post("/login")
    def login(request: Request, user: str = Form(...), password: str = Form(...)):
        role = users.check(user, password)
        if role is None:
            lang = lang_of(request)
            return TEMPLATES.TemplateResponse(request, "login.html", {"w": words(lang), "lang": lang, "error": "1"},
                                              status_code=401)
        resp = RedirectResponse("/securities", status_code=303)
        resp.set_cookie(COOKIE, sessions.issue(user, role), httponly=True, samesite="strict")
        return resp

    @app.get("/logout")
    def logout():
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/")
    def home():
        return RedirectResponse("/securities", status_code=303)

    @app.get("/securities")
    def securities(request: Request, q: str = "", kind: str = "", status: str = ""):
        w = words(lang_of(request))
        with follower.lock:
            t = views(request).securities(q, kind, status)
        form = {"action": "/securities", "fields": [
            {"name": "q", "value": q, "placeholder": w["search_hint"], "label": w["search"]},
            {"name": "kind", "value": kind, "choices": [""] + [k.name for k in Kind], "label": w["kind"]},
            {"name": "status", "value": status, "choices": [""] + [s.name for s in SecurityStatus if s.value],
             "label": w["status"]}]}
        return page(request, w["securities"], tables=[(w["securities"], t)], forms=[form])

    @app.get("/securities/{sid}")
    def security(request: Request, sid: int, day: str = ""):
        w = words(lang_of(request))
        with follower.lock:
            if str(sid) not in follower.state.securities:
                return HTMLResponse(f"{w['not_found']}: {sid}", status_code=404)
            v = views(request)
            try:
                as_of = cal.day_number(dt.date.fromisoformat(day)) if day else None
            except ValueError:
                return HTMLResponse(f"{day!r}: YYYY-MM-DD", status_code=400)
            sec = follower.state.securities[str(sid)]
            code, name = v.security_label(sid)
            reg = v.register(sid, as_of)
            own = charts.ownership(v.holder_units(sid, as_of), other_label=w["others"])
            series = follower.db.holder_series(follower.network_key, sid)
            line = charts.step_line([(date_text(d), n) for d, n, _ in series], w["holder_count"])
            ins, lst = v.instructions(sid), v.listings(sid)
            terms = follower.state.transfer_terms.get(str(sid), {})
        info = [(w["code"], code), (w["name"], name), (w["kind"], Kind(sec["kind"]).name),
                (w["status"], SecurityStatus(sec["status"]).name), (w["holders"], sec["holder_count"]),
                (w["supply"], amount(sec["total_supply"], sec["unit_scale"])),
                (w["first_refusal"], w["yes"] if terms.get("first_refusal") else w["no"]),
                (w["as_of"], date_text(as_of) if as_of is not None else f"{w['today']} {date_text(v.today())}")]
        form = {"action": f"/securities/{sid}", "fields": [
            {"name": "day", "value": day, "placeholder": "YYYY-MM-DD", "label": w["as_of"], "type": "date"}]}
        notes = [w["unit_note"]] + ([w["past_note"]] if as_of is not None and as_of < v.today() else []) + (
            [] if v.show_names else [w["names_hidden"]])
        return page(request, f"{code} {name}".strip(), info=info, forms=[form], notes=notes,
                    charts_=[(w["ownership"], own), (w["holder_count"], line)],
                    tables=[(w["register"], reg), (w["instructions"], ins), (w["listings"], lst)])

    @app.get("/securities/{sid}/history")
    def security_history(request: Request, sid: int):
        w = words(lang_of(request))
        with follower.lock:
            v = views(request)
            code, name = v.security_label(sid)
            t = v.history(sid)
        return page(request, f"{w['history']}: {code} {name}".strip(), tables=[(w["history"], t)])

    @app.get("/accounts")
    def accounts(request: Request, q: str = ""):
        w = words(lang_of(request))
        with follower.lock:
            t = views(request).accounts(q)
        form = {"action": "/accounts", "fields": [{"name": "q", "value": q, "placeholder": w["account_hint"],
                                                   "label": w["search"]}]}
        return page(request, w["accounts"], tables=[(w["accounts"], t)], forms=[form])

    @app.get("/accounts/{address}")
    def account(request: Request, address: str):
        w = words(lang_of(request))
        with follower.lock:
            match = next((a for a in set(follower.state.accounts) | {k.split("|")[0] for k in follower.state.holdings}
                          if a.lower() == address.lower()), None)
            if match is None:
                return HTMLResponse(f"{w['not_found']}: {address}", status_code=404)
            v = views(request)
            no, name = v.holder_labels([match])[match]
            tables = [(w["holdings"], v.holdings_of(match)), (w["pledges"], v.pledges_of(match)),
                      (w["freezes"], v.freezes_of(match))]
        info = [(w["account_no"], no or w["none"])] + ([(w["holder"], name)] if v.show_names else []) + [
            (w["address"], match)]
        return page(request, no or match, info=info, tables=tables,
                    notes=[] if v.show_names else [w["names_hidden"]])

    @app.get("/progress")
    def progress(request: Request):
        w = words(lang_of(request))
        with follower.lock:
            v = views(request)
            tables = [(w["instructions"], v.instructions()), (w["listings"], v.listings())]
        return page(request, w["in_progress"], tables=tables)

    @app.get("/history")
    def history(request: Request):
        w = words(lang_of(request))
        with follower.lock:
            t = views(request).history(None, limit=500)
        return page(request, w["history"], tables=[(w["history"], t)])

    @app.get("/health")
    def health():
        return {"block": follower.state.last_block, "head": follower.head_block, "error": follower.error,
                "time": time.time()}

    return app
