"""The register's other business actions as commands made from the suite's ABI.

Each command is one function of the register, named as the business names it (the table is
`BUSINESS` in scripts/ops.py, with its help texts). Its arguments are the function's own (read
from the suite's ABI when `ops` loads, so a function that gains a parameter gains it here too),
converted by what they are:

    id                      -> SECURITY: a code or #id
    units, paid, fund_minimum (and amount where there is a security) -> a decimal in the security's unit
    price, reserve, amount of a bid -> an integer amount of the cash token's smallest unit
    *_day                   -> a date YYYY-MM-DD (or a day number)
    bool                    -> yes/no
    role (security roles)   -> ISSUER_AGENT,FUND_MANAGER
    ids (uint256[])         -> securities separated by commas
    batch (a list of tuples)-> a CSV file whose header names the tuple's fields
    case_hash               -> --case: the case number, hashed as migrated
    doc                     -> --doc: the business document (text hashed, or a 0x hash)
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

from regchain import cli as common
from regchain.constants import SecurityRole
from regchain.ops.session import Session, docref, done, run

SECURITY_UNITS = {"units", "paid", "fund_minimum"}
RECORD_OF = {"pledge_id": "pledge_of", "freeze_id": "freeze_of", "instruction_id": "instruction_of",
             "listing_id": "listing_of"}


def install(cli: click.Group, table, group_helps: dict[str, str]) -> None:
    """Add a command for each (group, name, function, help) of `table` whose function this build
    of the register has, making the groups `cli` does not have yet (help from group_helps)."""
    from regchain.suite import suite_contract_type

    methods = {m.name: m for m in suite_contract_type().mutable_methods}
    groups = {g.name: g for g in cli.commands.values() if isinstance(g, click.Group)}
    for group_name, name, fn, help_text in table:
        if fn not in methods:
            continue  # not in this build of the register
        group = groups.get(group_name)
        if group is None:
            group = groups[group_name] = click.Group(group_name, help=group_helps.get(group_name))
            cli.add_command(group)
        group.add_command(command(group.name, name, fn, help_text, methods[fn]))


def arg_kind(fn: str, inp, has_security: bool) -> str:
    """What an ABI input is to the operator (see the module docstring)."""
    t, n = inp.type, inp.name
    if n == "doc" and t == "bytes32":
        return "doc"
    if n == "case_hash":
        return "case"
    if t == "bytes32":  # another document than the step's own (a resolution waiving pre-emption)
        return "document"
    if t.startswith("tuple"):
        return "batch"
    if t == "uint256[]" and n == "ids":
        return "securities"
    if t == "address":
        return "address"
    if t == "bool":
        return "bool"
    if n == "id":
        return "security"
    if n.endswith("_day"):
        return "day"
    if n == "role":
        return "security_role"
    if n in SECURITY_UNITS or (n == "amount" and has_security):
        return "units"
    return "int"


def command(group_name: str, name: str, fn: str, help_text: str, abi) -> click.Command:
    """The command `group_name name` calling the register's function `fn` (its ABI `abi`)."""
    has_security = any(i.name in ("id", *RECORD_OF) for i in abi.inputs) and fn != "bid"
    kinds = [(i, arg_kind(fn, i, has_security)) for i in abi.inputs]
    params = []
    for inp, kind in kinds:
        if kind == "doc":
            params.append(click.Option(["--doc", "doc_text"], default=None,
                                       help="Business document: text (hashed) or a 0x hash."))
        elif kind == "case":
            params.append(click.Option(["--case", "case_no"], required=True, help="Case number (hashed as migrated)."))
        else:
            params.append(click.Argument([inp.name], type=click.BOOL if kind == "bool" else str,
                                         metavar="SECURITY" if kind == "security" else None))

    def callback(**kw):
        session = click.get_current_context().find_object(Session)
        early = {}
        for inp, kind in kinds:  # what can be checked before connecting
            v = kw.get(inp.name)
            if kind == "address":
                early[inp.name] = common.address_arg(v)
            elif kind == "day":
                early[inp.name] = 0 if str(v) == "0" else common.day_arg(v)
            elif kind == "case":
                early[inp.name] = common.case_hash(kw["case_no"])
            elif kind == "security_role":
                try:
                    early[inp.name] = int(sum({SecurityRole[r.strip().upper()] for r in v.replace("|", ",").split(",")}))
                except KeyError:
                    raise click.ClickException(f"unknown security role {v!r}; one of "
                                               f"{', '.join(r.name for r in SecurityRole)}") from None
            elif kind == "document":
                early[inp.name] = common.doc_ref(v)
            elif kind == "int":
                if not str(v).isdigit():
                    raise click.ClickException(f"{inp.name}: {v!r} is not a whole number")
                early[inp.name] = int(v)
            elif kind == "batch":
                common.file_arg(v, inp.name)
            elif kind == "security":
                common.security_text(v)
            elif kind == "securities":
                for one in str(v).split(","):
                    if one.strip():
                        common.security_text(one)
            elif kind == "units":
                common.amount_text(v, inp.name)

        def action(reg, who):
            sid = None
            args = []
            for inp, kind in kinds:
                v = kw.get(inp.name)
                if kind == "security":
                    sid = common.security_arg(reg, v)
                    args.append(sid)
                elif kind == "securities":
                    args.append([common.security_arg(reg, s) for s in v.split(",") if s.strip()])
                elif kind == "doc":
                    args.append(docref(kw["doc_text"], f"{fn} " + " ".join(str(kw.get(i.name)) for i, _ in kinds
                                                                         if i.name in kw and i.name != "doc")))
                elif kind in ("units", "batch"):
                    if sid is None:
                        rec = next((r for r in RECORD_OF if r in kw), None)
                        sid = int(getattr(reg, RECORD_OF[rec])(int(kw[rec])).id) if rec else None
                    scale = int(reg.security(sid).unit_scale) if sid else 0
                    if kind == "units":
                        args.append(common.amount_arg(v, scale, inp.name))
                    else:
                        args.append(batch_rows(Path(v), inp, scale))
                elif kind == "bool":
                    args.append(bool(v))
                elif kind in ("case", "document"):
                    args.append(early[inp.name])
                elif inp.name in RECORD_OF and not str(v).isdigit():
                    raise click.ClickException(f"{inp.name}: {v!r} is not a number")
                else:
                    args.append(early.get(inp.name, int(v) if str(v).isdigit() else v))
            done(getattr(reg, fn)(*args, sender=who), f"{group_name} {name}: done")
        run(session, action)

    described = " ".join(("SECURITY" if k == "security" else i.name.upper()) if k not in ("doc", "case")
                         else f"--{k}" for i, k in kinds)
    return click.Command(name, params=params, callback=callback,
                         help=f"{help_text}\n\nCalls {fn}: {described}.", short_help=help_text[:70])


def batch_rows(path: Path, inp, scale: int) -> list[tuple]:
    """The rows of a CSV whose header names the tuple's fields, converted like the arguments."""
    fields = inp.components
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            item = []
            for c in fields:
                text = (row.get(c.name) or "").strip()
                if not text:
                    raise click.ClickException(f"{path}:{n}: no {c.name}")
                if c.type == "address":
                    item.append(common.address_arg(text))
                elif c.name in SECURITY_UNITS:
                    item.append(common.amount_arg(text, scale, f"{path}:{n}: {c.name}"))
                elif c.type == "bool":
                    item.append(text.lower() in ("1", "true", "yes", "y"))
                elif c.name.endswith("_day"):
                    item.append(common.day_arg(text))
                else:
                    item.append(int(text))
            rows.append(tuple(item))
    return rows
