"""Deploy with a roles file and run a short scenario on anvils started like the consortium
targets: FISCO BCOS (chain id 20200, block.timestamp in milliseconds, set with
evm_setNextBlockTimestamp before each transaction) and Besu QBFT (london, gas price 0).

`ape run deploy` runs as a separate process against the `fiscosim` / `besusim` networks of
ape-config.yaml; the scenario talks JSON-RPC to the node directly (web3, anvil's unlocked
accounts, type-0 transactions at gas price 0), so it controls every block's timestamp."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from eth_utils import keccak
from web3 import Web3

from regchain import calendar as cal
from regchain import migrate, setup, suite
from regchain.constants import InvestorClass, Kind, Role, SecurityRole

ROOT = Path(__file__).resolve().parents[1]
# anvil's default mnemonic: the same accounts as ape's test accounts
DEPLOYER, GOVERNANCE, REGISTRAR, COURT, ISSUER, ALICE, BOB = range(7)
UTC8 = 8 * 3600

TARGETS = {
    # network: (port, chain id, time unit)
    "fiscosim": (8557, 20200, 1000),
    "besusim": (8559, 1337, 1),
}


def _addr(i: int) -> str:
    from ape import accounts

    return accounts.test_accounts[i].address


class Node:
    def __init__(self, network: str):
        self.network = network
        self.port, self.chain_id, self.unit = TARGETS[network]
        self.url = f"http://127.0.0.1:{self.port}"
        self.record = ROOT / "deployments" / f"{network}.json"
        self.proc = None
        self.now = None  # the chain clock, in the chain's unit

    def rpc(self, method, params=()):
        reply = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                              "params": list(params)}, timeout=10).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def start(self):
        self.record.unlink(missing_ok=True)
        self.now = int(time.time()) * self.unit
        cmd = ["anvil", "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(self.chain_id),
               "--hardfork", "london", "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee"]
        if self.unit != 1:  # FISCO BCOS: genesis and every block in milliseconds
            cmd += ["--timestamp", str(self.now)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.rpc("eth_chainId")
                return self
            except (requests.RequestException, RuntimeError):
                time.sleep(0.05)
        raise RuntimeError(f"anvil on {self.port} did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        self.record.unlink(missing_ok=True)

    def set_clock(self, t: int):
        """The next block (and the calls after it) at chain time ``t``: mine one block at t."""
        latest = int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        assert t > latest, "the clock only moves forward"
        self.rpc("evm_mine", [t])
        self.now = t

    def next_tx_time(self):
        """Before each transaction: its block's timestamp, one unit after the last block."""
        latest = int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        self.now = max(self.now, latest) + 1
        self.rpc("evm_setNextBlockTimestamp", [self.now])

    def at_local_noon(self, day: int) -> int:
        return ((day * 86400 + 12 * 3600) - UTC8) * self.unit


def ape_run(*args, env=None, check=True):
    done = subprocess.run(["ape", "run", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


class Chain:
    """The register over plain JSON-RPC (web3): type-0 transactions at gas price 0 from
    anvil's unlocked accounts, each in a block whose timestamp the test sets first."""

    def __init__(self, node: Node, register: str):
        self.node = node
        self.w3 = Web3(Web3.HTTPProvider(node.url))
        abi = suite.suite_contract_type().model_dump(mode="json", by_alias=True)["abi"]
        self.reg = self.w3.eth.contract(address=register, abi=abi)

    def call(self, fn, *args, sender=None):
        return getattr(self.reg.functions, fn)(*args).call({"from": sender} if sender else {})

    def send(self, fn, *args, sender):
        self.node.next_tx_time()
        tx_hash = getattr(self.reg.functions, fn)(*args).transact(
            {"from": sender, "gasPrice": 0, "gas": 5_000_000})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        block = self.w3.eth.get_block(receipt.blockNumber)
        assert block.timestamp == self.node.now
        tx = self.w3.eth.get_transaction(tx_hash)
        assert tx["type"] == 0 and tx["gasPrice"] == 0
        return receipt


def _roles_file(tmp: Path, securities: dict | None = None, suffix=".yaml") -> Path:
    data = {"governance": _addr(GOVERNANCE), "registrar": _addr(REGISTRAR), "court_agent": [_addr(COURT)]}
    if securities:
        data["securities"] = securities
    path = tmp / f"roles{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        lines = [f"governance: {data['governance']}", f"registrar: {data['registrar']}",
                 f"court_agent: [{data['court_agent'][0]}]"]
        for key, entry in (securities or {}).items():
            lines += ["securities:" if len(lines) == 3 else "", f"  {key}:"]
            lines += [f"    {k}: {v}" for k, v in entry.items()]
        path.write_text("\n".join(ln for ln in lines if ln) + "\n")
    return path


@pytest.fixture(scope="module", params=sorted(TARGETS))
def node(request):
    n = Node(request.param).start()
    yield n
    n.stop()


def test_deploy_with_roles__then_scenario(node, tmp_path):
    net = f"ethereum:{node.network}:node"
    roles = _roles_file(tmp_path)
    first = ape_run("deploy", "--network", net, "--roles", str(roles))
    out = first.stdout
    assert "deployed Register" in out
    assert f"registrar {_addr(REGISTRAR)}: granted REGISTRAR" in out
    assert f"court agent {_addr(COURT)}: granted COURT_AGENT" in out
    assert f"governance: {_addr(GOVERNANCE)} accepted" in out

    record = json.loads(node.record.read_text())
    assert record["chain_id"] == node.chain_id
    assert record["time_unit_ms"] is (node.unit == 1000)
    assert record["utc_offset_s"] == UTC8
    for entry in record["contracts"].values():
        assert entry["evm_version"] == "london" and entry["vyper_version"].startswith("0.4.3")
    chain = Chain(node, record["register"])
    assert chain.call("TIME_UNIT") == node.unit
    assert chain.call("governance") == _addr(GOVERNANCE)
    assert Role(chain.call("roles_of", _addr(REGISTRAR))) == Role.REGISTRAR
    assert Role(chain.call("roles_of", _addr(COURT))) == Role.COURT_AGENT
    assert Role(chain.call("roles_of", _addr(DEPLOYER))) == 0  # the deployer keeps nothing

    # the clock: today() and day_of() agree with the market-local date of the block time
    registrar, alice, bob = _addr(REGISTRAR), _addr(ALICE), _addr(BOB)
    start_day = cal.day_number(dt.datetime.fromtimestamp(time.time() + UTC8, dt.timezone.utc).date())
    # the next Monday (the clock only moves forward) keeps the trading-day arithmetic simple
    monday = start_day + 7 - (start_day + 3) % 7
    assert cal.date_of(monday).weekday() == 0
    node.set_clock(node.at_local_noon(monday))
    assert chain.call("today") == monday
    assert chain.call("day_of", node.now) == monday
    assert chain.call("day_of", node.at_local_noon(monday) + (12 * 3600 - 1) * node.unit) == monday
    assert chain.call("day_of", node.at_local_noon(monday) + 12 * 3600 * node.unit) == monday + 1

    # calendar (weekdays), accounts, a JSC registered and sealed with holdings acquired today
    first_day, last_day = monday - 30, monday + 60
    chain.send("publish_calendar", first_day, last_day, cal.weekdays(first_day, last_day),
               keccak(text="calendar"), sender=registrar)
    for who in (alice, bob):
        chain.send("open_account", who, keccak(text=f"id:{who}"), int(InvestorClass.INDIVIDUAL), True,
                   keccak(text="open"), sender=registrar)
    code = migrate.code_hash_of(f"SIM-{node.network}")  # the code hash `ape run ops` and the migration use
    chain.send("register_security", code, int(Kind.JSC), 0, 1000, keccak(text="reg"), sender=registrar)
    sid = chain.call("security_id", code)
    chain.send("register_holdings", sid, [(alice, 1000, 1000, monday, 0, False)], keccak(text="h"),
               sender=registrar)
    chain.send("seal_security", sid, keccak(text="seal"), sender=registrar)
    assert chain.call("balanceOf", alice, sid) == 1000

    # holding period: 5 trading days after Monday's acquisition is the next Monday;
    # on Sunday (4 trading days: Tue..Fri) the transfer is refused with the reason
    sunday = monday + 6
    node.set_clock(node.at_local_noon(sunday))
    assert chain.call("today") == sunday
    assert (chain.call("trading_day_number_of_day", sunday)
            - chain.call("trading_day_number_of_day", monday)) == 4
    assert chain.call("can_transfer", alice, bob, sid, 100) == [False, "ledger: holding period not met"]
    refused = ape_run("ops", "--network", net, "--account", f"test:{ALICE}", "transfer", bob, str(sid), "100",
                      check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Error: refused: ledger: holding period not met" in (refused.stderr + refused.stdout).splitlines()
    with pytest.raises(Exception, match="ledger: holding period not met"):
        chain.call("transfer", bob, sid, 100, sender=alice)
    assert chain.send("transfer", bob, sid, 100, sender=alice).status == 0  # mined, reverted
    assert chain.call("balanceOf", bob, sid) == 0

    node.set_clock(node.at_local_noon(monday + 7))
    assert chain.call("can_transfer", alice, bob, sid, 100) == [True, ""]
    receipt = chain.send("transfer", bob, sid, 100, sender=alice)
    assert receipt.status == 1
    assert chain.call("balanceOf", bob, sid) == 100 and chain.call("balanceOf", alice, sid) == 900

    # re-run with per-security roles (by the code ops registered): grants only what is missing
    roles2 = _roles_file(tmp_path, {f"SIM-{node.network}": {"issuer_agent": _addr(ISSUER)}}, ".json")
    again = ape_run("deploy", "--network", net, "--roles", str(roles2))
    assert "deployed" not in again.stdout
    assert "granted" not in again.stdout.replace("granted ISSUER_AGENT", "")
    assert f"security {sid}: {_addr(ISSUER)} granted ISSUER_AGENT" in again.stdout
    assert SecurityRole(chain.call("security_roles", sid, _addr(ISSUER))) == SecurityRole.ISSUER_AGENT


def test_deploy__record_of_another_chain_id__refused(node):
    if node.network != "besusim":
        pytest.skip("one target is enough (a subprocess costs seconds)")
    saved = node.record.read_text() if node.record.exists() else None
    node.record.write_text(json.dumps({"network": node.network, "chain_id": 999, "contracts": {}}))
    try:
        done = ape_run("deploy", "--network", f"ethereum:{node.network}:node", check=False)
        assert done.returncode != 0
        line = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1]
        assert line.startswith("Error: ")
        assert "recorded on chain id 999" in line and f"reports chain id {node.chain_id}" in line
        assert "refusing" in line
    finally:
        if saved is None:
            node.record.unlink(missing_ok=True)
        else:
            node.record.write_text(saved)


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
    with pytest.raises(setup.SetupError) as err:
        setup.load_roles(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_load_roles__yaml_and_json__same_result(tmp_path):
    a = setup.load_roles(_roles_file(tmp_path, {"7": {"issuer_agent": _addr(ISSUER),
                                                      "fund_manager": _addr(BOB)}}))
    b = setup.load_roles(_roles_file(tmp_path, {"7": {"issuer_agent": _addr(ISSUER),
                                                      "fund_manager": _addr(BOB)}}, ".json"))
    assert (a.governance, a.registrar, a.court_agent, a.securities) == \
        (b.governance, b.registrar, b.court_agent, b.securities)
    assert a.securities == {7: [(_addr(ISSUER), SecurityRole.ISSUER_AGENT), (_addr(BOB), SecurityRole.FUND_MANAGER)]}


def test_consortium_params__from_the_environment():
    assert suite.consortium_params({}) == {"time_unit_ms": False, "utc_offset_s": 28800}
    assert suite.consortium_params({"REGCHAIN_TIME_UNIT_MS": "1", "REGCHAIN_UTC_OFFSET_S": "0"}) == \
        {"time_unit_ms": True, "utc_offset_s": 0}
    with pytest.raises(ValueError, match="REGCHAIN_TIME_UNIT_MS"):
        suite.consortium_params({"REGCHAIN_TIME_UNIT_MS": "ms"})
    assert "REGCHAIN_RPC_URI" in setup.network_problem("consortium", {})
    assert setup.network_problem("consortium", {"REGCHAIN_RPC_URI": "http://x:8545"}) is None
    assert setup.network_problem("devnet", {}) is None
