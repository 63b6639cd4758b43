"""Synthetic legacy exports, deterministic from a seed.

    python -m regchain.legacy.synth --out samples/demo --seed 1 --securities 20 \\
        --dirty 0.1 --encoding gbk --headers zh

writes the five CSV files of docs/migration.md and
`synth-manifest.json` (seed, as-of day, row counts and the faults injected, with
the reason code each must produce; the reader ignores extra files).

What a generated export holds:

* Individuals with Chinese names and valid GB 11643 resident ids (real birth
  dates 1950-2000, real district codes), a few passports; companies and banks
  with valid USCCs (GB 11714 organisation code inside); fund products
  (`OTHER` ids, AMAC-style filing codes). About 14 accounts per security, as in a
  province (100,000 accounts for 7,000 securities); some hold nothing.
* Securities of all four kinds with realistic holder counts (about 21 holdings
  per security on average), totals that are the exact sum of the holdings,
  partly paid LLC capital, lock-ups, insiders, a few SUSPENDED and DELISTED.
* Pledges to banks (some holdings pledged twice, ranked by date) and judicial
  freezes: in force, queued behind them (轮候), and lapsed.

`dirty` (0-1) sets two things:

* cosmetic dirt, per value, that cleaning must absorb without a rejection:
  full-width digits, U+3000 / NBSP / zero-width spaces (only those the output
  encoding can carry), lower-case `x` in ids, 15-digit resident ids, thousands
  separators, `万` amounts, every accepted date form incl. Excel serials, unknown
  `acquired_on` (1900-01-01 or empty), the same person under a second account
  number, Chinese enumeration values, shuffled and extra columns;
* faults: each security independently, with probability `dirty`, gets one fault
  that must reject it (or, for UNKNOWN_SECURITY, adds a row naming a code that does
  not exist); the fault kinds are dealt round-robin from a seeded shuffle so a
  handful of dirty securities covers every reason code. Faults on accounts use a
  fresh account that holds only in the target security.

At `dirty=0` the export is canonical and cleans with no rejection (lapsed freezes
and DELISTED securities are still present: they are skips).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from regchain.legacy.ids import (
    RESIDENT_CHECK,
    USCC_ALPHABET,
    org_check_char,
    resident_check_char,
    uscc_check_char,
)
from regchain.legacy.reader import FILES



def today() -> dt.date:
    """Today in market time (UTC+8), the default as-of day."""
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date()

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红志文斌宇浩凯晨欣怡梓轩子涵雨桐"
         "思远博文嘉懿梦琪俊杰海燕丹晓东春梅国庆立新永健卫东振华德胜淑珍慧琳佳颖一鸣天佑若曦宏亮")
# (district code, city+district, court city prefix, case-number province abbreviation)
REGIONS = (
    ("110105", "北京市朝阳区", "北京市朝阳区", "京"), ("110108", "北京市海淀区", "北京市海淀区", "京"),
    ("310115", "上海市浦东新区", "上海市浦东新区", "沪"), ("310104", "上海市徐汇区", "上海市徐汇区", "沪"),
    ("440305", "深圳市南山区", "深圳市南山区", "粤"), ("440106", "广州市天河区", "广州市天河区", "粤"),
    ("330106", "杭州市西湖区", "杭州市西湖区", "浙"), ("320106", "南京市鼓楼区", "南京市鼓楼区", "苏"),
    ("420106", "武汉市武昌区", "武汉市武昌区", "鄂"), ("420111", "武汉市洪山区", "武汉市洪山区", "鄂"),
    ("510107", "成都市武侯区", "成都市武侯区", "川"), ("610113", "西安市雁塔区", "西安市雁塔区", "陕"),
    ("370102", "济南市历下区", "济南市历下区", "鲁"), ("130503", "邢台市信都区", "邢台市信都区", "冀"),
    ("410105", "郑州市金水区", "郑州市金水区", "豫"), ("430104", "长沙市岳麓区", "长沙市岳麓区", "湘"),
    ("350203", "厦门市思明区", "厦门市思明区", "闽"), ("500103", "重庆市渝中区", "重庆市渝中区", "渝"),
    ("120101", "天津市和平区", "天津市和平区", "津"), ("420502", "宜昌市西陵区", "宜昌市西陵区", "鄂"),
)
TRADE_NAMES = ("华信", "宏达", "恒通", "鑫源", "瑞丰", "中科", "金桥", "博远", "天成", "汇智", "远航", "东升",
               "楚天", "长江", "光谷", "新锐", "腾飞", "安泰", "聚力", "卓越", "正和", "同创", "海纳", "嘉禾",
               "荆楚", "云帆", "盛世", "启明", "力拓", "明德", "融通", "泰和", "永安", "富民", "兴业", "清源")
INDUSTRIES = ("科技", "信息技术", "生物医药", "新材料", "智能制造", "农业发展", "环保科技", "电子", "软件",
              "食品", "物流", "文化传媒", "建筑工程", "新能源", "精密机械", "医疗器械", "商贸", "光电")
BANKS = ("中国工商银行股份有限公司", "中国建设银行股份有限公司", "中国农业银行股份有限公司", "中国银行股份有限公司",
         "招商银行股份有限公司", "兴业银行股份有限公司", "交通银行股份有限公司", "汉口银行股份有限公司",
         "湖北银行股份有限公司", "武汉农村商业银行股份有限公司")
KIND_ZH = {"LLC": "有限责任公司", "JSC": "股份有限公司", "LP_FUND": "有限合伙型基金", "CONTRACT_FUND": "契约型基金"}
STATUS_ZH = {"ACTIVE": "正常", "SUSPENDED": "暂停", "DELISTED": "摘牌"}
HOLDER_ZH = {"INDIVIDUAL": "个人", "INSTITUTION": "机构", "PRODUCT": "产品"}
IDTYPE_ZH = {"RESIDENT_ID": "居民身份证", "USCC": "统一社会信用代码", "PASSPORT": "护照", "OTHER": "其他"}
FREEZE_ZH = {"FREEZE": "冻结", "QUEUED": "轮候冻结"}
UNIT_WORD = {"LLC": "元", "JSC": "股", "LP_FUND": "份", "CONTRACT_FUND": "份"}
KINDS = ("LLC", "JSC", "LP_FUND", "CONTRACT_FUND")
SCALE = {"LLC": 2, "JSC": 0, "LP_FUND": 2, "CONTRACT_FUND": 2}
CAP = {"LLC": 50, "JSC": 200, "LP_FUND": 50, "CONTRACT_FUND": 200}

# Faults that reject; each entry is the reason code the target must carry.
FAULTS = (
    "BAD_ID_CHECKSUM", "EXCEL_MANGLED_ID", "BAD_ID_FORMAT", "BAD_ISSUER_ID", "BAD_AMOUNT", "BAD_DATE",
    "UNKNOWN_ACCOUNT", "UNKNOWN_SECURITY", "TOTAL_MISMATCH", "HOLDER_CAP_EXCEEDED", "PAID_EXCEEDS_UNITS",
    "PLEDGE_EXCEEDS_HOLDING", "FREEZE_EXCEEDS_HOLDING", "DUPLICATE_KEY",
)
# Kinds a fault forces on its target security (others keep their drawn kind).
_FAULT_KIND = {"HOLDER_CAP_EXCEEDED": ("LLC", "LP_FUND"), "PAID_EXCEEDS_UNITS": ("LLC",)}

_ZH = {**KIND_ZH, **STATUS_ZH, **HOLDER_ZH, **IDTYPE_ZH, **FREEZE_ZH}
_SPACES = ("\u3000", "\xa0", "\u200b", " ", "\t")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True)
class Amount:
    value: int  # smallest units
    scale: int
    word: str = ""  # 股/元/份 for 万 forms


@dataclass
class Fault:
    """An injected fault and where its reason code must show in the report."""

    reason: str
    section: str  # report section: "securities", "accounts", "pledges", "freezes"
    key: str  # key in that section
    security: str | None = None  # security that must be REJECTED with `also` (if any)
    also: str | None = None  # reason the security carries when the fault sits elsewhere
    note: str = ""


@dataclass
class SynthExport:
    seed: int
    as_of: dt.date
    dirty: float
    # rows per file, English column names; values are str, Amount or date objects
    tables: dict[str, list[dict]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    merged_pairs: list[tuple[str, str]] = field(default_factory=list)  # (account, duplicate account)

    def manifest(self) -> dict:
        return {
            "seed": self.seed, "as_of": self.as_of.isoformat(), "dirty": self.dirty,
            "rows": {f"{name}.csv": len(rows) for name, rows in self.tables.items()},
            "faults": [f.__dict__ for f in self.faults],
            "merged_pairs": [list(p) for p in self.merged_pairs],
        }


def resident_id(region: str, born: dt.date, seq: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + resident_check_char(first17)


def uscc(region: str, org8: str, prefix: str = "91") -> str:
    first17 = prefix + region + org8 + org_check_char(org8)
    return first17 + uscc_check_char(first17)


def excel_serial(date: dt.date) -> int:
    return (date - _EXCEL_EPOCH).days


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


class _Gen:
    def __init__(self, seed: int, n_securities: int, dirty: float, as_of: dt.date, encoding: str, chinese: bool):
        self.rng = random.Random(seed)
        self.n = n_securities
        self.dirty = dirty
        self.as_of = as_of
        self.chinese = chinese
        self.spaces = tuple(c for c in _SPACES if _encodable(c, encoding))
        self.accounts: list[dict] = []
        self.securities: list[dict] = []
        self.holdings: list[dict] = []
        self.pledges: list[dict] = []
        self.freezes: list[dict] = []
        self.faults: list[Fault] = []
        self.merged_pairs: list[tuple[str, str]] = []
        self._ids: set[str] = set()
        self._account_nos: set[str] = set()
        self._codes: set[str] = set()
        self._orgs: set[str] = set()
        self._pledge_seq = 0
        self._freeze_seq = 0

    # -- helpers

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def day_between(self, a: dt.date, b: dt.date) -> dt.date:
        if b <= a:
            return a
        return a + dt.timedelta(days=self.rng.randint(0, (b - a).days))

    def new_account_no(self) -> str:
        while True:
            no = f"{self.rng.randint(1, 10**8 - 1):010d}"
            if no not in self._account_nos:
                self._account_nos.add(no)
                return no

    def new_code(self) -> str:
        while True:
            code = f"{self.rng.randint(1, 999999):06d}"
            if code not in self._codes:
                self._codes.add(code)
                return code

    def person_name(self) -> str:
        r = self.rng
        surname = r.choice(COMPOUND_SURNAMES) if r.random() < 0.01 else r.choice(SURNAMES)
        return surname + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def new_resident(self, born: dt.date | None = None) -> tuple[str, dt.date, str]:
        while True:
            region = self.rng.choice(REGIONS)[0]
            born = born or self.day_between(dt.date(1950, 1, 1), dt.date(2000, 12, 31))
            rid = resident_id(region, born, self.rng.randint(1, 999))
            if rid not in self._ids:
                self._ids.add(rid)
                return rid, born, region

    def new_uscc(self, region: str | None = None, prefix: str = "91") -> str:
        while True:
            org = f"{self.rng.randint(10**7, 10**8 - 1)}"
            if org not in self._orgs:
                self._orgs.add(org)
                return uscc(region or self.rng.choice(REGIONS)[0], org, prefix)

    def company_name(self, suffix: str) -> str:
        r = self.rng
        city = r.choice(REGIONS)[1][:3]
        return f"{city}{r.choice(TRADE_NAMES)}{r.choice(INDUSTRIES)}{suffix}"

    def wallet(self) -> str:
        addr = "0x" + "".join(self.rng.choice("0123456789abcdef") for _ in range(40))
        if self.chance(0.5):
            try:
                from eth_utils import to_checksum_address

                return to_checksum_address(addr)
            except ImportError:
                pass
        return addr

    def add_account(self, holder_type: str, name: str, id_type: str, id_number: str, **extra) -> dict:
        row = {"account_no": self.new_account_no(), "holder_name": name, "holder_type": holder_type,
               "id_type": id_type, "id_number": id_number,
               "qualified": "Y" if self.chance(0.9) else "N",
               "wallet": self.wallet() if self.chance(0.08) else ""}
        row.update(extra)
        self.accounts.append(row)
        return row

    def unique(self, make) -> str:
        while (value := make()) in self._ids:
            pass
        self._ids.add(value)
        return value

    def new_individual(self) -> dict:
        if self.chance(0.01):
            r = self.rng
            passport = self.unique(lambda: f"{r.choice('EGPK')}{r.randint(10**7, 10**8 - 1)}")
            return self.add_account("INDIVIDUAL", r.choice(("JOHN SMITH", "MARIA GARCIA", "KENJI SATO", "ANNA MULLER")),
                                    "PASSPORT", passport)
        rid, born, _ = self.new_resident()
        return self.add_account("INDIVIDUAL", self.person_name(), "RESIDENT_ID", rid, _born=born)

    def new_institution(self) -> dict:
        return self.add_account("INSTITUTION", self.company_name(self.rng.choice(("有限公司", "股份有限公司"))),
                                "USCC", self.new_uscc())

    def new_product(self) -> dict:
        r = self.rng
        name = f"{r.choice(TRADE_NAMES)}{r.choice(('成长', '稳健', '创新', '优选'))}{r.randint(1, 9)}号私募股权投资基金"
        code = self.unique(lambda: "S" + r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(r.choice("0123456789") for _ in range(4)))
        return self.add_account("PRODUCT", name, "OTHER", code)

    def new_bank(self) -> dict:
        r = self.rng
        city = r.choice(REGIONS)[1]
        return self.add_account("INSTITUTION", f"{r.choice(BANKS)}{city[:3]}分行", "USCC", self.new_uscc(prefix="91"),
                                qualified="Y")

    def pool_member(self) -> dict:
        x = self.rng.random()
        if x < 0.85:
            return self.new_individual()
        if x < 0.97:
            return self.new_institution()
        return self.new_product()

    # -- amounts

    def split(self, kind: str, holders: int) -> list[int]:
        """Holding sizes in smallest units."""
        r = self.rng
        out = []
        for i in range(holders):
            if kind == "JSC":
                v = r.choice((100, 1000, 10000)) * r.randint(1, 5000)
            elif kind == "LLC":
                v = r.choice((1000, 10000, 50000)) * r.randint(1, 500) * 100
                if r.random() < 0.1:
                    v += r.randint(1, 99)  # cents
            else:  # fund units: at least RMB 1 million a head
                v = r.randint(100, 5000) * 10000 * 100
            if i == 0:
                v *= r.randint(2, 10)  # the controller
            out.append(v)
        return out

    # -- securities

    def holders_for(self, kind: str) -> int:
        r = self.rng
        if kind == "LLC":
            n = 1 + int(r.expovariate(1 / 8))
        elif kind == "LP_FUND":
            n = 2 + int(r.expovariate(1 / 10))
        else:
            n = 5 + int(r.expovariate(1 / 30))
        return min(n, CAP[kind])

    def build(self) -> None:
        r = self.rng
        n = self.n
        # Account pool, about 14.3 per security as in a province.
        pool = [self.pool_member() for _ in range(max(8, round(n * 14.3)))]
        self.banks = [self.new_bank() for _ in range(max(3, n // 50))]
        fault_deck: list[str] = []
        for i in range(n):
            fault = None
            if self.dirty and r.random() < self.dirty:
                if not fault_deck:
                    fault_deck = list(FAULTS)
                    r.shuffle(fault_deck)
                fault = fault_deck.pop()
            self.build_security(pool, fault, KINDS[i] if i < len(KINDS) else None)
        self.build_encumbrances()
        if self.dirty:
            self.add_duplicate_persons()

    def build_security(self, pool: list[dict], fault: str | None, kind: str | None = None) -> None:
        """One security and its holdings; `kind` given (the first four, one of each
        kind, so that every export has all four) also means ACTIVE."""
        r = self.rng
        drawn = r.choices(KINDS, (45, 35, 12, 8))[0]
        status = "ACTIVE"
        if fault is None and kind is None:
            status = r.choices(("ACTIVE", "SUSPENDED", "DELISTED"), (90, 5, 5))[0]
        kind = kind or drawn
        if fault in _FAULT_KIND:
            kind = r.choice(_FAULT_KIND[fault])
        scale = SCALE[kind]
        holders = CAP[kind] + 1 if fault == "HOLDER_CAP_EXCEEDED" else self.holders_for(kind)
        registered = self.day_between(dt.date(2012, 1, 1), self.as_of - dt.timedelta(days=120))
        region = r.choice(REGIONS)[0]
        if kind == "LP_FUND":
            name = f"{self.company_name('')[:3]}{r.choice(TRADE_NAMES)}{r.choice(('创业投资', '股权投资', '产业投资'))}合伙企业（有限合伙）"
        elif kind == "CONTRACT_FUND":
            name = f"{r.choice(TRADE_NAMES)}{r.choice(('成长', '价值', '创新'))}{r.randint(1, 20)}号私募股权投资基金"
        else:
            name = self.company_name("有限公司" if kind == "LLC" else "股份有限公司")
        code = self.new_code()
        members = r.sample(pool, min(holders, len(pool)))
        while len(members) < holders:
            members.append(self.pool_member())
        sizes = self.split(kind, holders)
        sec = {"code": code, "name": name, "issuer_id": self.new_uscc(region), "kind": kind,
               "total_units": Amount(sum(sizes), scale, UNIT_WORD[kind]), "unit_scale": str(scale),
               "registered_on": registered, "status": status, "_kind": kind}
        self.securities.append(sec)
        rows = []
        for acct, size in zip(members, sizes, strict=True):
            paid = ""
            if kind == "LLC":
                x = r.random()
                if x < 0.2:
                    paid = Amount(size, scale, "元")
                elif x < 0.3:
                    paid = Amount(size * r.choice((0, 20, 50, 80)) // 100, scale, "元")
            acquired = self.day_between(registered, self.as_of - dt.timedelta(days=10))
            lock = ""
            if r.random() < 0.1:
                lock = self.day_between(acquired, self.as_of + dt.timedelta(days=700))
            row = {"security_code": code, "account_no": acct["account_no"], "units": Amount(size, scale, UNIT_WORD[kind]),
                   "paid_units": paid, "acquired_on": acquired, "lock_until": lock,
                   "insider": "Y" if kind == "JSC" and r.random() < 0.05 else "", "_sec": sec}
            rows.append(row)
        self.holdings.extend(rows)
        if fault:
            self.inject(fault, sec, rows)

    # -- pledges and freezes

    def next_pledge_no(self, year: int) -> str:
        self._pledge_seq += 1
        return f"ZY{year}{self._pledge_seq:06d}"

    def next_freeze_no(self, year: int) -> str:
        self._freeze_seq += 1
        return f"DJ{year}{self._freeze_seq:06d}"

    def add_pledge(self, h: dict, value: int, day: dt.date, pledgee: dict | None = None) -> dict:
        sec = h["_sec"]
        row = {"pledge_no": self.next_pledge_no(day.year), "security_code": h["security_code"],
               "pledgor_account": h["account_no"], "pledgee_account": (pledgee or self.rng.choice(self.banks))["account_no"],
               "units": Amount(value, h["units"].scale, UNIT_WORD[sec["_kind"]]), "registered_on": day}
        self.pledges.append(row)
        return row

    def add_freeze(self, h: dict, value: int, day: dt.date, expires: dt.date, kind: str) -> dict:
        r = self.rng
        region = r.choice(REGIONS)
        sec = h["_sec"]
        row = {"freeze_no": self.next_freeze_no(day.year), "security_code": h["security_code"],
               "account_no": h["account_no"], "units": Amount(value, h["units"].scale, UNIT_WORD[sec["_kind"]]),
               "court": f"{region[2]}人民法院",
               "case_no": f"（{day.year}）{region[3]}{region[0][:4]}执{r.randint(1, 9999)}号",
               "registered_on": day, "expires_on": expires, "kind": kind}
        self.freezes.append(row)
        return row

    def portion(self, value: int, scale: int, lo: float, hi: float) -> int:
        """A round-ish part of `value` (whole units), at least 1 unit."""
        one = 10**scale
        whole = value // one
        part = max(1, int(whole * self.rng.uniform(lo, hi)))
        return min(part * one, value)

    def build_encumbrances(self) -> None:
        r = self.rng
        live = [h for h in self.holdings if h["_sec"]["status"] != "DELISTED" and "_fault" not in h]
        if not live:
            return
        n_pledge = max(min(len(live), 4), round(len(live) * 0.02))
        for h in r.sample(live, min(n_pledge, len(live))):
            v = h["units"].value
            first = self.portion(v, h["units"].scale, 0.3, 0.7)
            day = self.day_between(h["acquired_on"], self.as_of - dt.timedelta(days=5))
            self.add_pledge(h, first, day)
            if r.random() < 0.15 and v - first >= 10**h["units"].scale:
                self.add_pledge(h, self.portion(v - first, h["units"].scale, 0.2, 1.0),
                                self.day_between(day, self.as_of - dt.timedelta(days=1)))
        n_freeze = max(min(len(live), 4), round(len(live) * 0.007))
        for i, h in enumerate(r.sample(live, min(n_freeze, len(live)))):
            v, scale = h["units"].value, h["units"].scale
            lapsed = i == 0 or r.random() < 0.2
            if lapsed:
                day = self.day_between(self.as_of - dt.timedelta(days=1400), self.as_of - dt.timedelta(days=400))
                expires = self.day_between(day + dt.timedelta(days=300), self.as_of - dt.timedelta(days=1))
            else:
                day = self.day_between(self.as_of - dt.timedelta(days=900), self.as_of - dt.timedelta(days=2))
                expires = day + dt.timedelta(days=3 * 365)
            self.add_freeze(h, self.portion(v, scale, 0.2, 1.0), day, expires, "FREEZE")
            if (i == 1 or r.random() < 0.3) and not lapsed:
                qday = self.day_between(day, self.as_of - dt.timedelta(days=1))
                self.add_freeze(h, self.portion(v, scale, 0.2, 1.0), qday, qday + dt.timedelta(days=3 * 365), "QUEUED")

    # -- merges (cosmetic: the same person under a second account number)

    def add_duplicate_persons(self) -> None:
        r = self.rng
        by_no = {a["account_no"]: a for a in self.accounts}
        candidates = [h for h in self.holdings
                      if "_fault" not in h and "_fault" not in h["_sec"]
                      and by_no[h["account_no"]]["id_type"] == "RESIDENT_ID"
                      and "_born" in by_no[h["account_no"]]]
        taken = set()
        pledged = {(p["security_code"], p["pledgor_account"]) for p in self.pledges}
        frozen = {(f["security_code"], f["account_no"]) for f in self.freezes}
        for h in r.sample(candidates, min(len(candidates), max(1, round(len(candidates) * self.dirty * 0.05)))):
            orig = by_no[h["account_no"]]
            key = (h["security_code"], h["account_no"])
            if orig["account_no"] in taken or key in pledged or key in frozen:
                continue
            taken.add(orig["account_no"])
            id_number = orig["id_number"]
            if r.random() < 0.5 and orig["_born"].year < 2000:  # the old 15-digit form of the same id
                id_number = id_number[:6] + id_number[8:17]
            dup = self.add_account("INDIVIDUAL", orig["holder_name"], "RESIDENT_ID", id_number,
                                   qualified=orig["qualified"], wallet="")
            self.merged_pairs.append((orig["account_no"], dup["account_no"]))
            scale = h["units"].scale
            if r.random() < 0.5 and h["units"].value >= 2 * 10**scale and not h["paid_units"]:
                # split the holding between the two account numbers (the merge sums them back)
                part = self.portion(h["units"].value, scale, 0.1, 0.5)
                if part < h["units"].value:
                    h["units"] = Amount(h["units"].value - part, scale, h["units"].word)
                    new = dict(h, account_no=dup["account_no"], units=Amount(part, scale, h["units"].word))
                    self.holdings.append(new)
                    continue
            h["account_no"] = dup["account_no"]  # the duplicate holds it alone

    # -- faults

    def fresh_holder(self, h: dict, id_number: str, id_type: str = "RESIDENT_ID") -> dict:
        acct = self.add_account("INDIVIDUAL" if id_type == "RESIDENT_ID" else "INSTITUTION",
                                self.person_name(), id_type, id_number)
        h["account_no"] = acct["account_no"]
        return acct

    def inject(self, fault: str, sec: dict, rows: list[dict]) -> None:
        r = self.rng
        code = sec["code"]
        h = r.choice(rows)
        sec["_fault"] = fault
        for row in rows:
            row["_fault"] = fault
        scale = h["units"].scale

        def acct_fault(id_number: str, id_type: str = "RESIDENT_ID", note: str = "") -> None:
            acct = self.fresh_holder(h, id_number, id_type)
            self.faults.append(Fault(fault, "accounts", acct["account_no"], code, "UNKNOWN_ACCOUNT", note))

        if fault == "BAD_ID_CHECKSUM":
            variant = r.randrange(3)
            if variant == 0:
                rid, _, _ = self.new_resident()
                bad = rid[:17] + next(c for c in RESIDENT_CHECK if c != rid[17])
                acct_fault(bad, note="wrong check character")
            elif variant == 1:
                first17 = f"{r.choice(REGIONS)[0]}{r.randint(1950, 1999)}0230{r.randint(100, 999)}"
                acct_fault(first17 + resident_check_char(first17), note="birth date Feb 30")
            else:
                good = self.new_uscc()
                bad = good[:17] + next(c for c in USCC_ALPHABET if c != good[17])
                acct_fault(bad, "USCC", note="USCC wrong check character")
        elif fault == "EXCEL_MANGLED_ID":
            rid, _, _ = self.new_resident()
            # Excel keeps 15 significant digits: 4.20106E+17 on screen, 420106199001011000.0 in a float dump
            mangled = r.choice((f"{rid[0]}.{rid[1:6]}E+17", rid[:15] + "000.0"))
            acct_fault(mangled, note="spreadsheet number")
        elif fault == "BAD_ID_FORMAT":
            rid, _, _ = self.new_resident()
            acct_fault(r.choice((rid[:17], rid[:10] + "O" + rid[11:], rid + "1")), note="wrong length or characters")
        elif fault == "BAD_ISSUER_ID":
            good = sec["issuer_id"]
            sec["issuer_id"] = good[:17] + next(c for c in USCC_ALPHABET if c != good[17])
            self.faults.append(Fault(fault, "securities", code))
        elif fault == "BAD_AMOUNT":
            v = h["units"]
            h["units"] = r.choice(("-" + str(v.value // 10**scale), "0", "N/A",
                                   f"{v.value // 10**scale}.{'5' * (scale + 1)}"))
            self.faults.append(Fault(fault, "securities", code, note=f"units {h['units']!r}"))
        elif fault == "BAD_DATE":
            bad = r.choice(("2021-13-45", "03/05/2021", "2021.3.5", "去年", "2019-02-29"))
            if r.random() < 0.5:
                h["acquired_on"] = bad
            else:
                sec["registered_on"] = bad
            self.faults.append(Fault(fault, "securities", code, note=bad))
        elif fault == "UNKNOWN_ACCOUNT":
            h["account_no"] = self.new_account_no()  # never written to accounts.csv
            self.faults.append(Fault(fault, "securities", code))
        elif fault == "UNKNOWN_SECURITY":
            ghost = self.new_code()
            self.holdings.append({"security_code": ghost, "account_no": h["account_no"],
                                  "units": Amount(10**scale, scale), "paid_units": "",
                                  "acquired_on": h["acquired_on"], "lock_until": "", "insider": "", "_fault": fault,
                                  "_sec": sec})
            self.faults.append(Fault(fault, "securities", ghost))
            for row in rows:  # the target itself stays clean
                del row["_fault"]
            del sec["_fault"]
        elif fault == "TOTAL_MISMATCH":
            t = sec["total_units"]
            sec["total_units"] = Amount(t.value + 10**scale * r.randint(1, 1000), t.scale, t.word)
            self.faults.append(Fault(fault, "securities", code))
        elif fault == "HOLDER_CAP_EXCEEDED":
            self.faults.append(Fault(fault, "securities", code))
        elif fault == "PAID_EXCEEDS_UNITS":
            h["paid_units"] = Amount(h["units"].value + 100, scale, "元")
            self.faults.append(Fault(fault, "securities", code))
        elif fault == "PLEDGE_EXCEEDS_HOLDING":
            p = self.add_pledge(h, h["units"].value + 10**scale, self.day_between(h["acquired_on"], self.as_of))
            self.faults.append(Fault(fault, "pledges", p["pledge_no"], code, fault))
        elif fault == "FREEZE_EXCEEDS_HOLDING":
            day = self.as_of - dt.timedelta(days=30)
            f = self.add_freeze(h, h["units"].value + 10**scale, day, day + dt.timedelta(days=3 * 365), "FREEZE")
            self.faults.append(Fault(fault, "freezes", f["freeze_no"], code, fault))
        elif fault == "DUPLICATE_KEY":
            variant = r.randrange(4)
            if variant == 0:
                self.securities.append(dict(sec))
                self.faults.append(Fault(fault, "securities", code, note="code twice"))
            elif variant == 1:
                self.holdings.append(dict(h))
                self.faults.append(Fault(fault, "securities", code, note="(security, account) twice"))
            elif variant == 2:
                rid, _, _ = self.new_resident()
                acct = self.fresh_holder(h, rid)
                self.accounts.append(dict(acct, holder_name=self.person_name()))
                self.faults.append(Fault(fault, "accounts", acct["account_no"], code, "UNKNOWN_ACCOUNT",
                                         note="account_no twice"))
            else:
                day = self.day_between(h["acquired_on"], self.as_of)
                p = self.add_pledge(h, self.portion(h["units"].value, scale, 0.1, 0.3), day)
                self.pledges.append(dict(p))
                self.faults.append(Fault(fault, "pledges", p["pledge_no"], code, fault, note="pledge_no twice"))


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


# ---------------------------------------------------------------- formatting


class _Formatter:
    """Turns generated values into CSV text, with cosmetic dirt at rate `dirty`."""

    def __init__(self, rng: random.Random, dirty: float, spaces: tuple[str, ...], chinese: bool):
        self.rng = rng
        self.dirty = dirty
        self.spaces = spaces
        self.chinese = chinese

    def dirt(self) -> bool:
        return self.dirty > 0 and self.rng.random() < self.dirty

    def amount(self, a: Amount) -> str:
        one = 10**a.scale
        whole, frac = divmod(a.value, one)
        text = f"{whole}.{frac:0{a.scale}d}" if a.scale else str(whole)
        if not self.dirt():
            return text
        form = self.rng.randrange(4)
        if form == 0:
            return f"{whole:,}" + (f".{frac:0{a.scale}d}" if a.scale else "")
        if form == 1 and a.value % (one * 100) == 0:
            wan = a.value // one
            w = f"{wan // 10000}.{wan % 10000:04d}".rstrip("0").rstrip(".")
            return w + "万" + self.rng.choice(("", a.word))
        if form == 2:
            return fullwidth(text)
        return text + ("0" * self.rng.randint(1, 2) if a.scale else "")  # trailing zeros: 100.000

    def date(self, d: dt.date, column: str) -> str:
        if not self.dirt():
            return d.isoformat()
        form = self.rng.randrange(6 if column == "acquired_on" else 5)
        if form == 0:
            return f"{d.year}/{d.month}/{d.day}"
        if form == 1:
            return f"{d:%Y%m%d}"
        if form == 2:
            return f"{d.year}年{d.month}月{d.day}日"
        if form == 3:
            return str(excel_serial(d))
        if form == 4:
            return fullwidth(d.isoformat())
        return self.rng.choice(("1900-01-01", ""))  # unknown acquired_on: a warning, not a reject

    def text(self, value: str, column: str) -> str:
        if self.chinese and value in _ZH:
            value = _ZH[value]
        if not value or column in ("name", "holder_name", "court", "wallet") or not self.dirt():
            return value
        r = self.rng
        if column == "id_number" and value.endswith("X") and r.random() < 0.5:
            return value[:-1] + "x"
        form = r.randrange(3)
        if form == 0 and value.isascii():
            return fullwidth(value)
        if form == 1 or not self.spaces:
            return " " + value + " "
        i = r.randint(1, max(1, len(value) - 1))
        return value[:i] + r.choice(self.spaces) + value[i:]

    def cell(self, value, column: str) -> str:
        if isinstance(value, Amount):
            return self.amount(value)
        if isinstance(value, dt.date):
            return self.date(value, column)
        return self.text(value, column)


def generate(seed: int = 1, securities: int = 20, dirty: float = 0.0, as_of: dt.date | None = None,
             encoding: str = "utf-8", headers: str = "en") -> SynthExport:
    """An export in memory: rows of generated values per file (see write_export).

    Deterministic in (seed, securities, dirty, as_of, encoding, headers); `as_of`
    (default today, UTC+8) anchors every date, so that freezes generated as in
    force are in force and lapsed ones lapsed when cleaned on that day. The
    encoding only decides which invisible spaces the dirt may use."""
    as_of = as_of or today()
    chinese = headers == "zh"
    g = _Gen(seed, securities, dirty, as_of, encoding, chinese)
    g.build()
    fmt = _Formatter(random.Random(f"{seed}/format"), dirty, g.spaces, chinese)
    tables = {"securities": g.securities, "accounts": g.accounts, "holdings": g.holdings,
              "pledges": g.pledges, "freezes": g.freezes}
    out = SynthExport(seed, as_of, dirty, faults=g.faults, merged_pairs=g.merged_pairs)
    for name, rows in tables.items():
        cols = [c.name for c in FILES[name]]
        out.tables[name] = [{c: fmt.cell(row.get(c, ""), c) for c in cols} for row in rows]
    return out


ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig", "bom": "utf-8-sig",
             "gbk": "gbk", "gb18030": "gb18030"}


def write_export(export: SynthExport, out: str | Path, encoding: str = "utf-8", headers: str = "en") -> Path:
    """Write the five CSV files (and synth-manifest.json) into `out`.

    headers: "en", "zh" or "mixed" (each column's language drawn at random).
    With dirty > 0 the columns are shuffled and an extra column is added."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codec = ENCODINGS[encoding.lower()]
    rng = random.Random(f"{export.seed}/layout")
    for name, rows in export.tables.items():
        columns = list(FILES[name])
        if export.dirty > 0:
            rng.shuffle(columns)
        header = []
        for c in columns:
            lang = headers if headers in ("en", "zh") else rng.choice(("en", "zh"))
            header.append(c.alias if lang == "zh" else c.name)
        extra = export.dirty > 0
        if extra:
            header.insert(rng.randrange(len(header) + 1), "备注" if headers == "zh" else "remark")
        pos = header.index("备注" if headers == "zh" else "remark") if extra else -1
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(header)
        for row in rows:
            cells = [row[c.name] for c in columns]
            if extra:
                cells.insert(pos, "")
            w.writerow(cells)
        (out / f"{name}.csv").write_bytes(buf.getvalue().encode(codec))
    (out / "synth-manifest.json").write_text(json.dumps(export.manifest(), ensure_ascii=False, indent=1) + "\n",
                                             encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m regchain.legacy.synth", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder to write (created)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--securities", type=int, default=20, help="number of securities (about 21 holdings each)")
    p.add_argument("--dirty", type=float, default=0.0, help="rate of dirty values and faulty securities, 0-1")
    p.add_argument("--encoding", default="utf-8", choices=sorted(ENCODINGS))
    p.add_argument("--headers", default="en", choices=("en", "zh", "mixed"))
    p.add_argument("--as-of", default=None, help="day the export is dated, YYYY-MM-DD (default today, UTC+8)")
    a = p.parse_args(argv)
    if not 0 <= a.dirty <= 1:
        p.error("--dirty must be between 0 and 1")
    codec = ENCODINGS[a.encoding]
    as_of = dt.date.fromisoformat(a.as_of) if a.as_of else today()
    export = generate(a.seed, a.securities, a.dirty, as_of, codec, a.headers)
    write_export(export, a.out, codec, a.headers)
    rows = ", ".join(f"{len(r)} {n}" for n, r in export.tables.items())
    print(f"{a.out}: {rows}; {len(export.faults)} faults, {len(export.merged_pairs)} merged persons "
          f"({codec}, {a.headers} headers, as of {as_of})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
