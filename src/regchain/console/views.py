"""The console's tables, built from the indexer's state and database and the operator's books,
for one role: the HTML pages and the CSV/Excel exports show the same rows.

Every table is a ``Table``: a key (the export's file name), column keys (translated by
i18n), rows of plain values. What a role may not see is never put in a row: the regulator's
reader gets account numbers, never names (ROLES)."""

from __future__ import annotations

from dataclasses import dataclass, field

from regchain import calendar as cal
from regchain.constants import InvestorClass, Kind, PledgeStatus, SecurityStatus
from regchain.indexer import (I_LAPSED, I_PROPOSED, I_REJECTED, I_SETTLED, I_WITHDRAWN, L_FAILED, L_OPEN, L_SOLD,
                              L_WITHDRAWN, State, hkey)
from regchain.legacy.clean import format_amount

OPERATOR, REGULATOR = "operator", "regulator"
# what each role may see of a holder: the operator its name from the books, the regulator's
# reader the account number only (personal data stays with the operator)
ROLES = {OPERATOR: {"names": True}, REGULATOR: {"names": False}}

STAGES = {I_PROPOSED: "PROPOSED", I_SETTLED: "SETTLED", I_REJECTED: "REJECTED", I_WITHDRAWN: "WITHDRAWN",
          I_LAPSED: "LAPSED"}
LISTING = {L_OPEN: "OPEN", L_SOLD: "SOLD", L_FAILED: "FAILED", L_WITHDRAWN: "WITHDRAWN"}


# event fields that are amounts of the security (shown in its unit)
AMOUNT_FIELDS = {"amount", "units", "paid", "remaining", "declared_total", "total_supply", "consent_units",
                 "balance"}


@dataclass
class Table:
    key: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[list] = field(default_factory=list)  # per row, per column: a URL or None


def date_text(day: int | None) -> str:
    return cal.date_of(day).isoformat() if day else ""


def amount(value: int, scale: int) -> str:
    return format_amount(int(value), scale)


class Views:
    """Tables for ``role`` over ``state`` (the register now), ``db`` (history) and ``names`` (the books)."""

    def __init__(self, state: State, db, network_key: str, names, role: str, today: int, holders_of=None):
        self.s, self.db, self.nk, self.names, self.role = state, db, network_key, names, role
        self.holders_of = holders_of or state.holders_of  # SqlIndexer.holders_of: no scan of every holding
        self.show_names = ROLES[role]["names"]
        self._today = today  # the chain's day (its head block's), not the wall clock's

    # ------------------------------------------------------------ naming

    def today(self) -> int:
        return self._today

    def security_label(self, sid: int) -> tuple[str, str]:
        found = self.names.names_for(securities=[sid]).securities.get(sid)
        return (found.code, found.name) if found else (f"#{sid}", "")

    def holder_labels(self, addresses) -> dict[str, tuple[str, str]]:
        """address -> (account number, name); the name is empty for a role that may not see it."""
        found = self.names.names_for(addresses=list(addresses)).accounts
        out = {}
        for a in addresses:
            n = found.get(a)
            out[a] = (n.account_no, n.name if self.show_names else "") if n else ("", "")
        return out

    def scale(self, sid: int) -> int:
        return self.s.securities[str(sid)]["unit_scale"]

    # ------------------------------------------------------------ securities

    def securities(self, q: str = "", kind: str = "", status: str = "") -> Table:
        t = Table("securities", ["id", "code", "name", "kind", "status", "holders", "supply", "declared"])
        wanted = None
        if q.strip():
            wanted = set(self.names.find_securities(q))
            if q.strip().lstrip("#").isdigit():
                wanted.add(int(q.strip().lstrip("#")))
        ids = sorted(int(i) for i in self.s.securities)
        found = self.names.names_for(securities=ids).securities
        for sid in ids:
            sec = self.s.securities[str(sid)]
            if wanted is not None and sid not in wanted:
                continue
            if kind and Kind(sec["kind"]).name != kind:
                continue
            if status and SecurityStatus(sec["status"]).name != status:
                continue
            n = found.get(sid)
            scale = sec["unit_scale"]
            t.rows.append([sid, n.code if n else f"#{sid}", n.name if n else "", Kind(sec["kind"]).name,
                           SecurityStatus(sec["status"]).name, sec["holder_count"],
                           amount(sec["total_supply"], scale), amount(sec["declared_total"], scale)])
            t.links.append([f"/securities/{sid}", f"/securities/{sid}", f"/securities/{sid}"] + [None] * 5)
        return t

    def register(self, sid: int, day: int | None = None) -> Table:
        """The register of ``sid`` now (day None) or at the end of a past ``day``."""
        cols = ["account_no"] + (["holder"] if self.show_names else []) + [
            "address", "balance", "share", "paid", "pledged", "frozen", "free", "lock_until"]
        t = Table(f"register-{sid}" + (f"-{date_text(day)}" if day is not None else ""), cols)
        scale = self.scale(sid)
        rows, ref = self.register_rows(sid, day)
        total = sum(r["balance"] for r in rows) or 1
        labels = self.holder_labels([r["owner"] for r in rows])
        for r in rows:
            no, name = labels[r["owner"]]
            free = max(0, r["balance"] - r["pledged"] - r["frozen"])
            lock = date_text(r["lock_until_day"]) if r["lock_until_day"] and r["lock_until_day"] > ref else ""
            t.rows.append([no] + ([name] if self.show_names else []) + [
                r["owner"], amount(r["balance"], scale), f"{100 * r['balance'] / total:.2f}%",
                amount(r["paid"], scale), amount(r["pledged"], scale), amount(r["frozen"], scale),
                amount(free, scale), lock])
            t.links.append([f"/accounts/{r['owner']}"] * (2 if self.show_names else 1) + [f"/accounts/{r['owner']}"]
                           + [None] * 7)
        return t

    def register_rows(self, sid: int, day: int | None = None) -> tuple[list[dict], int]:
        """(holdings as dicts, largest first; the day they are as of): now from the state, a past
        day from the database's history."""
        today = self.today()
        if day is not None and day < today:
            return self.db.register_on(self.nk, sid, day), day
        rows = []
        for owner, h in self.holders_of(sid):
            k = hkey(owner, sid)
            rows.append({"owner": owner, "balance": h["balance"], "paid": self.s.paid_view(owner, sid),
                         "pledged": self.s.pledged(k), "frozen": self.s.frozen(k, today),
                         "lock_until_day": h["lock_until_day"]})
        return rows, today

    def holder_units(self, sid: int, day: int | None = None) -> list[tuple[str, int]]:
        """(label, units) per holder, largest first (the ownership chart); labels as the role may see them."""
        rows, _ = self.register_rows(sid, day)
        labels = self.holder_labels([r["owner"] for r in rows])
        out = []
        for r in rows:
            no, name = labels[r["owner"]]
            out.append((name or no or r["owner"][:10] + "…", r["balance"]))
        return out

    def history(self, sid: int | None, limit: int = 1000) -> Table:
        t = Table(f"history-{sid}" if sid is not None else "history",
                  ["date", "block", "event", "category", "details", "doc", "tx"])
        for e in self.db.events_of(self.nk, sid, limit):
            t.rows.append([date_text(e["day"]), e["block"], e["event"], e["category"], self._details(e),
                           e["doc"] or "", e["tx"]])
            t.links.append([None] * 7)
        return t

    def _details(self, e: dict) -> str:
        """The event's fields, addresses shown as the role may see them, amounts in the security's unit."""
        f = e["fields"]
        sid = e["sid"]
        scale = self.scale(sid) if sid is not None and str(sid) in self.s.securities else 0
        addrs = [v for k, v in f.items() if isinstance(v, str) and len(v) == 42 and v.startswith("0x")]
        labels = self.holder_labels(addrs)
        parts = []
        for k, v in f.items():
            if k in ("doc", "id") or (isinstance(v, str) and len(v) == 66):
                continue
            if isinstance(v, str) and v in labels:
                no, name = labels[v]
                v = f"{name} ({no})" if name else (no or v)
            elif k in AMOUNT_FIELDS and isinstance(v, int):
                v = amount(v, scale)
            elif k.endswith("_at") and isinstance(v, int) and v > 0:
                v = date_text(self.s.day_of(v))
            elif k.endswith("_day") and isinstance(v, int) and v > 0:
                v = date_text(v)
            parts.append(f"{k}={v}")
        return ", ".join(parts)

    # ------------------------------------------------------------ accounts

    def accounts(self, q: str = "") -> Table:
        cols = ["account_no"] + (["holder"] if self.show_names else []) + ["address", "class", "status", "qualified"]
        t = Table("accounts", cols)
        addrs = sorted(self.s.accounts)
        if q.strip():
            wanted = self.names.find_accounts(q) if self.show_names else {
                a for a in self.names.find_accounts(q) if q.strip().lower() in
                self.names.names_for(addresses=[a]).accounts[a].account_no.lower()}
            wanted |= {a for a in addrs if a.lower() == q.strip().lower()}
            addrs = [a for a in addrs if a in wanted]
        labels = self.holder_labels(addrs)
        status = {1: "ACTIVE", 2: "SUSPENDED", 3: "CLOSED"}
        for a in addrs:
            acc = self.s.accounts[a]
            no, name = labels[a]
            t.rows.append([no] + ([name] if self.show_names else []) + [
                a, InvestorClass(acc["investor_class"]).name, status.get(acc["status"], str(acc["status"])),
                "yes" if acc["qualified"] else "no"])
            t.links.append([f"/accounts/{a}"] * len(cols))
        return t

    def holdings_of(self, owner: str) -> Table:
        t = Table(f"holdings-{owner}", ["code", "name", "balance", "paid", "pledged", "frozen", "free",
                                        "acquired", "lock_until"])
        today = self.today()
        for key, h in sorted(self.s.holdings.items()):
            o, sid = key.split("|")
            if o != owner or h["balance"] == 0:
                continue
            sid = int(sid)
            code, name = self.security_label(sid)
            scale = self.scale(sid)
            pledged, frozen = self.s.pledged(key), self.s.frozen(key, today)
            t.rows.append([code, name, amount(h["balance"], scale), amount(self.s.paid_view(o, sid), scale),
                           amount(pledged, scale), amount(frozen, scale),
                           amount(max(0, h["balance"] - pledged - frozen), scale), date_text(h["acquired_day"]),
                           date_text(h["lock_until_day"]) if h["lock_until_day"] > today else ""])
            t.links.append([f"/securities/{sid}", f"/securities/{sid}"] + [None] * 7)
        return t

    def _party(self, address: str) -> str:
        no, name = self.holder_labels([address])[address]
        if name:
            return f"{name} ({no})"
        return no or address

    def pledges_of(self, owner: str) -> Table:
        """Pledges given (in rank order per holding) and taken by ``owner``."""
        t = Table(f"pledges-{owner}", ["pledge", "code", "rank", "pledgor", "pledgee", "units", "status", "doc"])
        for p_id, p in sorted(self.s.pledges.items(), key=lambda kv: (kv[1]["id"], kv[1].get("seq") or 0,
                                                                      int(kv[0]))):
            if owner not in (p["pledgor"], p["pledgee"]):
                continue
            key = hkey(p["pledgor"], p["id"])
            ranked = self.s.pledge_ids.get(key, [])
            rank = ranked.index(int(p_id)) + 1 if int(p_id) in ranked else ""
            scale = self.scale(p["id"])
            t.rows.append([int(p_id), self.security_label(p["id"])[0], rank, self._party(p["pledgor"]),
                           self._party(p["pledgee"]), amount(p["units"], scale), PledgeStatus(p["status"]).name,
                           p["doc"]])
            t.links.append([None, f"/securities/{p['id']}", None, f"/accounts/{p['pledgor']}",
                            f"/accounts/{p['pledgee']}", None, None, None])
        return t

    def freezes_of(self, owner: str) -> Table:
        """Freezes on ``owner``'s holdings in queue order: in force, waiting, lapsed (or closed)."""
        t = Table(f"freezes-{owner}", ["freeze", "code", "queue", "units", "status", "expiry", "case_hash", "doc"])
        today = self.today()
        fids = sorted(self.s.freezes, key=lambda f: (self.s.freezes[f]["id"], self.s.freezes[f]["seq"]))
        for fid in fids:
            f = self.s.freezes[fid]
            if f["owner"] != owner:
                continue
            queue = self.s.freeze_queue.get(hkey(owner, f["id"]), [])
            pos = queue.index(int(fid)) + 1 if int(fid) in queue else ""
            t.rows.append([int(fid), self.security_label(f["id"])[0], pos, amount(f["units"], self.scale(f["id"])),
                           self.s.freeze_status(int(fid), today), date_text(f["expiry_day"]), f["case_hash"],
                           f["doc"]])
            t.links.append([None, f"/securities/{f['id']}"] + [None] * 6)
        return t

    # ------------------------------------------------------------ in progress

    def instructions(self, sid: int | None = None) -> Table:
        t = Table("instructions", ["instruction", "code", "seller", "buyer", "units", "price", "stage", "accepted",
                                   "consented", "expiry", "doc"])
        today = self.today()
        for iid in sorted(self.s.instructions, key=int):
            ins = self.s.instructions[iid]
            if sid is not None and ins["id"] != sid:
                continue
            stage = self.s.instruction_stage(int(iid), today)
            if sid is None and stage != I_PROPOSED:
                continue  # the list of work in progress; a security's page shows them all
            scale = self.scale(ins["id"])
            t.rows.append([int(iid), self.security_label(ins["id"])[0], self._party(ins["seller"]),
                           self._party(ins["buyer"]), amount(ins["units"], scale), str(ins["price"]),
                           STAGES.get(stage, str(stage)), "yes" if ins["buyer_accepted"] else "no",
                           "yes" if ins["consented"] else "no", date_text(ins["expiry_day"]), ins["doc"]])
            t.links.append([None, f"/securities/{ins['id']}", f"/accounts/{ins['seller']}",
                            f"/accounts/{ins['buyer']}"] + [None] * 7)
        return t

    def listings(self, sid: int | None = None) -> Table:
        t = Table("listings", ["listing", "code", "seller", "units", "reserve", "best_bid", "bids", "status",
                               "end", "doc"])
        for lid in sorted(self.s.listings, key=int):
            lst = self.s.listings[lid]
            if sid is not None and lst["id"] != sid:
                continue
            if sid is None and lst["status"] != L_OPEN:
                continue
            scale = self.scale(lst["id"])
            t.rows.append([int(lid), self.security_label(lst["id"])[0], self._party(lst["seller"]),
                           amount(lst["units"], scale), str(lst["reserve"]), str(lst["best_amount"]),
                           len(lst["bids"]), LISTING.get(lst["status"], str(lst["status"])),
                           date_text(lst["end_day"]), lst["doc"]])
            t.links.append([None, f"/securities/{lst['id']}", f"/accounts/{lst['seller']}"] + [None] * 7)
        return t
