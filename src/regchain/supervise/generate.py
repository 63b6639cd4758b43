"""The generator: the register's events -> supervisory snapshots, per the field reference's mapping.

It follows the register from its checkpoint to the newest block with the indexer's own
``Decoder``/``Applier``/``State`` (regchain.indexer), one *business step* at a time:

- A transaction's events are cut into steps. A step ends at an event of ``MAPPING`` (its
  *completing* event, whose ``<block>-<logIndex>`` names the step's event objects); the movement
  events before it (``MOVEMENTS``: ``Transfer``, ``Issued``, ``FreezeTookEffect``, …) belong to it
  (a DvP's ``Transfer`` to its ``InstructionSettled``, a capital increase's ``Issued`` to its
  ``CapitalIncreased``). Movements after the last completing event of a transaction join that
  step; a transaction of plain ``Transfer``\\ s makes one transfer step per ``Transfer``.
- Before the step, the balances of every holding it touches are read from the replayed state
  (B, pledged P, frozen F by the freeze rule of the step's day); after applying the step's events,
  again. The rights records carry those before/after values.
- The step's builder (``MAPPING[event].builder``) writes the objects in the order of the reference
  (subjects, accounts, product, transaction report, rights records, settlement, roster, issuer
  subject). State objects (subject, account, product, roster) are written only when their
  content changed (a fingerprint of the body without its maintenance time): ``create`` at
  version 0, then ``update`` +1, always full snapshots. Event objects are created once.
- Each snapshot is validated (``validate.errors``: schema with formats, own checks, references,
  versions: the checks that need the store's state here, the others in the sealing workers), then
  sealed and stored (``seal.Sealer``: workers validate, seal and write the files; the index here);
  the checkpoint (indexer state, the generator's own facts, current versions) commits with the
  index in one SQLite transaction at the end of each chunk of blocks (and of a block inside one,
  every ``COMMIT_EVERY`` snapshots); each commit's snapshots are anchored by a thread beside the
  generation (``anchor.Beside`` over ``anchor.Anchorer``), their anchors recorded at the next commit.

Adding an event is one row of ``MAPPING`` (and a builder if no existing one fits).
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Callable

from regchain import indexer as ix
from regchain.supervise import SuperviseError, anchor as anchor_mod, books as books_mod, seal, store as store_mod, validate
from regchain.supervise.seal import Sealer, Signer, canonical, sm3
from regchain.supervise.store import Store

ZERO = ix.ZERO
ZERO32 = "0x" + "00" * 32
BEIJING = dt.timezone(dt.timedelta(hours=8))
CURRENCY = "156"
HOLDER_CAP = {1: 50, 2: 200, 3: 50, 4: 200}
UNIT_CODE = {1: 1, 2: 4, 3: 2, 4: 2}          # product_scale_unit / register_asset_unit by kind
PRODUCT_TYPE = {1: 1, 2: 2, 3: 5, 4: 5}       # product_type by kind
NAME_SUFFIX = {1: "股权", 2: "股份", 3: "基金份额", 4: "基金份额"}
UNIT_TEXT = {1: "元出资额", 2: "股", 3: "份", 4: "份"}
KIND_TEXT = {1: "有限责任公司股权", 2: "股份有限公司股份", 3: "有限合伙型基金份额", 4: "契约型基金份额"}
SUBJECT_TYPE = {1: 2, 2: 1, 3: 1}            # investor_class -> subject_type (1 机构, 2 个人)
LLC, LP_FUND, CONTRACT_FUND = 1, 3, 4
SUSPENDED_ACCOUNT, CLOSED_ACCOUNT = 2, 3
SEC_ACTIVE, SEC_SUSPENDED, SEC_DELISTED = 2, 3, 4
HOLDING_PERIOD_DAYS = 5
# body fields that carry the snapshot's own maintenance time: left out of the change fingerprint
MAINTENANCE = {"subject_create_time", "account_create_time", "product_create_time", "register_list_date"}
# ForcedTransfer.path (ledger.vy): who moved the units of an enforced pledge
FORCED_PATH = {ix.COURT_ENFORCEMENT: "法院执行", ix.PLEDGEE_ENFORCEMENT: "质权人"}
# validated snapshots are stored (with their seals) at the end of a chunk of blocks, or at the end of
# the transaction that makes them this many: sealing overlaps generation across small transactions
FLUSH_AT = 2048
# snapshots written between checkpoint commits inside a chunk of blocks (at a block's end): each
# commit hands its snapshots to the anchoring thread, which sends them while the next are generated;
# what is left to anchor after the last commit is at most about this many
COMMIT_EVERY = 65_536
MOVEMENTS = {"Transfer", "Issued", "FreezeTookEffect", "RefundCredited", "HoldingRecovered", "InstructionAccepted",
             "FirstRefusalExercised", "BidPlaced"}


@dataclass(frozen=True)
class Row:
    step: str       # the reference's step name
    builder: str    # Generator method writing the step's objects


# The mapping table (field reference §3.3): completing event -> step and builder.
MAPPING: dict[str, Row] = {
    "AccountOpened": Row("Account opened", "account_opened"),
    "AccountQualificationChanged": Row("Qualification changed", "qualification_changed"),
    "AccountStatusChanged": Row("Account status changed", "account_status_changed"),
    "AccountRecovered": Row("Key recovery", "account_recovered"),
    "SecurityRegistered": Row("Security registered", "security_registered"),
    "HoldingsRegistered": Row("Holdings registered", "holdings_registered"),
    "SecuritySealed": Row("Security sealed", "security_sealed"),
    "SecurityStatusChanged": Row("Status changed", "product_changed"),
    "TransferTermsSet": Row("Transfer terms", "product_changed"),
    "LockupSet": Row("Lock-up", "holding_terms"),
    "InsiderSet": Row("Insider", "holding_terms"),
    "CapitalIncreased": Row("Capital increase", "capital_increased"),
    "CapitalDecreased": Row("Capital decrease", "capital_decreased"),
    "PaidInRecorded": Row("Paid-in recorded", "paid_in_recorded"),
    "Transfer": Row("Transfer", "transfer"),
    "PledgeRegistered": Row("Pledge registered", "pledge_changed"),
    "PledgeReleased": Row("Pledge released", "pledge_changed"),
    "PledgeEnforced": Row("Pledge enforced", "forced_move"),
    # a consent produces nothing until the enforcement it allows (§3.4): recorded for that report
    "EnforcementConsented": Row("Enforcement consented", "enforcement_consented"),
    "Frozen": Row("Freeze registered", "freeze_changed"),
    "FreezeRenewed": Row("Freeze renewed", "freeze_changed"),
    "FreezeLifted": Row("Freeze lifted", "freeze_changed"),
    "FreezeLapsed": Row("Freeze lapsed", "freeze_lapsed"),
    "CourtTransferred": Row("Court transfer", "forced_move"),
    "InstructionSettled": Row("DvP settlement", "instruction_settled"),
    "ListingClosed": Row("Bid settlement", "listing_closed"),
}


# ---------------------------------------------------------------- value helpers


def number(units: int, scale: int):
    """units / 10^scale as a JSON number: an int when integral, else at most two decimals."""
    value = Decimal(units).scaleb(-scale)
    if value == value.to_integral_value():
        return int(value)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def whole(units: int, scale: int) -> int:
    """An integer-typed quantity field: rounded (the exact figure goes into a description)."""
    return int(Decimal(units).scaleb(-scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exact(units: int, scale: int) -> str:
    return f"{Decimal(units).scaleb(-scale):f}"


@lru_cache(maxsize=4096)  # a step's objects share its time
def date_time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%dT%H:%M:%S+08:00")


@lru_cache(maxsize=4096)
def date_of(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%d")


_MAINTENANCE_MEMBER = "|".join(sorted(MAINTENANCE))
_STRIP = [(re.compile(p.encode()), r.encode()) for p, r in (
    (f'"(?:{_MAINTENANCE_MEMBER})":"[^"]*",', ""),   # a maintenance time, not the last member
    (f',"(?:{_MAINTENANCE_MEMBER})":"[^"]*"', ""),   # the last member
    (f'\\{{"(?:{_MAINTENANCE_MEMBER})":"[^"]*"\\}}', "{}"),  # the only member
    ('(_ref":"[^"]*)/[0-9]+"', '\\1"'))]             # a reference's version


def fingerprint(body: dict) -> str:
    return fingerprint_bytes(canonical(body))


def fingerprint_bytes(body: bytes) -> str:
    """What decides whether a state object changed: its body (canonical bytes) without maintenance
    times, and with references without their version (a reference is not rewritten when its target
    moves on). Inside a JSON string a quote is escaped, so the patterns match members only."""
    for pattern, repl in _STRIP:
        body = pattern.sub(repl, body)
    return sm3(body)


def hex40(address: str) -> str:
    return address.lower()[2:]


@dataclass
class Step:
    """One business step: its completing event and the events that belong to it."""

    event: ix.Event
    events: list
    ts: int  # seconds
    before: dict   # holding key -> (B, P, F)
    after: dict


# ---------------------------------------------------------------- the generator


class Generator:
    def __init__(self, store: Store, books: books_mod.Books, signer: Signer, *, chain_id: int,
                 register: str, echo: Callable[[str], None] | None = None,
                 crash_at: Callable[[str], None] | None = None):
        self.store, self.books, self.signer = store, books, signer
        self.chain_id, self.register = chain_id, register
        self.op = books.operator()
        self.ns = self.op.namespace
        self.echo = echo or (lambda s: None)
        self.crash_at = crash_at or (lambda point: None)
        self.state: ix.State | None = None
        self.gen: dict = {}
        self.written: list = []  # (object_id, version) written in this run
        self.step_meta: dict = {}
        self.pending: list = []  # validated snapshots being sealed, to store (flush)
        self._sealer: Sealer | None = None
        self._holders: dict | None = None   # security id -> wallets holding it (built from the state once)
        self._issued: dict | None = None    # issuer USCC -> security ids

    # ------------------------------------------------------------ indexes over the replayed state

    def holders(self, sid) -> list[tuple[str, dict]]:
        """(wallet, holding) of every holder of ``sid``: the indexer's holders_of without a scan of
        every holding (a roster is written after most steps)."""
        if self._holders is None:
            self._holders = {}
            for key, h in self.state.holdings.items():
                if h["balance"] > 0:
                    w, i = key.split("|")
                    self._holders.setdefault(int(i), set()).add(w)
        return [(w, self.state.holdings[ix.hkey(w, int(sid))]) for w in self._holders.get(int(sid), ())]

    def _holdings_changed(self, keys) -> None:
        if self._holders is None:
            return
        for key in keys:
            w, i = key.split("|")
            h = self.state.holdings.get(key)
            if h and h["balance"] > 0:
                self._holders.setdefault(int(i), set()).add(w)
            else:
                self._holders.get(int(i), set()).discard(w)

    def issued_by(self, uscc: str) -> list[int]:
        if self._issued is None:
            self._issued = {}
            for i, sec in self.state.securities.items():
                self._issued.setdefault(self.books.security(sec["code_hash"]).issuer_uscc, set()).add(int(i))
        return sorted(self._issued.get(uscc, ()))

    # ------------------------------------------------------------ checkpoint

    def load(self, fresh: Callable[[], ix.State]) -> None:
        saved = self.store.get("state")
        self.state = ix.State.from_json(saved) if saved else fresh()
        self.gen = self.store.get("gen", {"acct": {}, "qual": {}, "sec": {}, "root": {}, "daily": {}})

    def save(self) -> None:
        self.store.set("state", self.state.to_json())
        self.store.set("gen", self.gen)
        self.store.set("chain", {"chain_id": self.chain_id, "register": self.register})
        self.store.set("last_block", self.state.last_block)

    # ------------------------------------------------------------ ids and references

    def subject_id_org(self, uscc: str) -> str:
        return f"{self.ns}:subject:org:{uscc}"

    @property
    def operator_id(self) -> str:
        return self.subject_id_org(self.op.uscc)

    def ref(self, object_id: str) -> str:
        cur = self.store.current(object_id)
        if cur is None:
            raise SuperviseError(f"reference to {object_id}, which has no snapshot yet")
        return f"{object_id}/{cur[0]}"

    def root(self, wallet: str) -> str:
        """The wallet an account was opened with (its object keeps that id through key recovery)."""
        return self.gen["root"].get(wallet, wallet)

    def account_id(self, wallet: str) -> str:
        return f"{self.ns}:account:{hex40(self.root(wallet))}"

    def identity_of(self, wallet: str) -> str:
        acct = self.state.accounts.get(wallet)
        if acct is None:
            raise SuperviseError(f"no account opened for {wallet}")
        return acct["identity"]

    def holder_subject_id(self, wallet: str) -> str:
        identity = self.identity_of(wallet)
        holder = self.books.holder(identity)
        if holder.holder_type == "INSTITUTION" and holder.id_type == "USCC":
            return self.subject_id_org(holder.id_number)
        return f"{self.ns}:subject:inv:{identity[2:].lower()}"

    def holder_name(self, wallet: str) -> str:
        return self.books.holder(self.identity_of(wallet)).name

    def sec(self, sid) -> dict:
        return self.state.securities[str(sid)]

    def sec_book(self, sid) -> books_mod.SecurityBook:
        return self.books.security(self.sec(sid)["code_hash"])

    def issuer_id(self, sid) -> str:
        return self.subject_id_org(self.sec_book(sid).issuer_uscc)

    def docs(self, doc: str | None, summary: str | None = None) -> list | None:
        if not doc or doc == ZERO32:
            return None
        file_number, title = self.books.document(doc)
        d = {"hash": doc}
        if file_number:
            d["file_number"] = file_number
        if title:
            d["file_name"] = title
        if summary:
            d["summary"] = summary
        return [d]

    # ------------------------------------------------------------ writing one snapshot

    def emit(self, typ: str, object_id: str, inner: dict, step: Step, *, state_object: bool,
             extra_meta: dict | None = None) -> str | None:
        """Validate, seal, store one snapshot; returns its reference (None: a state object unchanged)."""
        body = {validate.BODY_KEY[typ]: inner}
        body_bytes = canonical(body)
        fp = fingerprint_bytes(body_bytes)
        cur = self.store.current(object_id)
        if cur is not None:
            if not state_object:
                raise SuperviseError(f"event object {object_id} written twice (a bug)")
            if cur[1] == fp:
                return f"{object_id}/{cur[0]}"
        version = 0 if cur is None else cur[0] + 1
        ev = step.event
        meta = {"chain_id": self.chain_id, "contract": self.register.lower(), "block": ev.block, "tx": ev.tx,
                "log_index": ev.log_index, "event": ev.name}
        if ev.name == "DayBoundary":  # no business transaction: the block is the last one seen
            meta = {"chain_id": self.chain_id, "contract": self.register.lower(), "event": "DayBoundary",
                    "after_block": ev.block, "freeze_id": ev.args["freeze_id"]}
        if ev.args.get("doc") and ev.args["doc"] != ZERO32:
            meta["doc"] = ev.args["doc"]
        meta.update(extra_meta or {})
        header = {"model": {"protocol": validate.PROTOCOL, "version": validate.MODEL_VERSION},
                  "content": {"type": typ, "object_id": object_id, "version": version,
                              "operation": "create" if version == 0 else "update", "timestamp": step.ts},
                  "metadata": meta}
        # the checks that need the store's state here; the rest (schema, own checks) in the workers
        errs = validate.state_errors({"header": header, "body": body}, resolves=self._resolves,
                                     latest_version=self._latest, body_bytes=body_bytes)
        if errs:
            message = f"{object_id}/{version} is invalid: {validate.describe(errs)}"
            raise InvalidSnapshot(object_id, version, ev.block, message)
        message = b'{"body":' + body_bytes + b',"header":' + canonical(header) + b"}"  # = canonical(snap)
        self.sealer().submit(message)  # validated, sealed, written while the next snapshots are built
        self.pending.append((header["content"], message,
                             dict(business_tx=None if ev.tx == ZERO32 else ev.tx, block=ev.block,
                                  log_index=ev.log_index,
                                  step=MAPPING[ev.name].step if ev.name in MAPPING else ev.name)))
        self.store.set_current(object_id, version, fp)
        self.written.append((object_id, version))
        return f"{object_id}/{version}"

    def flush(self) -> None:
        """Store the validated snapshots of the last steps in order, with the seals the sealer made
        meanwhile (a file a killed run left with the same content is kept; a different one stops the
        run). Called before each checkpoint commit, and after a transaction once FLUSH_AT are pending."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        replies = self.sealer().results()
        for (content, _, where), (status, payload) in zip(pending, replies, strict=True):
            if status == seal.INVALID:  # neither indexed nor anchored; its file was never written
                oid, ver = content["object_id"], content["version"]
                raise InvalidSnapshot(oid, ver, where["block"], f"{oid}/{ver} is invalid: {payload.decode()}")
        if self._sealer.objects is None:  # S3: the caller stores the sealed bytes
            self.store.put_many([(content, data, message, where) for (content, message, where), (_, data)
                                 in zip(pending, replies)], lambda: self.crash_at("stored"))
            return
        for (content, _, _), (status, _) in zip(pending, replies):
            if status == seal.DIFFERS:
                raise store_mod.differs(content)
        self.store.index_many([(content, payload.decode(), where) for (content, _, where), (_, payload)
                               in zip(pending, replies)])
        for _ in pending:  # a kill point per stored snapshot (the rows are uncommitted: a kill loses them all)
            self.crash_at("stored")
        # what the replayed state and the caches gained since is long-lived: no full collection scans it
        # again (sync unfreezes at its end; a province's state is millions of objects)
        gc.freeze()

    def sealer(self) -> Sealer:
        if self._sealer is None:
            self._sealer = Sealer(self.signer, store_dir=self.store.dir)
        return self._sealer

    def close(self) -> None:
        if self._sealer is not None:
            self._sealer.close()
            self._sealer = None

    def _resolves(self, object_id: str, version: int) -> bool:
        cur = self.store.current(object_id)
        return cur is not None and version <= cur[0]

    def _latest(self, object_id: str):
        cur = self.store.current(object_id)
        return None if cur is None else cur[0]

    # ------------------------------------------------------------ state objects

    def write_operator(self, step: Step) -> str:
        inner = {"basic_information_subject": {"general_information_subject": {
                     "subject_type": 1, "subject_main_administrative_region": 0,
                     "subject_create_time": date_time(step.ts)}},
                 "organization_subject_information": {"basic_information_of_enterprise": {
                     "basic_information_description": {
                         "subject_company_name": self.op.name,
                         "subject_document_information": [{"type": 0, "code": self.op.uscc}]}}}}
        return self.emit("subject", self.operator_id, inner, step, state_object=True)

    def write_holder_subject(self, wallet: str, step: Step) -> str:
        identity = self.identity_of(wallet)
        acct = self.state.accounts[wallet]
        holder = self.books.holder(identity)
        stype = SUBJECT_TYPE[acct["investor_class"]]
        qual = self.gen["qual"].get(identity) or [acct["qualified"], step.ts, None]
        suit = {"subject_investor_qualification": 0,
                "subject_investor_qualification_description": "合格投资者" if qual[0] else "非合格投资者",
                "subject_investor_qualification_certifier_ref": self.ref(self.operator_id),
                "subject_investor_qualification_certifier_name": self.op.name,
                "subject_investor_qualification_certificate_time": date_time(qual[1]),
                "subject_investor_qualification_status": bool(qual[0])}
        if qual[2]:
            suit["subject_investor_qualification_certificate"] = self.docs(qual[2])
        inner = {"basic_information_subject": {
            "general_information_subject": {"subject_type": stype, "subject_main_administrative_region": 0,
                                            "subject_create_time": date_time(step.ts)},
            "subject_qualification_information": [{"investor_suitability_information": [suit]}]}}
        if stype == 2:
            person = {"subject_investor_name": holder.name, "subject_id_type": 0,
                      "subject_id_number": holder.id_number}
            n = holder.id_number
            if holder.id_type == "RESIDENT_ID" and len(n) == 18 and n[:17].isdigit():
                person["subject_birthday"] = f"{n[6:10]}-{n[10:12]}-{n[12:14]}"
                person["subject_gender"] = 1 if int(n[16]) % 2 else 2
            inner["personal_subject_information"] = {"personal_subject_basic_information": person}
        else:
            desc = {"subject_company_name": holder.name}
            if holder.id_type == "USCC":
                desc["subject_document_information"] = [{"type": 0, "code": holder.id_number}]
            inner["organization_subject_information"] = {"basic_information_of_enterprise": {
                "basic_information_description": desc}}
        return self.emit("subject", self.holder_subject_id(wallet), inner, step, state_object=True)

    def write_issuer(self, sid, step: Step) -> str:
        book = self.sec_book(sid)
        uscc = book.issuer_uscc
        desc = {"subject_company_name": book.issuer_name,
                "subject_document_information": [{"type": 0, "code": uscc}]}
        llc_capital = llc_paid = 0
        holders = 0
        has_llc = False
        for other in self.issued_by(uscc):
            sec = self.sec(other)
            holders += sec["holder_count"]
            if sec["kind"] == LLC and sec["status"] != 1:
                has_llc = True
                llc_capital += Decimal(sec["total_supply"]).scaleb(-sec["unit_scale"])
                llc_paid += Decimal(sum(h["paid"] for _, h in self.holders(other))).scaleb(-sec["unit_scale"])
        if has_llc:
            desc.update(subject_registered_capital=_num(llc_capital), subject_registered_capital_currency=CURRENCY,
                        subject_paid_in_capital=_num(llc_paid), subject_paid_in_capital_currency=CURRENCY)
        desc["subject_shareholders_number"] = holders
        inner = {"basic_information_subject": {"general_information_subject": {
                     "subject_type": 1, "subject_main_administrative_region": 0,
                     "subject_create_time": date_time(step.ts)}},
                 "organization_subject_information": {"basic_information_of_enterprise": {
                     "basic_information_description": desc}}}
        return self.emit("subject", self.subject_id_org(uscc), inner, step, state_object=True)

    def write_account(self, wallet: str, step: Step) -> str:
        root = self.root(wallet)
        current = self.gen["acct"][root]["wallet"]
        acct = self.state.accounts[current]
        facts = self.gen["acct"][root]
        status = {1: 1, SUSPENDED_ACCOUNT: 3, CLOSED_ACCOUNT: 2}[acct["status"]]
        basic = {"account_subject_ref": self.ref(self.holder_subject_id(current)),
                 "account_depository_ref": self.ref(self.operator_id)}
        number_ = self.books.account_no(root) or self.books.account_no(current)
        if number_:
            basic["account_number"] = number_
        basic.update(account_type=1, account_purpose=[0], account_status=status,
                     account_create_time=date_time(step.ts))
        opening = {"account_establish_date": date_of(facts["opened"])}
        if facts.get("docs"):
            opening["account_opening_doc"] = facts["docs"]
        cycle = {"account_opening_information": opening}
        if "frozen" in facts:
            cycle["freeze_information"] = _drop_none({
                "account_frozen_date": date_of(facts["frozen"][0]), "account_frozen_doc": self.docs(facts["frozen"][1]),
                "account_frozen_applicant_name": self.op.name, "account_frozen_remark": "账户暂停"})
        if "thawed" in facts:
            cycle["unfreezing_information"] = _drop_none({
                "account_thaw_date": date_of(facts["thawed"][0]), "account_thaw_doc": self.docs(facts["thawed"][1]),
                "account_thaw_applicant_name": self.op.name, "account_thaw_remark": "恢复正常"})
        if "closed" in facts:
            cycle["account_cancellation_information"] = _drop_none({
                "account_closing_date": date_of(facts["closed"][0]), "account_closing_doc": self.docs(facts["closed"][1])})
        inner = {"basic_account_information": basic, "account_cycle_information": cycle}
        return self.emit("account", self.account_id(root), inner, step, state_object=True,
                         extra_meta={"wallet": current.lower()})

    def write_product(self, sid, step: Step) -> str:
        sec, book, facts = self.sec(sid), self.sec_book(sid), self.gen["sec"][str(sid)]
        kind, scale = sec["kind"], sec["unit_scale"]
        supply = sec["declared_total"] if sec["status"] == 1 else sec["total_supply"]
        basic = {"product_trading_market_category": 1, "product_market_subject_ref": self.ref(self.operator_id),
                 "product_market_subject_name": self.op.name,
                 "product_issuer_subject_ref": self.ref(self.issuer_id(sid)),
                 "product_issuer_name": book.issuer_name, "product_code": book.code,
                 "product_name": book.name + NAME_SUFFIX[kind], "product_type": PRODUCT_TYPE[kind],
                 "product_create_time": date_time(step.ts), "product_type_function": 3,
                 "product_account_number_max": HOLDER_CAP[kind], "product_scale_unit": UNIT_CODE[kind],
                 "product_scale_currency": CURRENCY, "product_scale": number(supply, scale)}
        if book.short_name:
            basic["product_name_abbreviation"] = book.short_name
        op_ref = self.ref(self.operator_id)
        ess = {"basic_product_information": basic,
               "service_provider_information": [
                   {"service_provider_type": t, "service_provider_subject_ref": op_ref,
                    "service_provider_name": self.op.name} for t in (1, 5)]}
        if self.docs(facts["doc"]):
            ess["product_file_information"] = [{"product_issue_doc": self.docs(facts["doc"], "产品登记文件")}]
        inner = {"essential_information": ess}
        if facts.get("issue"):
            inner["release_information"] = {"equity_issue_information": facts["issue"]}
        terms = self.state.transfer_terms.get(str(sid), {})
        trade = {"listing_information": {
            "product_transfer_permission_institution_to_individual": not terms.get("institutional_only", False),
            "product_transfer_lockup_days": HOLDING_PERIOD_DAYS,
            "product_transaction_unit": number(1, scale)}}
        if sec["status"] in (SEC_ACTIVE, SEC_SUSPENDED, SEC_DELISTED):
            trade["transaction_status"] = {"product_transaction_status": 2 if sec["status"] == SEC_SUSPENDED else 1}
        if sec["status"] == SEC_DELISTED and "delisted" in facts:
            trade["delisting_information"] = {"product_delisting_date": date_of(facts["delisted"]),
                                              "product_delisting_type": 0, "product_delisting_reason": 0,
                                              "product_delisting_remarks": "摘牌"}
        inner["transaction_information"] = trade
        escrow = {}
        if book.registered_on:
            escrow["product_custodian_registration_date"] = book.registered_on
        elif "sealed" in facts:
            escrow["product_custodian_registration_date"] = date_of(facts["sealed"][0])
        if "sealed" in facts and self.docs(facts["sealed"][1]):
            escrow["product_custodian_documents"] = self.docs(facts["sealed"][1], "托管登记文件")
        if escrow:
            inner["escrow_information"] = escrow
        return self.emit("product", f"{self.ns}:product:{sid}", inner, step, state_object=True)

    def write_roster(self, sid, step: Step) -> str | None:
        sec, book = self.sec(sid), self.sec_book(sid)
        if sec["status"] == 1:
            return None  # created when the security is sealed
        kind, scale, supply = sec["kind"], sec["unit_scale"], sec["total_supply"]
        holders = sorted(self.holders(sid), key=lambda kv: (-kv[1]["balance"], kv[0].lower()))
        roster = {"basic_information_roster": {
            "register_list_subject_ref": self.ref(self.issuer_id(sid)),
            "register_product_ref": self.ref(f"{self.ns}:product:{sid}"),
            "register_product_name": book.name + NAME_SUFFIX[kind],
            "register_product_description": f"{KIND_TEXT[kind]}，单位：{UNIT_TEXT[kind]}",
            "register_list_asset_type": 0, "register_list_date": date_time(step.ts)}}
        if kind in (LP_FUND, CONTRACT_FUND):
            roster["fund_investors"] = [{
                "register_investor_subject_ref": self.ref(self.holder_subject_id(w)),
                "register_investor_name": self.holder_name(w),
                "register_subscription_number": whole(h["balance"], scale),
                "register_fund_investors_classification": 0} for w, h in holders]
        else:
            items = []
            for w, h in holders:
                item = {"register_equity_subject_ref": self.ref(self.holder_subject_id(w)),
                        "register_equity_subject_type": 0, "register_equity_type": 0}
                if kind == LLC:
                    item["register_equity_capital"] = number(h["balance"], scale)
                    item["register_equity_capital_paidin"] = number(h["paid"], scale)
                item["register_equity_number"] = number(h["balance"], scale)
                item["register_equity_shareholding"] = _num(
                    (Decimal(100 * h["balance"]) / Decimal(supply)).quantize(Decimal("0.01"), ROUND_HALF_UP))
                items.append(item)
            roster["register_shareholders"] = items
        inner = {"register_basic_information": {"register_object_type": 2, "register_event_type": 2},
                 "roll_records": roster}
        return self.emit("registration", f"{self.ns}:registration:roll:{sid}", inner, step, state_object=True)

    # ------------------------------------------------------------ event objects

    def write_rights(self, step: Step, wallet: str, sid, *, report_ref: str | None = None,
                     source_type: int | None = None, description: str = "", thaw: str | None = None,
                     note: str | None = None, at: ix.Event | None = None, register_ts: int | None = None,
                     serial: str | None = None) -> str:
        ev = at or step.event
        sec = self.sec(sid)
        scale = sec["unit_scale"]
        key = ix.hkey(wallet, int(sid))
        b0, p0, f0 = step.before.get(key, (0, 0, 0))
        b1, p1, f1 = step.after.get(key, (0, 0, 0))
        free0, free1 = max(0, b0 - p0 - f0), max(0, b1 - p1 - f1)
        n = lambda u: number(u, scale)  # noqa: E731
        serial = serial or f"{ev.block}-{ev.log_index}"
        desc = {"register_serial_number": serial,
                "register_time": date_time(register_ts or step.ts),
                "register_subject_ref": self.ref(self.holder_subject_id(wallet)),
                "register_subject_type": SUBJECT_TYPE[self.state.accounts[wallet]["investor_class"]],
                "register_subject_account_ref": self.ref(self.account_id(wallet)),
                "register_asset_type": 0, "register_asset_unit": UNIT_CODE[sec["kind"]],
                "register_asset_currency": CURRENCY}
        if report_ref:
            desc["register_transaction_ref"] = report_ref
        desc["register_product_ref"] = self.ref(f"{self.ns}:product:{sid}")
        desc["register_description"] = (description + "；" if description else "") + \
            f"变动后持有总额 {exact(b1, scale)} {UNIT_TEXT[sec['kind']]}"
        desc["register_create_time"] = date_time(step.ts)
        freezing = {"register_frozen_balance_change": n(f1 - f0), "register_frozen_balance": n(f0),
                    "register_frozen_balance_after": n(f1)}
        if thaw:
            freezing["register_thaw_description"] = thaw
            if self.docs(ev.args.get("doc")):
                freezing["register_thaw_doc"] = self.docs(ev.args.get("doc"))
        status = {"register_source_type": source_type if source_type is not None else 0}
        if note:
            status["register_asset_note"] = note
        if self.docs(ev.args.get("doc")):
            status["register_asset_verification_doc"] = self.docs(ev.args.get("doc"))
        inner = {"register_basic_information": {"register_object_type": 1,
                                                "register_event_type": 2 if report_ref else 1},
                 "registration_rights": {"basic_information_rights": {
                     "basic_information_description": desc,
                     "available_registration": {"register_asset_balance_change": n(free1 - free0),
                                                "register_asset_balance_before": n(free0),
                                                "register_asset_balance_after": n(free1)},
                     "pledge_registration": {"register_pledge_balance_change": n(p1 - p0),
                                             "register_pledge_balance_before": n(p0),
                                             "register_pledge_balance_after": n(p1)},
                     "freezing_registration": freezing,
                     "description_status_information": status}}}
        oid = f"{self.ns}:registration:{serial}-{hex40(wallet)}"
        return self.emit("registration", oid, inner, step, state_object=False, extra_meta={"wallet": wallet.lower()})

    def write_report(self, step: Step, sid, ttype: int, *, method: int, units: int | None, description: str,
                     original: str | None = None, counterparty: str | None = None, price: float | None = None,
                     financing: tuple[str, str] | None = None, settle_text: str | None = None,
                     object_suffix: str | None = None, settlement_ts: int | None = None,
                     order_doc: str | None = None, more_docs: list | None = None) -> str:
        ev = step.event
        sec = self.sec(sid)
        scale = sec["unit_scale"]
        basic = {"basic_information_remark": {
                     "transaction_market_type": 1, "transaction_type": ttype, "transaction_method": method,
                     "transaction_description": description, "transaction_create_time": date_time(step.ts)},
                 "trading_asset_information": {
                     "asset_custody_state": {"transaction_product_custody_status": 0},
                     "custody_asset_transaction": {"transaction_custody_product_ref":
                                                   self.ref(f"{self.ns}:product:{sid}")}}}
        content = {"transaction_series_number": object_suffix or f"{ev.block}-{ev.log_index}",
                   "transaction_settlement_currency": CURRENCY}
        if price is not None:
            content["transaction_settlement_price"] = price
        if units is not None:
            content["transaction_settlement_quantity"] = whole(units, scale)
        content["transaction_settlement_time"] = date_time(settlement_ts or step.ts)
        text = settle_text or ""
        if units is not None and Decimal(units).scaleb(-scale) != whole(units, scale):
            text = (text + "；" if text else "") + f"成交数量精确值 {exact(units, scale)} {UNIT_TEXT[sec['kind']]}"
        if text:
            content["transaction_settlement_description"] = text
        info = {"transaction_content_information": content}
        if financing:
            issuer_wallet, investor = financing
            info["financing_transaction_party_information"] = {
                "transaction_issuer_ref": self.ref(self.issuer_id(sid)),
                "transaction_issuer_name": self.sec_book(sid).issuer_name,
                "transaction_investor_ref": self.ref(self.holder_subject_id(investor)),
                "transaction_investor_name": self.holder_name(investor)}
        if original or counterparty:
            party = {}
            if original:
                party["transaction_investor_original_ref"] = self.ref(self.holder_subject_id(original))
                party["transaction_investor_original_name"] = self.holder_name(original)
            if counterparty:
                party["transaction_investor_counterparty_ref"] = self.ref(self.holder_subject_id(counterparty))
                party["transaction_investor_counterparty_name"] = self.holder_name(counterparty)
            info["transaction_party_information"] = party
        verification = {}
        if self.docs(order_doc):  # the instruction's or listing's document (委托文件)
            verification["transaction_orderplacing_verification_doc"] = self.docs(order_doc)
        proofs = (self.docs(ev.args.get("doc")) or []) + (more_docs or [])
        if proofs:
            verification["transaction_verification_doc"] = proofs
        if verification:
            info["transaction_verification_information"] = verification
        inner = {"basic_transaction_information": basic, "transaction_information": info}
        oid = f"{self.ns}:transactionreport:{object_suffix or f'{ev.block}-{ev.log_index}'}"
        return self.emit("transactionreport", oid, inner, step, state_object=False)

    def write_payment(self, step: Step, sid, report_ref: str, token: str, amount: int, payer: str, payee: str,
                      escrowed_before: int) -> str:
        ev = step.event
        decimals = self.gen.get("decimals", {}).get(token, 2)
        n = lambda a: number(a, decimals)  # noqa: E731
        serial = f"{ev.block}-{ev.log_index}-payment"
        inner = {"basic_information_capital_settlement": {
                     "settlement_subject_ref": self.ref(self.operator_id), "settlement_type": 0,
                     "settlement_serial_number": serial, "settlement_time": date_time(step.ts),
                     "settlement_product_ref": self.ref(f"{self.ns}:product:{sid}"),
                     "settlement_transaction_ref": report_ref, "settlement_currency": CURRENCY,
                     "settlement_value": n(amount), "settlement_note": "券款对付：托管账户中买方预存款划付卖方",
                     "settlement_information_maintenance_time": date_time(step.ts)},
                 "transferor_information": {
                     "settlement_out_bank_account": self.register.lower(),
                     "settlement_out_account_object_ref": self.ref(self.account_id(payer)),
                     "settlement_out_account_name": self.holder_name(payer),
                     "settlement_out_account_balance_before_transfer": n(escrowed_before),
                     "settlement_out_account_balance_after_transfer": n(max(0, escrowed_before - amount))},
                 "transferee_information": {
                     "settlement_in_bank_account": payee.lower(),
                     "settlement_in_account_object_ref": self.ref(self.account_id(payee)),
                     "settlement_in_account_name": self.holder_name(payee)}}
        if self.docs(ev.args.get("doc")):
            inner["basic_information_capital_settlement"]["settlement_operation_doc"] = self.docs(ev.args["doc"])
        return self.emit("settlement", f"{self.ns}:settlement:{serial}", inner, step, state_object=False,
                         extra_meta={"leg": "payment", "token": token})

    # ------------------------------------------------------------ the common tail of a step

    def touched_securities(self, step: Step) -> list:
        return sorted({int(k.split("|")[1]) for k in set(step.before) | set(step.after)})

    def changed_holdings(self, step: Step, sid) -> list[str]:
        """Wallets whose holding of ``sid`` changed in the step (by balance, P or F), in a stable order."""
        out = []
        for key in sorted(set(step.before) | set(step.after)):
            w, s = key.split("|")
            if int(s) == int(sid) and step.before.get(key, (0, 0, 0)) != step.after.get(key, (0, 0, 0)):
                out.append(w)
        return out

    def tail(self, step: Step, sids=None) -> None:
        """Roster, then issuer subject, of every security the step touched."""
        for sid in (sids if sids is not None else self.touched_securities(step)):
            self.write_roster(sid, step)
            self.write_issuer(sid, step)

    # ------------------------------------------------------------ builders (one per row kind)

    def account_opened(self, step: Step) -> None:
        a = step.event.args
        wallet = a["wallet"]
        self.gen["root"].setdefault(wallet, wallet)
        self.gen["acct"].setdefault(wallet, {"wallet": wallet, "opened": step.ts,
                                             "docs": self.docs(a["doc"], "开户资料")})
        identity = a["identity"]
        self.gen["qual"].setdefault(identity, [a["qualified"], step.ts, a["doc"] if a["doc"] != ZERO32 else None])
        self.write_operator(step)
        self.write_holder_subject(wallet, step)
        self.write_account(wallet, step)

    def qualification_changed(self, step: Step) -> None:
        a = step.event.args
        identity = self.identity_of(a["wallet"])
        self.gen["qual"][identity] = [a["qualified"], step.ts, a["doc"] if a["doc"] != ZERO32 else None]
        self.write_holder_subject(a["wallet"], step)

    def account_status_changed(self, step: Step) -> None:
        a = step.event.args
        wallet = a["wallet"]
        root = self.root(wallet)
        facts = self.gen["acct"][root]
        if facts["wallet"] != wallet:
            return  # the old wallet of a recovered account: the account lives on under the new one
        if a["status"] == SUSPENDED_ACCOUNT:
            facts["frozen"] = [step.ts, a["doc"]]
        elif a["status"] == CLOSED_ACCOUNT:
            facts["closed"] = [step.ts, a["doc"]]
        elif "frozen" in facts:
            facts["thawed"] = [step.ts, a["doc"]]
        self.write_account(wallet, step)

    def account_recovered(self, step: Step) -> None:
        a = step.event.args
        old, new = a["old_wallet"], a["new_wallet"]
        root = self.root(old)
        self.gen["root"][new] = root
        facts = self.gen["acct"][root]
        facts["wallet"] = new
        more = self.docs(a["doc"], "私钥遗失补办")
        if more:
            facts["docs"] = (facts.get("docs") or []) + more
        self.write_account(new, step)

    def security_registered(self, step: Step) -> None:
        a = step.event.args
        self.gen["sec"][str(a["id"])] = {"doc": a["doc"], "registered": step.ts}
        if self._issued is not None:
            self._issued.setdefault(self.books.security(a["code_hash"]).issuer_uscc, set()).add(int(a["id"]))
        self.write_operator(step)
        self.write_issuer(a["id"], step)
        self.write_product(a["id"], step)

    def holdings_registered(self, step: Step) -> None:
        sid = step.event.args["id"]
        for wallet in self.changed_holdings(step, sid):
            self.write_rights(step, wallet, sid, description="初始登记")
        self.tail(step, [sid])

    def security_sealed(self, step: Step) -> None:
        sid = step.event.args["id"]
        self.gen["sec"][str(sid)]["sealed"] = [step.ts, step.event.args["doc"]]
        self.write_product(sid, step)
        self.tail(step, [sid])

    def product_changed(self, step: Step) -> None:
        sid = step.event.args["id"]
        if step.event.name == "SecurityStatusChanged" and step.event.args["status"] == SEC_DELISTED:
            self.gen["sec"][str(sid)]["delisted"] = step.ts
        self.write_product(sid, step)

    def holding_terms(self, step: Step) -> None:
        a = step.event.args
        h = self.state.holding(a["owner"], a["id"])
        note = (f"限售截止日（日序）{h['lock_until_day']}" if step.event.name == "LockupSet"
                else f"董监高：{'是' if h['insider'] else '否'}")
        self.write_rights(step, a["owner"], a["id"], description="持有条件变更", note=note)

    def capital_increased(self, step: Step) -> None:
        a = step.event.args
        sid = a["id"]
        sec = self.sec(sid)
        before_total = sec["total_supply"] - a["units"]
        issue = {"product_shares_issued_class": [0], "product_issue_scope": 2, "product_issue_type": 2,
                 "release_note_information": f"增资 {exact(a['units'], sec['unit_scale'])} {UNIT_TEXT[sec['kind']]}"}
        if sec["kind"] == LLC:
            issue["product_registered_capital_before_issuance"] = number(before_total, sec["unit_scale"])
            issue["product_registered_capital_issuance"] = number(sec["total_supply"], sec["unit_scale"])
        else:
            issue["product_before_authorized_shares"] = whole(before_total, sec["unit_scale"])
            issue["product_after_authorized_shares"] = whole(sec["total_supply"], sec["unit_scale"])
        waived = [e.args for e in step.events if e.name == "PreemptionWaived"]
        more = None
        if waived:  # issue 12: an LLC increase without pro-rata pre-emption (Company Law art 227)
            issue["release_note_information"] += "；不按出资比例优先认缴（公司法第二百二十七条，全体股东约定）"
            more = self.docs(waived[-1]["waiver"], "放弃优先认缴权的股东会决议或章程")
        self.gen["sec"][str(sid)]["issue"] = issue
        self.write_issuer(sid, step)
        self.write_product(sid, step)
        subscribers = self.changed_holdings(step, sid)
        for i, wallet in enumerate(subscribers):
            units = step.after[ix.hkey(wallet, sid)][0] - step.before.get(ix.hkey(wallet, sid), (0, 0, 0))[0]
            ref = self.write_report(step, sid, 1, method=2, units=units, description="增资认购",
                                    financing=(self.register, wallet), more_docs=more,
                                    object_suffix=f"{step.event.block}-{step.event.log_index}-{hex40(wallet)}")
            self.write_rights(step, wallet, sid, report_ref=ref, source_type=1, description="增资认购")
        self.tail(step, [sid])

    def capital_decreased(self, step: Step) -> None:
        sid = step.event.args["id"]
        self.write_issuer(sid, step)
        self.write_product(sid, step)
        for wallet in self.changed_holdings(step, sid):
            self.write_rights(step, wallet, sid, description="减资")
        self.tail(step, [sid])

    def paid_in_recorded(self, step: Step) -> None:
        self.tail(step, [step.event.args["id"]])

    def transfer(self, step: Step) -> None:
        a = step.event.args
        if a["receiver"] == ZERO or a["sender"] == ZERO:
            return
        sid = a["id"]
        paper = a["caller"] != a["sender"] and bool(self.state.roles.get(a["caller"], 0) & 2)
        ref = self.write_report(step, sid, 3, method=2 if paper else 1, units=a["amount"],
                                description="协议转让（登记机构办理）" if paper else "协议转让",
                                original=a["sender"], counterparty=a["receiver"])
        for wallet in (a["sender"], a["receiver"]):
            self.write_rights(step, wallet, sid, report_ref=ref, source_type=3, description="转让过户")
        self.tail(step, [sid])

    def pledge_changed(self, step: Step) -> None:
        """Pledge registered (type 6 质押融资) or released, whole or in part (type 7 还款解质押). A pledge
        imported by the migration (its security still PENDING) is a paper record (method 2) named
        ``pledge-<id>``, dated at its original registration; no rights record refers to it (§6 item 10)."""
        a = step.event.args
        p = self.state.pledges[str(a["pledge_id"])]
        registered = step.event.name == "PledgeRegistered"
        imported = registered and self.sec(p["id"])["status"] == 1
        ttype, text = (6, "股权质押登记") if registered else (7, "解除质押")
        ref = self.write_report(step, p["id"], ttype, method=2 if imported else 1, units=a["units"],
                                description=text + ("（迁移上链）" if imported else ""),
                                original=p["pledgor"], counterparty=p["pledgee"],
                                object_suffix=f"pledge-{a['pledge_id']}" if imported else None,
                                settlement_ts=a["registered_at"] // (self.state.time_unit or 1) if imported else None)
        detail = f"质押编号 {a['pledge_id']}" + ("" if registered else f"，剩余 {a['remaining']}")
        self.write_rights(step, p["pledgor"], p["id"], report_ref=None if imported else ref,
                          source_type=0 if imported else ttype,
                          description=f"{'质押登记' if registered else text}（{detail}）")
        self.tail(step, [p["id"]])

    def forced_move(self, step: Step) -> None:
        """Pledge enforced, court transfer: a non-trade transfer (非交易过户, type 5) from owner to receiver.
        The ``ForcedTransfer`` after the ``Transfer`` says who moved the units (``FORCED_PATH``); a fund
        manager's consent recorded by ``enforcement_consented`` goes into the report."""
        a = step.event.args
        moves = [e for e in step.events if e.name == "Transfer"]
        if not moves:
            return
        t = moves[-1].args
        sid, owner, receiver = t["id"], t["sender"], t["receiver"]
        forced = [e.args for e in step.events if e.name == "ForcedTransfer"]
        path = forced[-1]["path"] if forced else None
        more = None
        if step.event.name == "CourtTransferred":
            f = self.state.freezes[str(a["freeze_id"])]
            court, case_no = self.books.case(f["case_hash"])
            text = f"司法划转：{court} {case_no}"
        else:
            text = f"质权实现（{FORCED_PATH.get(path, '质权人')}，质押编号 {a['pledge_id']}）"
            consent = self.gen.setdefault("consent", {}).pop(str(a["pledge_id"]), None)
            if consent and consent[0].lower() == receiver.lower():
                text += f"；基金管理人同意（{date_of(consent[2])}）"
                more = self.docs(consent[1], "基金管理人同意质权实现")
        ref = self.write_report(step, sid, 5, method=2, units=t["amount"], description=text,
                                original=owner, counterparty=receiver, more_docs=more)
        for wallet in (owner, receiver):
            self.write_rights(step, wallet, sid, report_ref=ref, source_type=5, description=text)
        self.tail(step, [sid])

    def enforcement_consented(self, step: Step) -> None:
        """A fund manager's consent to a pledgee's enforcement (Partnership Law arts 22-23, 73): no
        object of its own (consents produce nothing until they settle, §3.4); the enforcement's
        report carries it. 0 units withdraws it."""
        a = step.event.args
        consents = self.gen.setdefault("consent", {})
        if a["units"] == 0:
            consents.pop(str(a["pledge_id"]), None)
        else:
            consents[str(a["pledge_id"])] = [a["receiver"], a["doc"], step.ts]

    def freeze_text(self, fid) -> str:
        f = self.state.freezes[str(fid)]
        court, case_no = self.books.case(f["case_hash"])
        key = ix.hkey(f["owner"], f["id"])
        queue = self.state.freeze_queue.get(key, [])
        pos = f"轮候第 {queue.index(int(fid)) + 1} 位" if int(fid) in queue else "已出队"
        expiry = (dt.date(1970, 1, 1) + dt.timedelta(days=f["expiry_day"])).isoformat()
        return f"冻结编号 {fid}；{court}；案号 {case_no}；{pos}；到期日 {expiry}"

    def freeze_changed(self, step: Step) -> None:
        a = step.event.args
        fid = a["freeze_id"]
        f = self.state.freezes[str(fid)]
        label = {"Frozen": "司法冻结" if a.get("in_force", True) else "轮候冻结", "FreezeRenewed": "续冻",
                 "FreezeLifted": "解除冻结"}[step.event.name]
        promoted = [e.args["freeze_id"] for e in step.events if e.name == "FreezeTookEffect"]
        if promoted:
            label += "；轮候冻结生效：" + "、".join(map(str, promoted))
        self.write_rights(step, f["owner"], f["id"], description=label, thaw=self.freeze_text(fid))
        self.tail(step, [f["id"]])

    def freeze_lapsed(self, step: Step) -> None:
        fid = step.event.args["freeze_id"]
        if str(fid) in self.gen["daily"].get("lapsed", {}):
            return  # the daily job reported the lapse at the day boundary
        f = self.state.freezes[str(fid)]
        self.write_rights(step, f["owner"], f["id"], description="冻结到期解除", thaw=self.freeze_text(fid))
        self.tail(step, [f["id"]])

    def instruction_settled(self, step: Step) -> None:
        a = step.event.args
        ins = self.state.instructions[str(a["instruction_id"])]
        sid, seller, receiver = ins["id"], ins["seller"], a["receiver"]
        scale = self.sec(sid)["unit_scale"]
        dvp = ins["cash"] != ZERO and a["paid"] > 0
        price = None
        if dvp:
            decimals = self.gen.get("decimals", {}).get(ins["cash"], 2)
            price = _num((Decimal(a["paid"]).scaleb(-decimals) / Decimal(a["units"]).scaleb(-scale))
                         .quantize(Decimal("0.01"), ROUND_HALF_UP))
        court = ins.get("court_ordered")
        text = ("协议转让，券款对付（DvP）" if dvp else "协议转让，纯券过户（FoP）") + ("；法院裁定" if court else "")
        settle = f"成交金额 {exact(a['paid'], self.gen.get('decimals', {}).get(ins['cash'], 2))} 元" if dvp else None
        ref = self.write_report(step, sid, 5 if court else 3, method=1, units=a["units"], description=text,
                                original=seller, counterparty=receiver, price=price, settle_text=settle,
                                order_doc=ins["doc"])
        for wallet in (seller, receiver):
            self.write_rights(step, wallet, sid, report_ref=ref, source_type=5 if court else 3, description=text)
        if dvp:
            self.write_payment(step, sid, ref, ins["cash"], a["paid"], receiver, seller,
                               self.step_meta.get("escrow_before", a["paid"]))
        self.tail(step, [sid])

    def listing_closed(self, step: Step) -> None:
        a = step.event.args
        if a["status"] != ix.L_SOLD:
            return  # refunds only (optional legs, not written)
        lst = self.state.listings[str(a["listing_id"])]
        sid, seller, winner = lst["id"], lst["seller"], a["winner"]
        scale = self.sec(sid)["unit_scale"]
        decimals = self.gen.get("decimals", {}).get(lst["cash"], 2)
        price = _num((Decimal(a["amount"]).scaleb(-decimals) / Decimal(lst["units"]).scaleb(-scale))
                     .quantize(Decimal("0.01"), ROUND_HALF_UP))
        ref = self.write_report(step, sid, 3, method=1, units=lst["units"], description="单向竞价",
                                original=seller, counterparty=winner, price=price,
                                settle_text=f"成交金额 {exact(a['amount'], decimals)} 元", order_doc=lst["doc"])
        for wallet in (seller, winner):
            self.write_rights(step, wallet, sid, report_ref=ref, source_type=3, description="单向竞价")
        self.write_payment(step, sid, ref, lst["cash"], a["amount"], winner, seller, a["amount"])
        self.tail(step, [sid])

    # ------------------------------------------------------------ the day boundary (no transaction)

    def day_boundary(self, new_day: int, block: int) -> int:
        """Rights records of the freezes that lapsed or took effect between the last evaluated day and
        ``new_day`` (the freeze rule turns at 00:00 Beijing time and no transaction runs then).
        Returns the number of records written."""
        daily = self.gen["daily"]
        last = daily.get("day")
        if last is None or new_day <= last:
            daily["day"] = max(new_day, last or new_day)
            return 0
        written = 0
        s = self.state
        for d in range(last + 1, new_day + 1):
            ts = d * 86400 - s.utc_offset
            stamp = (dt.date(1970, 1, 1) + dt.timedelta(days=d)).strftime("%Y%m%d")
            for key in sorted(k for k, q in s.freeze_queue.items() if q):
                queue = list(s.freeze_queue[key])
                f0, flags0 = s.evaluate(key, d - 1)
                f1, flags1 = s.evaluate(key, d)
                changed = [fid for fid, a, b in zip(queue, flags0, flags1) if a != b]
                lapsed = [fid for fid in queue if s.freezes[str(fid)]["expiry_day"] == d - 1]
                events = sorted(set(changed) | set(lapsed))
                if not events:
                    continue
                owner, sid = key.split("|")
                b = s.holdings.get(key, {}).get("balance", 0)
                p = s.pledged(key)
                for i, fid in enumerate(events):
                    before = (b, p, f0) if i == 0 else (b, p, f1)
                    ev = ix.Event("DayBoundary", block, ZERO32, 0, {"freeze_id": fid}, ts)
                    step = Step(ev, [ev], ts, {key: before}, {key: (b, p, f1)})
                    text = ("冻结到期解除" if fid in lapsed else "轮候冻结生效") + f"（{stamp} 日切）"
                    if fid in lapsed:
                        daily.setdefault("lapsed", {})[str(fid)] = d
                    self.write_rights(step, owner, int(sid), description=text, thaw=self.freeze_text(fid),
                                      serial=f"d{stamp}-f{fid}", register_ts=ts)
                    written += 1
                self.tail(step, [int(sid)])
        daily["day"] = new_day
        return written

    # ------------------------------------------------------------ steps of a transaction

    def holdings_of_event(self, ev: ix.Event) -> set[str]:
        a, s = ev.args, self.state
        keys = set()
        if ev.name == "Transfer":
            for w in (a["sender"], a["receiver"]):
                if w != ZERO:
                    keys.add(ix.hkey(w, a["id"]))
        elif ev.name == "Issued":
            keys.add(ix.hkey(a["receiver"], a["id"]))
        elif ev.name in ("Frozen",):
            keys.add(ix.hkey(a["owner"], a["id"]))
        elif ev.name in ("FreezeLifted", "FreezeLapsed", "FreezeRenewed", "CourtTransferred", "FreezeTookEffect"):
            f = s.freezes.get(str(a["freeze_id"]))
            if f:
                keys.add(ix.hkey(f["owner"], f["id"]))
        elif ev.name == "PledgeRegistered":
            keys.add(ix.hkey(a["pledgor"], a["id"]))
        elif ev.name in ("PledgeReleased", "PledgeEnforced"):
            p = s.pledges.get(str(a["pledge_id"]))
            if p:
                keys.add(ix.hkey(p["pledgor"], p["id"]))
        elif ev.name in ("LockupSet", "InsiderSet", "PaidInRecorded"):
            keys.add(ix.hkey(a["owner"], a["id"]))
        return keys

    def balances(self, keys, day: int) -> dict:
        s = self.state
        out = {}
        for k in keys:
            h = s.holdings.get(k)
            out[k] = (h["balance"] if h else 0, s.pledged(k), s.frozen(k, day))
        return out

    def split_steps(self, events: list) -> list[tuple[ix.Event, list]]:
        """A transaction's events as (completing event, its events) in log order."""
        completers = [i for i, e in enumerate(events) if e.name in MAPPING and e.name != "Transfer"]
        if not completers:
            # plain transfers: one step each. A forced move (a Transfer followed by its ForcedTransfer)
            # outside any completing event is a key recovery continued in a later transaction
            # (HoldingRecovered, no AccountRecovered): applied, nothing reported (§3.3 key recovery)
            out: list = []
            for i, e in enumerate(events):
                forced = i + 1 < len(events) and events[i + 1].name == "ForcedTransfer"
                if e.name == "Transfer" and not forced:
                    out.append((e, [e]))
                elif out and out[-1][0] is None:
                    out[-1][1].append(e)
                else:
                    out.append((None, [e]))
            return out
        steps, start = [], 0
        for n, i in enumerate(completers):
            end = i + 1 if n < len(completers) - 1 else len(events)
            steps.append((events[i], events[start:end]))
            start = end
        return steps

    def process_tx(self, events: list, applier: ix.Applier) -> int:
        """Apply one transaction's events step by step, writing each step's objects; returns the step count."""
        n = 0
        unit = self.state.time_unit or 1
        self.day_boundary(self.state.day_of(events[0].timestamp), events[0].block)
        for completing, group in self.split_steps(events):
            if completing is None:
                applier.apply_all(group)  # nothing to report (roles, calendar, offers, proposals…)
                keys = set()
                for e in group:
                    keys |= self.holdings_of_event(e)
                self._holdings_changed(keys)
                continue
            ts = completing.timestamp // unit  # seconds whatever the chain's clock (FISCO BCOS: ms)
            day = self.state.day_of(completing.timestamp)
            keys = set()
            for e in group:
                keys |= self.holdings_of_event(e)
            before = self.balances(keys, day)
            self.step_meta = {}
            if completing.name == "InstructionSettled":
                self.step_meta["escrow_before"] = self.state.instruction_escrow(completing.args["instruction_id"])
            applier.apply_all(group)
            for e in group:
                keys |= self.holdings_of_event(e)
            self._holdings_changed(keys)
            step = Step(completing, group, ts, before, self.balances(keys, day))
            for k in keys - set(before):
                step.before[k] = (0, 0, 0)
            getattr(self, MAPPING[completing.name].builder)(step)
            n += 1
        if len(self.pending) >= FLUSH_AT:
            self.flush()
        return n


def _num(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value.quantize(Decimal("0.01")))


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class InvalidSnapshot(SuperviseError):
    def __init__(self, object_id: str, version: int, block: int, message: str):
        super().__init__(message)
        self.object_id, self.version, self.block = object_id, version, block


# ---------------------------------------------------------------- the run


@dataclass
class SyncResult:
    steps: int
    snapshots: int
    anchored: int
    last_block: int
    seconds: float


def sync(rpc, register: str, abi: list, store: Store, books: books_mod.Books, signer: Signer, anchorer, *,
         to_block: int | None = None, chunk: int = 2000, echo: Callable[[str], None] | None = None,
         crash_at: Callable[[str], None] | None = None, daily: bool = False,
         commit_every: int = COMMIT_EVERY) -> SyncResult:
    """Follow the register from the store's checkpoint to ``to_block`` (default: head); see the module doc.
    The checkpoint commits at the end of each chunk of blocks, and inside one at the end of a block
    once ``commit_every`` snapshots were written since the last commit; each commit's snapshots
    are anchored by a thread beside the generation (``anchor.Beside``)."""
    started = time.monotonic()
    idx = ix.Indexer(rpc, register, abi, chunk=chunk, echo=echo)
    chain = store.get("chain")
    if chain and (chain["chain_id"] != idx.chain_id or chain["register"].lower() != register.lower()):
        raise SuperviseError(f"store {store.location} follows register {chain['register']} on chain {chain['chain_id']}, "
                             f"not {register} on chain {idx.chain_id}")
    gen = Generator(store, books, signer, chain_id=idx.chain_id, register=idx.address, echo=echo, crash_at=crash_at)
    gen.load(lambda: idx.state)
    idx.state = gen.state
    crash = gen.crash_at
    anchorer.reconcile(store)  # anchors a killed run sent but did not record
    beside = anchor_mod.Beside(store, anchorer, crash)
    last = idx.head() if to_block is None else to_block
    applier = ix.Applier(gen.state)
    steps = 0

    def checkpoint(block: int) -> None:
        gen.state.last_block = block
        gen.flush()
        gen.save()
        beside.record()
        store.commit()
        crash("committed")
        beside.submit()
        store.begin()

    gc.freeze()  # the loaded state (see flush)
    try:
        beside.submit()  # snapshots committed but not anchored before a kill
        store.begin()
        try:
            for end, evs in idx.events(gen.state.last_block + 1, last):
                i, since = 0, len(gen.written)
                while i < len(evs):
                    j = i
                    while j < len(evs) and evs[j].tx == evs[i].tx:
                        j += 1
                    steps += gen.process_tx(evs[i:j], applier)
                    i = j
                    if len(gen.written) - since >= commit_every and i < len(evs) and evs[i].block != evs[i - 1].block:
                        checkpoint(evs[i - 1].block)  # a block's end inside the chunk
                        since = len(gen.written)
                checkpoint(end)
            if daily:  # the day boundary of today (by the chain's newest block), without waiting for a transaction
                head = rpc.call("eth_getBlockByNumber", [hex(last), False])
                gen.day_boundary(gen.state.day_of(int(head["timestamp"], 16)), last)
                gen.flush()
                gen.save()
        except InvalidSnapshot as exc:  # found here or by a sealing worker: the chunk rolls back, logged
            store.rollback()
            store.begin()
            store.log_error(exc.object_id, exc.version, exc.block, str(exc))
            store.commit()
            raise
        beside.record()
        store.commit()
        beside.submit()
        beside.finish()
    except BaseException:
        store.rollback()
        raise
    finally:
        beside.close()
        gen.close()
        gc.unfreeze()
    return SyncResult(steps, len(gen.written), store.anchored_count(), gen.state.last_block,
                      time.monotonic() - started)
