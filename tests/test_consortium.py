"""`ape run deploy` with a roles file, the governance hand-over and the register's clock on
nodes that behave like the consortium targets (regchain/testing/consortium_node.py: an anvil mining
1-second blocks behind a proxy answering like FISCO BCOS 3, block.timestamp in
milliseconds, or like Besu QBFT), on the `consortium` network as an operator runs it:
ape keystore accounts unlocked with APE_ACCOUNTS_<alias>_PASSPHRASE (an ape data folder
of the test's own), REGCHAIN_RPC_URI / REGCHAIN_CHAIN_ID / REGCHAIN_TIME_UNIT_MS /
REGCHAIN_PROFILE set. No key the node holds is used: the scenario's transactions are
signed here (regchain.writer with keys of the test's own), the chain's clock is moved on
the anvil behind the proxy (the tests own it; the product never sees those methods).

`deploy --new` by a deployer account grants the registrar and court agent roles and
starts the hand-over to a new governance, which only the new governance can complete:
`deploy` run again with its account does, deploying nothing (Register's constructor
governance comes from the record). The record names the
chain, the clock and the compiler; the deployer keeps no role. On the register: today()
and day_of() follow the market-local date of the chain's clock in its unit; a transfer
inside the holding period (5 trading days) is refused with the reason, after it passes.
`deploy` run again with per-security roles (by the code the security was registered
under) grants only those. A record of another chain id is refused with one line.

The migration, the calendar and `migrate` on these nodes: tests/test_consortium_operator.py
and tests/test_signed_writes.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from regchain import calendar as cal
from regchain import migrate, provision, suite
from regchain.constants import InvestorClass, Kind, Role, SecurityRole
from regchain.abi import SuiteAbi
from regchain.testing.backends import AnvilBackend
from regchain.networks import profile as get_profile
from regchain.rpc import Rpc
from regchain.writer import LocalSigner, WriteError, Writer

from regchain.testing.consortium_node import ConsortiumNode

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "deployments" / "consortium.json"
UTC8 = 8 * 3600
PASSPHRASE = "pass-phrase"
NETWORK = "ethereum:consortium:node"
# anvil's default mnemonic: the same accounts as ape's test accounts (addresses only, for the
# roles-file tests that need no node)
DEPLOYER, GOVERNANCE, REGISTRAR, COURT, ISSUER, ALICE, BOB = range(7)


def _addr(i: int) -> str:
    from ape import accounts

    return accounts.test_accounts[i].address


class Site:
    """A consortium-like node, keystore accounts `deployer` and `council` (the governance to
    be), the other actors' keys held by the test, the environment an operator sets."""

    def __init__(self, profile: str, tmp: Path):
        self.node = ConsortiumNode(profile).start()
        self.unit = 1000 if self.node.ms else 1
        self.tmp = tmp
        self.keys = {name: "0x" + secrets.token_hex(32)
                     for name in ("deployer", "council", "registrar", "court", "issuer", "alice", "bob")}
        self.address = {name: Account.from_key(key).address for name, key in self.keys.items()}
        folder = tmp / "ape" / "accounts"
        folder.mkdir(parents=True)
        for alias in ("deployer", "council"):
            (folder / f"{alias}.json").write_text(json.dumps(Account.encrypt(self.keys[alias], PASSPHRASE)))
        self.env = {**os.environ, "APE_DATA_FOLDER": str(tmp / "ape"), "REGCHAIN_RPC_URI": self.node.uri,
                    "REGCHAIN_CHAIN_ID": str(self.node.chain_id), "REGCHAIN_TIME_UNIT_MS": "1" if self.node.ms else "0",
                    "REGCHAIN_PROFILE": profile, "PYTHONPATH": str(ROOT / "src"),
                    **{f"APE_ACCOUNTS_{a}_PASSPHRASE": PASSPHRASE for a in ("deployer", "council")}}
        self.profile = get_profile(profile)
        self.abi = SuiteAbi.from_suite()

    def ape_run(self, *args, check=True):
        done = subprocess.run(["ape", "run", *args, "--network", NETWORK], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def roles_file(self, securities: dict | None = None, suffix=".yaml") -> Path:
        data = {"governance": self.address["council"], "registrar": self.address["registrar"],
                "court_agent": [self.address["court"]]}
        path = self.tmp / f"roles-{secrets.token_hex(4)}{suffix}"
        if securities:
            data["securities"] = securities
        if suffix == ".json":
            path.write_text(json.dumps(data))
        else:
            path.write_text(f"governance: {data['governance']}\nregistrar: {data['registrar']}\n"
                            f"court_agent: [{data['court_agent'][0]}]\n")
        return path

    def reader(self, register: str) -> AnvilBackend:
        backend = AnvilBackend(self.node.uri, register, self.abi, gas_price=0)
        backend.rpc.batches = self.profile.batches
        return backend

    def writer(self, name: str) -> Writer:
        return Writer(Rpc(self.node.uri), LocalSigner(self.keys[name]), self.profile)

    def send(self, register: str, name: str, fn: str, *args, gas: int = 1_000_000) -> dict:
        return self.writer(name).transact(register, self.abi[fn].encode(args), gas, fn)

    def set_clock(self, t: int) -> None:
        """The chain's clock at `t` (its unit) from the next block on: a block mined at t on the
        anvil behind the proxy; the interval blocks follow from there."""
        latest = int(self.node.anvil("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        assert t > latest, "the clock only moves forward"
        self.node.anvil("evm_mine", [t])

    def at_local_noon(self, day: int) -> int:
        return ((day * 86400 + 12 * 3600) - UTC8) * self.unit

    def close(self):
        self.node.stop()


@pytest.fixture(scope="module", params=["fisco-bcos-3", "besu-qbft"])
def site(request, tmp_path_factory):
    if RECORD.exists():
        pytest.skip(f"{RECORD} exists (someone's consortium record): not overwriting it")
    s = Site(request.param, tmp_path_factory.mktemp(f"consortium-{request.param}"))
    yield s
    s.close()
    RECORD.unlink(missing_ok=True)


def test_deploy__roles_file_and_a_new_governance__grants_then_the_new_governance_completes_the_hand_over(site):
    a = site.address
    first = site.ape_run("deploy", "--account", "deployer", "--roles", str(site.roles_file()), "--new")
    out = first.stdout
    assert "deployed Register" in out
    assert f"registrar {a['registrar']}: granted REGISTRAR" in out
    assert f"court agent {a['court']}: granted COURT_AGENT" in out
    assert f"governance: hand-over to {a['council']} started (transfer_governance)" in out
    assert f"TO DO  governance: {a['council']} must call accept_governance(doc)" in out

    record = json.loads(RECORD.read_text())
    register = record["register"]
    assert record["chain_id"] == site.node.chain_id and record["multicall"]
    assert record["time_unit_ms"] is site.node.ms and record["utc_offset_s"] == UTC8
    for entry in record["contracts"].values():
        assert entry["evm_version"] == "london" and entry["vyper_version"].startswith("0.4.3")
        assert entry["deployer"] == a["deployer"]
    reader = site.reader(register)
    assert reader.call("governance").lower() == a["deployer"].lower()
    assert reader.call("pending_governance").lower() == a["council"].lower()

    second = site.ape_run("deploy", "--account", "council", "--roles", str(site.roles_file()))
    assert "deployed" not in second.stdout and "granted" not in second.stdout
    assert f"governance: {a['council']} accepted; it is governance now" in second.stdout
    assert reader.call("TIME_UNIT") == site.unit
    assert reader.call("governance").lower() == a["council"].lower()
    assert Role(reader.call("roles_of", a["registrar"])) == Role.REGISTRAR
    assert Role(reader.call("roles_of", a["court"])) == Role.COURT_AGENT
    assert Role(reader.call("roles_of", a["deployer"])) == 0  # the deployer keeps nothing

    calls = site.node.calls  # every write through regchain.writer: nothing the node would decide
    assert calls.get("eth_gasPrice", 0) == 0 and calls.get("eth_estimateGas", 0) == 0
    assert calls.get("eth_sendTransaction", 0) == 0 and calls["eth_sendRawTransaction"] > 0
    assert [m for m in calls if m.startswith(("anvil_", "evm_", "txpool_"))] == []
    assert site.node.refused_batches == 0


def test_register__clock_holding_period_and_per_security_roles(site):
    a = site.address
    register = json.loads(RECORD.read_text())["register"]
    reader = site.reader(register)

    # the clock: today() and day_of() agree with the market-local date of the chain's time
    start_day = cal.day_number(dt.datetime.fromtimestamp(time.time() + UTC8, dt.timezone.utc).date())
    monday = start_day + 7 - (start_day + 3) % 7  # the next Monday: the clock only moves forward
    assert cal.date_of(monday).weekday() == 0
    site.set_clock(site.at_local_noon(monday))
    assert reader.call("today") == monday
    noon = site.at_local_noon(monday)
    assert reader.call("day_of", noon) == monday
    assert reader.call("day_of", noon + (12 * 3600 - 1) * site.unit) == monday
    assert reader.call("day_of", noon + 12 * 3600 * site.unit) == monday + 1

    # calendar (weekdays), accounts, a JSC registered and sealed with holdings acquired on Monday
    site.send(register, "registrar", "publish_calendar", monday - 30, monday + 60,
              cal.weekdays(monday - 30, monday + 60), keccak(text="calendar"))
    for who in ("alice", "bob"):
        site.send(register, "registrar", "open_account", a[who], keccak(text=f"id:{who}"),
                  int(InvestorClass.INDIVIDUAL), True, keccak(text="open"))
    code = migrate.code_hash_of(f"SIM-{site.node.profile}")  # the code hash `ape run ops` and the migration use
    site.send(register, "registrar", "register_security", code, int(Kind.JSC), 0, 1000, keccak(text="reg"))
    sid = reader.call("security_id", code)
    site.send(register, "registrar", "register_holdings", sid, [(a["alice"], 1000, 1000, monday, 0, False)],
              keccak(text="h"))
    site.send(register, "registrar", "seal_security", sid, keccak(text="seal"))
    assert reader.call("balanceOf", a["alice"], sid) == 1000

    # holding period: 5 trading days after Monday's acquisition is the next Monday; on
    # Sunday (4 trading days: Tue..Fri) the transfer is refused with the reason
    sunday = monday + 6
    site.set_clock(site.at_local_noon(sunday))
    assert reader.call("today") == sunday
    assert reader.call("trading_day_number_of_day", sunday) - reader.call("trading_day_number_of_day", monday) == 4
    assert list(reader.call("can_transfer", a["alice"], a["bob"], sid, 100)) == [False, "ledger: holding period not met"]
    with pytest.raises(WriteError, match="^transfer reverted: ledger: holding period not met"):
        site.send(register, "alice", "transfer", a["bob"], sid, 100, gas=500_000)
    assert reader.call("balanceOf", a["bob"], sid) == 0

    site.set_clock(site.at_local_noon(monday + 7))
    assert list(reader.call("can_transfer", a["alice"], a["bob"], sid, 100)) == [True, ""]
    receipt = site.send(register, "alice", "transfer", a["bob"], sid, 100, gas=500_000)
    assert int(receipt["status"], 16) == 1
    assert reader.call("balanceOf", a["bob"], sid) == 100 and reader.call("balanceOf", a["alice"], sid) == 900

    # deploy again with per-security roles (by the code it was registered under): only those are granted
    roles = site.roles_file({f"SIM-{site.node.profile}": {"issuer_agent": a["issuer"]}}, ".json")
    again = site.ape_run("deploy", "--account", "council", "--roles", str(roles))
    assert "deployed" not in again.stdout
    assert "granted" not in again.stdout.replace("granted ISSUER_AGENT", "")
    assert f"security {sid}: {a['issuer']} granted ISSUER_AGENT" in again.stdout
    assert SecurityRole(reader.call("security_roles", sid, a["issuer"])) == SecurityRole.ISSUER_AGENT


def test_deploy__record_of_another_chain_id__refused(site):
    if site.node.profile != "besu-qbft":
        pytest.skip("one target is enough (a subprocess costs seconds)")
    saved = RECORD.read_text() if RECORD.exists() else None
    RECORD.write_text(json.dumps({"network": "consortium", "chain_id": 999, "contracts": {}}))
    try:
        done = site.ape_run("deploy", "--account", "deployer", "--new", "--registrar", site.address["registrar"],
                            check=False)
        assert done.returncode != 0
        line = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1]
        assert line.startswith("Error: ")
        assert "recorded on chain id 999" in line and f"reports chain id {site.node.chain_id}" in line
        assert "refusing" in line
    finally:
        if saved is None:
            RECORD.unlink(missing_ok=True)
        else:
            RECORD.write_text(saved)


@pytest.mark.parametrize("content, message", [
    ("registrar: 0x1234\n", "registrar: '0x1234' is not an address"),
    ("treasurer: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n", "unknown role 'treasurer'"),
    ("securities:\n  1:\n    auditor: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n",
     "unknown security role 'auditor'"),
    ("registrar: [0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n", "not valid YAML"),
])
def test_load_roles__bad_input__one_line(tmp_path, content, message):
    path = tmp_path / "roles.yaml"
    path.write_text(content)
    with pytest.raises(provision.SetupError) as err:
        provision.load_roles(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def _roles_text(securities: dict, suffix: str, tmp: Path) -> Path:
    data = {"governance": _addr(GOVERNANCE), "registrar": _addr(REGISTRAR), "court_agent": [_addr(COURT)],
            "securities": securities}
    path = tmp / f"roles{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        lines = [f"governance: {data['governance']}", f"registrar: {data['registrar']}",
                 f"court_agent: [{data['court_agent'][0]}]", "securities:"]
        for key, entry in securities.items():
            lines += [f"  {key}:"] + [f"    {k}: {v}" for k, v in entry.items()]
        path.write_text("\n".join(lines) + "\n")
    return path


def test_load_roles__yaml_and_json__same_result(tmp_path):
    secs = {"7": {"issuer_agent": _addr(ISSUER), "fund_manager": _addr(BOB)}}
    a = provision.load_roles(_roles_text(secs, ".yaml", tmp_path))
    b = provision.load_roles(_roles_text(secs, ".json", tmp_path))
    assert (a.governance, a.registrar, a.court_agent, a.securities) == \
        (b.governance, b.registrar, b.court_agent, b.securities)
    assert a.securities == {7: [(_addr(ISSUER), SecurityRole.ISSUER_AGENT), (_addr(BOB), SecurityRole.FUND_MANAGER)]}


def test_consortium_params__from_the_environment():
    assert suite.consortium_params({}) == {"time_unit_ms": False, "utc_offset_s": 28800}
    assert suite.consortium_params({"REGCHAIN_TIME_UNIT_MS": "1", "REGCHAIN_UTC_OFFSET_S": "0"}) == \
        {"time_unit_ms": True, "utc_offset_s": 0}
    with pytest.raises(ValueError, match="REGCHAIN_TIME_UNIT_MS"):
        suite.consortium_params({"REGCHAIN_TIME_UNIT_MS": "ms"})
    assert "REGCHAIN_RPC_URI" in provision.network_problem("consortium", {})
    assert provision.network_problem("consortium", {"REGCHAIN_RPC_URI": "http://x:8545"}) is None
    assert provision.network_problem("devnet", {}) is None
