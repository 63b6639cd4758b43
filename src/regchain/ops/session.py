"""One run of an operator command: its options, its writes and what it reports.

    session = Session(network, register_address, account, yes, as_json, custody, instruction)
    run(session, action)          # connect, action(register, signer), one line on refusal
    done(sent, "what was done")   # the result line of a write
    say(text); record(key, rows)  # result lines and structured rows (--json)

With a signer the register is wrapped in ``Confirming``: every write is described, checked with
eth_call through regchain.writer (a refusal gives the rule's reason before anything is sent),
confirmed (a prompt on a terminal, or --yes), signed here and sent; its events are printed decoded.
"""

from __future__ import annotations

import os
import sys

import click

from regchain import cli as common
from regchain import indexer


class Session:
    """The shared options of `ops` and what one run collects."""

    def __init__(self, network, register_address, account, yes=False, as_json=False, custody=None,
                 instruction=None):
        if custody is not None and not instruction:
            raise click.ClickException("--for needs --instruction: the holder's written instruction")
        self.network, self.register_address, self.account = network, register_address, account
        self.yes, self.as_json = yes, as_json
        self.custody, self.instruction = custody, instruction  # --for, --instruction
        self.lines: list[str] = []          # what `done` reports (--json: collected, printed at the end)
        self.transactions: list[dict] = []  # every transaction sent, with its decoded events
        self.data: dict = {}                # structured results of reads (--json)
        self._writers: dict = {}            # signer address -> regchain.writer.Writer

    def writer_of(self, account):
        """The writer of `account` on the connected network (made once, a killed run's
        transactions settled first); WriteError/ProfileError become one line."""
        from regchain.networks import ProfileError
        from regchain.writer import WriteError, writer_for

        key = str(getattr(account, "address", account))
        if key not in self._writers:
            try:
                writer = writer_for(account, again="run the command again")
                writer.settle()
            except (WriteError, ProfileError) as exc:
                raise click.ClickException(common.one_line(exc)) from None
            except OSError as exc:
                raise click.ClickException(f"the node stopped answering ({exc})") from None
            self._writers[key] = writer
        return self._writers[key]

    def close_writers(self):
        for writer in self._writers.values():
            writer.rpc.close()
        self._writers.clear()


def say(text: str) -> None:
    """A line of the command's result: printed, or kept for the --json document."""
    obj = click.get_current_context().find_object(Session)
    if obj is not None and obj.as_json:
        obj.lines.append(text)
    else:
        click.echo(text)


def record(key: str, value) -> None:
    """A structured result for the --json document (a read's rows)."""
    obj = click.get_current_context().find_object(Session)
    if obj is not None:
        obj.data[key] = value


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "address") and not isinstance(value, str):
        return str(value.address)
    return value if isinstance(value, (int, str, bool)) or value is None else str(value)


class Sent:
    """A transaction `ops` sent: its hash, block and decoded events."""

    def __init__(self, receipt: dict, events: list[dict]):
        self.txn_hash = receipt["transactionHash"]
        self.block_number = int(receipt["blockNumber"], 16)
        self.events = events


class Confirming:
    """The register as `ops` uses it to write: every transaction is first described (function
    and named arguments), checked (eth_call: a refusal gives the rule's reason before anything
    is sent), confirmed (a prompt on a terminal, or --yes), then signed here and sent through
    regchain.writer (legacy type-0 at the network profile's gas price, the gas limit of
    regchain.gaslimits, the nonce counted here); its events are printed decoded and kept for
    --json. Reads pass through unchanged."""

    def __init__(self, register, session: Session):
        self._register, self._session = register, session

    def __getattr__(self, name):
        from ape.contracts.base import ContractTransactionHandler

        attr = getattr(self._register, name)
        if not isinstance(attr, ContractTransactionHandler):
            return attr

        def send(*args, sender=None, **kw):
            session = self._session
            names = [i.name for i in attr.abis[0].inputs] if len(attr.abis) == 1 else [f"arg{i}" for i in range(len(args))]
            if session.custody is not None:
                # the operator signs for a custody holder: the holder's written instruction is the document
                if "doc" not in names:
                    raise click.ClickException(f"{name} records no document: for a custody holder use a command "
                                               "that does (a transfer: `instruction propose`)")
                args = tuple(common.doc_ref(session.instruction) if n == "doc" else a for n, a in zip(names, args))
            described = ", ".join(f"{n}={_plain(v)}" for n, v in zip(names, args))
            click.echo(f"will send {name}({described})", err=session.as_json)
            writer = session.writer_of(sender)
            to, data = str(self._register.address), _suite_abi()[name].encode(args)
            _writing(name, writer.check, to, data)
            if not session.yes:
                if not sys.stdin.isatty():
                    raise click.ClickException("not sent: confirm with --yes (no terminal to ask on)")
                click.confirm("send it?", abort=True, err=session.as_json)
            receipt = _transact(writer, to, data, name)
            events = [{"event": ev.name, **{k: _plain(v) for k, v in ev.args.items()}}
                      for ev in _events_of(receipt, to)]
            sent = Sent(receipt, events)
            session.transactions.append({"function": name, "tx": sent.txn_hash, "block": sent.block_number,
                                         "events": events})
            if not session.as_json:
                for e in events:
                    click.echo("  " + e["event"] + " " + ", ".join(f"{k}={v}" for k, v in e.items() if k != "event"))
            return sent
        return send


_SUITE = {}


def _suite_abi():
    if "abi" not in _SUITE:
        from regchain.abi import SuiteAbi

        _SUITE["abi"] = SuiteAbi.from_suite()
    return _SUITE["abi"]


def _events_of(receipt: dict, register_address: str) -> list:
    """The register's events in a receipt, decoded as the indexer decodes them."""
    if "decoder" not in _SUITE:
        _SUITE["decoder"] = indexer.Decoder(indexer.abi_of_suite())
    return [ev for ev in (_SUITE["decoder"].decode(log) for log in receipt.get("logs") or []
                          if str(log.get("address", "")).lower() == register_address.lower()) if ev is not None]


def _writing(fn: str, call, *args):
    """call(*args) on the writer; a refusal (eth_call or on chain), or a refusal of the node, becomes one line."""
    from regchain.rpc import RpcError
    from regchain.writer import WriteError

    try:
        return call(*args)
    except WriteError as exc:
        raise click.ClickException(f"refused: {exc}") from None
    except RpcError as exc:
        raise click.ClickException(f"{fn}: the node refused a request: {common.one_line(exc)}") from None
    except OSError as exc:
        raise click.ClickException(f"{fn}: the node stopped answering ({exc})") from None


def _transact(writer, to: str, data: bytes, fn: str) -> dict:
    """One transaction through the writer, at the gas limit of regchain.gaslimits."""
    from regchain.gaslimits import gas_limit

    return _writing(fn, writer.transact, to, data, gas_limit(fn), fn)


def run(session: Session, action, needs_signer: bool = True):
    """Connect, call action(register, signer); a revert becomes one line and exit 1. With a
    signer the register is wrapped in Confirming; with --json the result is one JSON document."""
    try:
        who = None
        if needs_signer:  # resolved (and a keystore unlocked) before connecting
            if session.custody:
                who = common.custody_signer(session.custody)
            elif session.account is None:
                raise click.ClickException("pass --account (keystore alias, test:N or a key file)")
            else:
                who = common.account_for(session.account, common.network_name_of(session.network))
        with common.connected(session.network):
            reg = common.register(session.register_address)
            try:
                result = action(Confirming(reg, session) if needs_signer else reg, who)
            finally:
                session.close_writers()
    except click.exceptions.Abort:
        raise click.ClickException("not sent: not confirmed") from None
    except click.ClickException:
        raise
    except Exception as exc:
        if os.environ.get("REGCHAIN_DEBUG"):
            raise
        raise click.ClickException(f"refused: {common.one_line(exc)}"
                                   if getattr(exc, "revert_message", None) else common.one_line(exc)) from None
    if session.as_json:
        common.emit_json({"ok": True, "result": session.lines, "transactions": session.transactions,
                          **session.data})
    return result


def done(sent, what: str):
    say(f"{what} (tx {sent.txn_hash}, block {sent.block_number})")


def docref(text, default):
    """The document reference of a write: --doc (text hashed, or a 0x hash), else `default` hashed."""
    return common.doc_ref(text if text is not None else default)


def books(books_path, **required):
    """The operator's books, if --books is given (then every named option is required)."""
    if books_path is None:
        return None
    missing = [f"--{k.replace('_', '-')}" for k, v in required.items() if not v]
    if missing:
        raise click.ClickException(f"--books needs {', '.join(missing)}")
    from regchain.supervise.books import Books

    return Books(books_path)
