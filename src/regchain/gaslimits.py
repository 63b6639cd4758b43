"""The gas limit of every register function a regchain command sends: one table for `ops`,
the setup (deploy's grants and hand-over) and the calendar.

Transactions go through regchain.writer with these limits, never eth_estimateGas. Each
limit is a measurement plus a stated margin:

* "worst": a function with loops, measured at the largest state its loops can meet (the
  contracts' MAX_* bounds: 8 pledges and 64 freezes on a holding, batches of 200, imports
  of 50, 400 calendar days; tests/test_robustness_contracts.py `worst_cases`), or on its
  first use where that costs more (accept_pledge). Margin 25 %.
* "cold": a function without loops, measured on a cold path (the first write of its
  storage slots; tests/test_gaslimits.py `cold_cases`). Margin 100 % (a path that
  touches other cold slots or makes a new holder costs tens of thousands more).

MEASURED holds the figures (anvil 1.7.1, london, Vyper 0.4.3, the suite as of this table);
tests/test_gaslimits.py measures them again on a fresh node and fails when a function uses
more than its limit, so the table cannot silently go stale. UNMEASURED lists the functions
`ops` can send that no test measures yet, with the limit they get and why.
"""

from __future__ import annotations

import math

MARGIN = {"worst": 1.25, "cold": 2.0}

def limit_of(gas: int, kind: str) -> int:
    """A measured figure plus its kind's margin, rounded up to 10,000."""
    return math.ceil(gas * MARGIN[kind] / 10_000) * 10_000


# function -> (gas measured, kind, the state it was measured at)
MEASURED: dict[str, tuple[int, str, str]] = {
    # loops at their bounds (worst_cases)
    "open_accounts": (9_793_394, "worst", "200 accounts"),
    "register_holdings": (7_025_973, "worst", "200 insiders with lock-ups, acquired on 200 days"),
    "register_holdings_many": (9_116_433, "worst", "200 securities, insiders, lock-ups, 200 days"),
    "import_pledges": (11_016_208, "worst", "50 pledges"),
    "import_freezes": (13_814_688, "worst", "50 freezes"),
    "decrease_capital": (10_685_376, "worst", "200 holders, 24 with 8 pledges + 64 freezes, insiders"),
    "increase_capital": (5_770_094, "worst", "200 holders, 199 new"),
    "offer_pledge": (188_843, "worst", "the 8th offer on a holding"),
    "accept_pledge": (193_272, "worst", "the first pledge on a holding (more than the 8th: 139,172)"),
    "freeze": (477_732, "worst", "the 64th freeze on a holding with 8 pledges"),
    "transfer": (263_024, "worst", "8 pledges + 64 freezes, insider, new holder"),
    "transfer_pledged": (256_660, "worst", "8 pledges + 64 freezes"),
    "enforce_pledge": (285_474, "worst", "court; 8 pledges + 64 freezes"),
    "renew_freeze": (210_936, "worst", "the 64th freeze"),
    "court_transfer": (385_929, "worst", "the 64th freeze, 8 pledges"),
    "lift_freeze": (577_971, "worst", "promotes 63 waiting freezes"),
    "recover": (13_525_022, "worst", "200 ids, 1 with 8 pledges + 64 freezes"),
    "publish_calendar": (281_638, "worst", "400 days, all trading"),
    "amend_calendar": (215_161, "worst", "32 words renumbered"),
    "tidy_freezes": (633_373, "worst", "64 lapsed freezes"),
    # no loops: a cold path (cold_cases)
    "open_account": (77_840, "cold", "a new account"),
    "set_qualified": (37_136, "cold", ""),
    "suspend_account": (37_131, "cold", ""),
    "reactivate_account": (37_190, "cold", ""),
    "close_account": (36_974, "cold", ""),
    "register_security": (144_375, "cold", "a new security"),
    "seal_security": (39_020, "cold", ""),
    "set_security_status": (37_047, "cold", ""),
    "set_lockup": (39_989, "cold", ""),
    "set_insider": (40_178, "cold", ""),
    "set_transfer_terms": (38_055, "cold", ""),
    "grant_security_role": (52_476, "cold", "a fresh slot"),
    "revoke_security_role": (30_512, "cold", ""),
    "grant_role": (51_900, "cold", "a fresh slot"),
    "revoke_role": (29_988, "cold", ""),
    "approve": (48_561, "cold", ""),
    "setOperator": (48_026, "cold", ""),
    "transferFrom": (95_921, "cold", "a new holder"),
    "register_pledge": (208_531, "cold", "the first pledge on a holding"),
    "release_pledge": (62_849, "cold", ""),
    "consent_pledged_transfer": (92_154, "cold", ""),
    "cancel_pledge_offer": (53_700, "cold", ""),
    "consent_enforcement": (76_491, "cold", ""),
    "record_paid_in": (40_023, "cold", ""),
    "propose_transfer": (232_977, "cold", "free of payment"),
    "propose_court_sale": (235_567, "cold", "free of payment"),
    "accept_transfer": (141_581, "cold", "escrows the price (free of payment: 80,691)"),
    "consent_transfer": (82_599, "cold", ""),
    "reject_transfer": (68_005, "cold", "nothing escrowed"),
    "withdraw_transfer": (65_741, "cold", "nothing escrowed"),
    "pause": (33_613, "cold", ""),
    "unpause": (33_539, "cold", ""),
    "transfer_governance": (51_353, "cold", ""),
    "accept_governance": (31_914, "cold", ""),
    "set_cash_token": (56_767, "cold", ""),
    "list_units": (268_525, "cold", "a new listing"),
    "bid": (164_810, "cold", "the first bid (escrowed); outbidding: 120,892"),
    "claim_refund": (51_628, "cold", ""),
    "withdraw_listing": (61_652, "cold", "no bids"),
    "consent_listing": (80_333, "cold", ""),
    "close_listing": (108_504, "cold", "sold to the best bid"),
}

# function -> (limit, why): sendable by `ops`, not measured by a test yet
UNMEASURED: dict[str, tuple[int, str]] = {
    "increase_capital_waived": (limit_of(MEASURED["increase_capital"][0], "worst"),
                                "an LLC's increase (at most 50 holders): increase_capital's limit (200 holders)"),
    "settle_transfer": (8_000_000, "without exercisers measured (cold_cases: 97,132 free of payment, 123,888 "
                                   "DvP); the worst case (50 exercisers, delivery versus payment) is not"),
    "exercise_first_refusal": (1_000_000, "not measured (one exerciser appended, an escrow)"),
    "reclaim_lapsed": (1_000_000, "not measured (refunds of up to 50 exercisers' escrows)"),
}


GAS: dict[str, int] = {**{fn: limit_of(g, kind) for fn, (g, kind, _) in MEASURED.items()},
                       **{fn: limit for fn, (limit, _) in UNMEASURED.items()}}


def gas_limit(fn: str) -> int:
    """The gas limit of register function `fn`; KeyError naming it if the table has none."""
    try:
        return GAS[fn]
    except KeyError:
        raise KeyError(f"no gas limit for {fn!r} in regchain.gaslimits: measure it and add it") from None
